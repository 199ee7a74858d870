import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import StratusCore
import Synchronization

/// Keystone credentials of the service user an agent acts as: Nova's keystoneauth option names, read from
/// `[service_user]`. An empty `authURL` is given by the client's `authURL` closure instead (the all-in-one learns
/// its own port only once its listener is bound).
public struct ServiceCredentials: Sendable, Equatable {
    public var authURL: String
    public var username: String
    public var password: String
    public var projectName: String
    public var userDomainName: String
    public var projectDomainName: String
    /// A CA bundle to verify the API's TLS certificate with (`cafile`); the system's when empty.
    public var caFile: String

    public init(authURL: String, username: String, password: String, projectName: String = "service",
                userDomainName: String = "Default", projectDomainName: String = "Default", caFile: String = "") {
        self.authURL = authURL
        self.username = username
        self.password = password
        self.projectName = projectName
        self.userDomainName = userDomainName
        self.projectDomainName = projectDomainName
        self.caFile = caFile
    }
}

/// A control-plane call that failed, with what the server said.
public struct ControlPlaneError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { status == 0 ? message : "HTTP \(status): \(message)" }
}

/// The agent's HTTP(S) connection to the control plane: a service-user token from Keystone, refreshed when it
/// nears expiry or is refused, and JSON requests against the endpoints the catalog names.
public final class ControlPlaneClient: Sendable {
    public let credentials: ServiceCredentials
    let http: HTTPClient
    let logger: Logger
    let resolveAuthURL: @Sendable () async throws -> String
    private struct Session: Sendable {
        var token: String
        var expires: Double
        var endpoints: [String: String]
    }
    private let session = Mutex<Session?>(nil)

    public init(credentials: ServiceCredentials, logger: Logger,
                authURL: (@Sendable () async throws -> String)? = nil) {
        self.credentials = credentials
        self.logger = logger
        let configured = credentials.authURL
        self.resolveAuthURL = authURL ?? { configured }
        var configuration = HTTPClient.Configuration()
        if !credentials.caFile.isEmpty {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(credentials.caFile)
            configuration.tlsConfiguration = tls
        }
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(90))
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections; call once, when the agent stops.
    public func shutdown() async {
        do { try await http.shutdown() } catch { logger.debug("closing the control-plane client: \(error)") }
    }

    /// The agent API's pseudo-service: beside the compute API, at `/compute/agent/v1` (not in the catalog).
    public static let agentService = "compute-agent"

    /// The URL of `service` (catalog type: compute, image, placement) plus `path`.
    public func url(_ service: String, _ path: String) async throws -> String {
        let current = try await currentSession()
        if service == Self.agentService, var compute = current.endpoints["compute"] {
            if let version = compute.range(of: "/v2", options: .backwards) { compute = String(compute[..<version.lowerBound]) }
            return compute + "/agent/v1" + path
        }
        guard let base = current.endpoints[service] else {
            throw ControlPlaneError(status: 0, message: "the catalog at \(credentials.authURL) has no \(service) endpoint")
        }
        return base + path
    }

    /// Sends `body` as JSON and returns the status and the decoded JSON reply (`.null` when empty). A 401 gets
    /// one fresh token and a retry.
    public func request(_ method: HTTPMethod, _ service: String, _ path: String, body: JSON? = nil,
                        headers: [(String, String)] = [], timeout: Duration = .seconds(30),
                        requestID: String? = nil) async throws -> (status: Int, json: JSON) {
        let response = try await authorized(method, service, path, timeout: timeout) { request in
            request.headers.add(name: "Accept", value: "application/json")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let requestID { request.headers.add(name: "X-OpenStack-Request-Id", value: requestID) }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body.encodedString()))
            }
        }
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        let json = text.isEmpty ? JSON.null : ((try? JSON.parse(text)) ?? .string(text))
        return (Int(response.status.code), json)
    }

    /// Sends a request with the session's token; a 401 gets one fresh token and a retry (a token revoked or
    /// expired early), a second 401 is an error.
    private func authorized(_ method: HTTPMethod, _ service: String, _ path: String, timeout: Duration,
                            prepare: (inout HTTPClientRequest) -> Void) async throws -> HTTPClientResponse {
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: try await url(service, path))
            request.method = method
            request.headers.add(name: "X-Auth-Token", value: try await currentSession().token)
            prepare(&request)
            let response = try await http.execute(request, timeout: .init(timeout))
            guard response.status == .unauthorized, attempt == 0 else { return response }
            _ = try await response.body.collect(upTo: 1 << 20)
            session.withLock { $0 = nil }
        }
        throw ControlPlaneError(status: 401, message: "the control plane refused a fresh token")
    }

    /// Streams a GET's body to `path` (a new file); returns the byte count.
    public func download(_ service: String, _ urlPath: String, to path: String, timeout: Duration = .seconds(3600)) async throws -> Int {
        let response = try await authorized(.GET, service, urlPath, timeout: timeout) { _ in }
        guard response.status == .ok else {
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            throw ControlPlaneError(status: Int(response.status.code), message: text)
        }
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw ControlPlaneError(status: 0, message: "cannot create \(path)")
        }
        defer { try? file.close() }
        var written = 0
        for try await chunk in response.body {
            try file.write(contentsOf: Data(buffer: chunk))
            written += chunk.readableBytes
        }
        return written
    }

    /// Streams the file at `path` as a PUT's body (`application/octet-stream`), 1 MiB at a time.
    public func upload(_ service: String, _ urlPath: String, from path: String, timeout: Duration = .seconds(3600)) async throws {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw ControlPlaneError(status: 0, message: "cannot read \(path)")
        }
        let response = try await authorized(.PUT, service, urlPath, timeout: timeout) { request in
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            let chunks = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                guard let file = FileHandle(forReadingAtPath: path) else {
                    continuation.finish(throwing: ControlPlaneError(status: 0, message: "cannot open \(path)"))
                    return
                }
                do {
                    while let data = try file.read(upToCount: 1 << 20), !data.isEmpty { continuation.yield(ByteBuffer(data: data)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
                try? file.close()  // read-only: nothing is lost if closing fails
            }
            request.body = .stream(chunks, length: .known(Int64(size)))
        }
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard (200..<300).contains(Int(response.status.code)) else {
            throw ControlPlaneError(status: Int(response.status.code), message: text)
        }
    }

    private func currentSession() async throws -> Session {
        if let current = session.withLock({ $0 }), current.expires - Clock.now() > 60 { return current }
        let fresh = try await authenticate()
        session.withLock { $0 = fresh }
        return fresh
    }

    /// Keystone's password authentication, scoped to the service project.
    private func authenticate() async throws -> Session {
        let body: JSON = ["auth": [
            "identity": ["methods": ["password"], "password": ["user": [
                "name": .string(credentials.username), "password": .string(credentials.password),
                "domain": ["name": .string(credentials.userDomainName)],
            ]]],
            "scope": ["project": ["name": .string(credentials.projectName), "domain": ["name": .string(credentials.projectDomainName)]]],
        ]]
        var base = try await resolveAuthURL()
        while base.hasSuffix("/") { base.removeLast() }
        if !base.hasSuffix("/v3") { base += "/v3" }
        var request = HTTPClientRequest(url: base + "/auth/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.encodedString()))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw ControlPlaneError(status: 0, message: "cannot reach identity at \(base): \(error)")
        }
        let text = String(buffer: try await response.body.collect(upTo: 4 << 20))
        guard response.status == .created, let token = response.headers.first(name: "X-Subject-Token") else {
            throw ControlPlaneError(status: Int(response.status.code), message: "authentication as \(credentials.username) failed: \(text)")
        }
        let json = (try? JSON.parse(text)) ?? .null
        var endpoints: [String: String] = [:]
        for service in json["token"]?["catalog"]?.arrayValue ?? [] {
            guard let type = service["type"]?.stringValue else { continue }
            let chosen = (service["endpoints"]?.arrayValue ?? []).first { $0["interface"]?.stringValue == "public" }
            if var url = chosen?["url"]?.stringValue {
                while url.hasSuffix("/") { url.removeLast() }
                endpoints[type] = url
            }
        }
        let expires = json["token"]?["expires_at"]?.stringValue.flatMap(Self.parseTime) ?? Clock.now() + 3600
        return Session(token: token, expires: expires, endpoints: endpoints)
    }

    static func parseTime(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }
}
