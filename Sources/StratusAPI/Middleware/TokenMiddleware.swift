import HTTPTypes
import Hummingbird
import StratusCore
import StratusIdentity

/// Validates `X-Auth-Token` when present and puts the caller's identity on the context. Routes that need a
/// caller ask with `context.requireAuth()`; a present but invalid token is refused at once with 401.
public struct TokenMiddleware: RouterMiddleware {
    public typealias Context = StratusRequestContext
    static let header = HTTPField.Name("X-Auth-Token")!

    /// `[api] auth_strategy`.
    public enum Strategy: String, Sendable {
        case keystone
        /// Nova's test mode: the token is `USER:PROJECT` (or `USER`); user `admin` gets the admin role.
        /// Never applied to /identity, which always needs real tokens.
        case noauth2
    }

    let identity: IdentityService
    let strategy: Strategy

    public init(identity: IdentityService, strategy: Strategy = .keystone) {
        self.identity = identity
        self.strategy = strategy
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let token = request.headers[Self.header] else { return try await next(request, context) }
        var context = context
        // noauth2 takes `user:project` tokens; a real Keystone token (a compute agent's) is still honoured as one.
        if strategy == .noauth2 && !request.uri.path.hasPrefix("/identity") && Self.isNoauthToken(token) {
            context.auth = Self.noauthContext(token)
        } else {
            let payload = try await identity.validate(token)
            context.tokenPayload = payload
            context.auth = payload.context
        }
        if let auth = context.auth {
            context.logger[metadataKey: "user_id"] = .string(auth.userID)
            if let project = auth.projectID { context.logger[metadataKey: "project_id"] = .string(project) }
        }
        return try await next(request, context)
    }

    /// noauth2's tokens are short names (`admin`, `admin:admin`); Keystone's are long opaque strings.
    static func isNoauthToken(_ token: String) -> Bool {
        token.utf8.count < 64
    }

    static func noauthContext(_ token: String) -> AuthContext {
        let parts = token.split(separator: ":", maxSplits: 1).map(String.init)
        let user = parts.first ?? "anonymous"
        let project = parts.count > 1 ? parts[1] : user
        // `admin` is an administrator, `service` a service user (the reshaper is theirs alone), anyone else a member.
        let roles = user == "admin" ? StandardRoles.implied(by: ["admin"])
            : user == "service" ? [StandardRoles.service] : StandardRoles.implied(by: ["member"])
        return AuthContext(
            userID: user, userName: user, userDomainID: "default", projectID: project, projectName: project,
            projectDomainID: "default", roles: roles, auditID: "noauth", expiresAt: .infinity)
    }
}
