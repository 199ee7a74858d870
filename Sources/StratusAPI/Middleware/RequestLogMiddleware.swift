import Foundation
import HTTPTypes
import Hummingbird
import Logging
import StratusCore

/// Gives every request an id (keeping a well-formed incoming `X-OpenStack-Request-Id`, as a service calling
/// another passes it on), puts it on the response and on every log line, and logs one line per request.
public struct RequestLogMiddleware: RouterMiddleware {
    public typealias Context = StratusRequestContext
    static let header = HTTPField.Name("X-OpenStack-Request-Id")!
    static let placementHeader = HTTPField.Name("x-openstack-request-id")!

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        let incoming = request.headers[Self.header]
        context.requestID = incoming.flatMap { Identifier.isRequestID($0) ? $0 : nil } ?? Identifier.requestID()
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // The fault middleware renders every error; this only happens if it is missing.
            response = FaultMiddleware.render(error, path: request.uri.path, context: context)
        }
        response.headers[Self.header] = context.requestID
        let elapsed = ContinuousClock.now - start
        let millis = elapsed.inMilliseconds
        context.logger.info(
            "\(request.method) \(request.uri.path) status \(response.status.code) \(String(format: "%.1f", millis)) ms")
        return response
    }
}
