import HTTPTypes
import Hummingbird
import StratusCore
import StratusIdentity

/// Validates `X-Auth-Token` when present and puts the caller's identity on the context. Routes that need a
/// caller ask with `context.requireAuth()`; a present but invalid token is refused at once with 401.
public struct TokenMiddleware: RouterMiddleware {
    public typealias Context = StratusRequestContext
    static let header = HTTPField.Name("X-Auth-Token")!
    let identity: IdentityService

    public init(identity: IdentityService) { self.identity = identity }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let token = request.headers[Self.header] else { return try await next(request, context) }
        var context = context
        let payload = try await identity.validate(token)
        context.tokenPayload = payload
        context.auth = payload.context
        context.logger[metadataKey: "user_id"] = .string(payload.userID)
        if let project = payload.projectID { context.logger[metadataKey: "project_id"] = .string(project) }
        return try await next(request, context)
    }
}
