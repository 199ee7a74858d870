import Hummingbird
import StratusCore
import StratusIdentity
import StratusPolicy

/// Per-request state shared by every Stratus service: the request id and, once the token middleware ran, who
/// is calling.
public struct StratusRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `req-UUID`, echoed in `X-OpenStack-Request-Id` and on every log line of the request.
    public var requestID: String = ""
    /// Set when a valid `X-Auth-Token` came with the request.
    public var auth: AuthContext?
    /// The validated token itself, for routes that echo it.
    public var tokenPayload: TokenPayload?
    /// The negotiated microversion of the service the path belongs to.
    public var microversion = Microversion(1, 0)

    /// The rules in force, set by the route's guard before the handler runs.
    public var policy: PolicyEnforcer?

    /// True once the client's connection has closed: long work (a regex filter over a long list) stops then.
    public let clientGone: @Sendable () -> Bool

    public init(source: Source) {
        self.coreContext = .init(source: source)
        let channel = source.channel
        self.clientGone = { !channel.isActive }
    }

    /// The caller's identity, or Keystone's 401 when the request carried no valid token.
    public func requireAuth() throws -> AuthContext {
        guard let auth else {
            throw StratusError.unauthorized("The request you have made requires authentication.")
        }
        return auth
    }

    /// A second check inside a handler, against the object it loaded (its owner as `project_id`).
    public func authorize(_ rule: String, target: PolicyTarget, path: String) throws {
        let auth = try requireAuth()
        guard let policy, policy.allows(rule, auth.policyCredentials, target) else {
            throw PolicyDenial.error(rule: rule, path: path)
        }
    }
}
