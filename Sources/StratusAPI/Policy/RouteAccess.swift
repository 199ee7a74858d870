import Hummingbird
import StratusPolicy

/// How a route is guarded. Every route declares one when it is registered; there is no way to add a route
/// without it.
public enum RouteAccess: Sendable {
    /// No token needed: version documents and token issue, which OpenStack serves without authentication.
    case open
    /// The named policy rule, checked against `target` before the body is read.
    case rule(String, target: PolicyTargetSource = .caller)
    /// A body-keyed action route (`POST …/action {"os-stop": null}`): the body's one key picks the rule.
    /// A caller that no action's rule allows is refused before the body is read.
    case action([String: String])

    /// Every rule name the route can check.
    public var ruleNames: [String] {
        switch self {
        case .open: return []
        case .rule(let name, _): return [name]
        case .action(let rules): return rules.values.sorted()
        }
    }
}

/// Where a route's policy target comes from, as oslo.policy's target dictionary.
public enum PolicyTargetSource: Sendable {
    /// The caller's own project and user (Nova's target for create and list operations).
    case caller
    /// Target keys taken from path parameters, else query parameters (`["project_id": "project"]` for
    /// `/os-quota-sets/:project`), over the caller's own.
    case parameters([String: String])
    /// Computed by the route from the request (the subject token of `GET /v3/auth/tokens`); runs after the
    /// caller is authenticated and before the body is read.
    case resolved(@Sendable (Request, StratusRequestContext) async throws -> PolicyTarget)
}

/// One registered route, as the policy matrix test and `stratus policy list` enumerate them.
public struct RouteEntry: Sendable, Hashable, CustomStringConvertible {
    public let method: String
    public let path: String
    /// The rule per action (`""` for non-action routes); empty for open routes.
    public let rules: [String: String]
    public var isOpen: Bool { rules.isEmpty }
    public var description: String { "\(method) /\(path)" }
}
