import Foundation
import HTTPTypes
import Hummingbird
import StratusCore

/// Turns every error into the fault JSON of the service the path belongs to: Keystone's `{"error": …}`,
/// Placement's `{"errors": […]}`, or Nova's `{"itemNotFound": {"code": 404, …}}`.
public struct FaultMiddleware: RouterMiddleware {
    public typealias Context = StratusRequestContext
    /// Where 401 responses send clients (`WWW-Authenticate: Keystone uri="…"`).
    /// A closure because the URL is known only once the listener is bound.
    let identityURL: @Sendable () -> String

    public init(identityURL: @escaping @Sendable () -> String) { self.identityURL = identityURL }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            var response = Self.render(error, path: request.uri.path, context: context)
            if response.status == .unauthorized {
                response.headers[.wwwAuthenticate] = "Keystone uri=\"\(identityURL())\""
            }
            return response
        }
    }

    /// Maps any error onto a `StratusError`; unknown errors become a 500 whose details go to the log only.
    static func stratusError(_ error: any Error, context: Context) -> StratusError {
        if let error = error as? StratusError { return error }
        if let error = error as? HTTPError {
            switch error.status.code {
            case 404: return .notFound("The resource could not be found.")
            case 405: return .init(.methodNotAllowed, "The method is not allowed for the requested URL.")
            case 413: return .init(.requestEntityTooLarge, "Request is too large.")
            case 400..<500:
                return .init(
                    .init(status: Int(error.status.code), faultName: "badRequest", title: error.status.reasonPhrase),
                    error.body ?? error.status.reasonPhrase)
            default: break
            }
        }
        context.logger.error("unexpected error: \(String(reflecting: error))")
        return .init(.internalError, "An unexpected error occurred; see the log for request \(context.requestID).")
    }

    static func render(_ error: any Error, path: String, context: Context) -> Response {
        let fault = stratusError(error, context: context)
        return JSONResponse.make(status: HTTPResponse.Status(code: fault.code.status),
                                 faultBody(fault, path: path, requestID: context.requestID))
    }

    /// The fault JSON of the service `path` belongs to.
    static func faultBody(_ fault: StratusError, path: String, requestID: String) -> JSON {
        if path.hasPrefix("/identity") {
            return ["error": ["code": .int(fault.code.status), "title": .string(fault.code.title),
                              "message": .string(fault.message)]]
        } else if path.hasPrefix("/placement") {
            return ["errors": [["status": .int(fault.code.status), "title": .string(fault.code.title),
                                "detail": .string(fault.message), "request_id": .string(requestID),
                                "code": .string(placementCode(fault))]]]
        } else if path.hasPrefix("/network") {
            // Neutron's errors name a type: its own (IpAddressGenerationFailure, …) or the HTTP one.
            let generic = ["badRequest": "HTTPBadRequest", "forbidden": "HTTPForbidden", "itemNotFound": "HTTPNotFound",
                           "conflictingRequest": "HTTPConflict", "unauthorized": "HTTPUnauthorized"]
            return ["NeutronError": ["type": .string(generic[fault.code.faultName] ?? fault.code.faultName),
                                     "message": .string(fault.message), "detail": ""]]
        } else if path.hasPrefix("/image") {
            // Glance's errors: a message with the status line.
            return ["message": .string(fault.message), "code": .string("\(fault.code.status) \(fault.code.title)"),
                    "title": .string(fault.code.title)]
        }
        return [fault.code.faultName: ["code": .int(fault.code.status), "message": .string(fault.message)]]
    }

    static func placementCode(_ fault: StratusError) -> String {
        fault.code.faultName.hasPrefix("placement.") ? fault.code.faultName : "placement.undefined_code"
    }
}
