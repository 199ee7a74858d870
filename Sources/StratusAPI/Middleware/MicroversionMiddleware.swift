import Foundation
import HTTPTypes
import Hummingbird
import StratusCore

/// A microversion such as `1.39` or `2.96`.
public struct Microversion: Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0,
              !parts[1].hasPrefix("+") && !parts[1].hasPrefix("-") else { return nil }
        self.init(major, minor)
    }

    public static func < (lhs: Microversion, rhs: Microversion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "\(major).\(minor)" }

    /// Whether this request's version is at least `major.minor`.
    public func atLeast(_ major: Int, _ minor: Int) -> Bool { self >= Microversion(major, minor) }
}

/// Negotiates `OpenStack-API-Version: SERVICE X.Y` for one service's path prefix: `latest` means the maximum,
/// no header means the minimum, a malformed value is 400 and one outside the range 406. The chosen version goes
/// on the context and back in the response, with `Vary`.
public struct MicroversionMiddleware: RouterMiddleware {
    public typealias Context = StratusRequestContext
    static let header = HTTPField.Name("OpenStack-API-Version")!
    static let vary = HTTPField.Name("Vary")!

    let service: String
    let pathPrefix: String
    let minimum: Microversion
    let maximum: Microversion
    /// A service's pre-standard header, such as Nova's `X-OpenStack-Nova-API-Version`.
    let legacyHeader: HTTPField.Name?
    /// Paths under the prefix that are version documents and take no version (Nova's `/compute`).
    let unversioned: Set<String>

    public init(service: String, pathPrefix: String, minimum: Microversion, maximum: Microversion,
                legacyHeader: String? = nil, unversioned: Set<String> = []) {
        self.service = service
        self.pathPrefix = pathPrefix
        self.minimum = minimum
        self.maximum = maximum
        self.legacyHeader = legacyHeader.flatMap { HTTPField.Name($0) }
        self.unversioned = unversioned
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.uri.path.hasPrefix(pathPrefix), !unversioned.contains(request.uri.path) else {
            return try await next(request, context)
        }
        var context = context
        var legacy: String?
        if let legacyHeader { legacy = request.headers[legacyHeader] }
        let version = try negotiate(request.headers[values: Self.header], legacy: legacy)
        context.microversion = version
        var response = try await next(request, context)
        response.headers[Self.header] = "\(service) \(version)"
        if let legacyHeader {
            response.headers[legacyHeader] = version.description
            response.headers[Self.vary] = "OpenStack-API-Version, \(legacyHeader.canonicalName)"
        } else {
            response.headers[Self.vary] = "openstack-api-version"
        }
        return response
    }

    func negotiate(_ values: [String], legacy: String? = nil) throws -> Microversion {
        var requested: String? = legacy?.trimmingCharacters(in: .whitespaces)
        for value in values {
            for item in value.split(separator: ",") {
                let words = item.split(separator: " ", omittingEmptySubsequences: true)
                if words.count == 2, words[0].lowercased() == service { requested = String(words[1]) }
            }
        }
        guard let requested else { return minimum }
        if requested == "latest" { return maximum }
        guard let version = Microversion(parsing: requested) else {
            throw StratusError(PlacementCodes.badRequest, "invalid version string: \(requested)")
        }
        guard version >= minimum && version <= maximum else {
            throw StratusError(
                StratusError.Code(status: 406, faultName: "computeFault", title: "Not Acceptable"),
                "Version \(requested) is not supported by the API. Minimum is \(minimum) and maximum is \(maximum).")
        }
        return version
    }
}

enum PlacementCodes {
    static let badRequest = StratusError.Code(status: 400, faultName: "placement.undefined_code", title: "Bad Request")
}
