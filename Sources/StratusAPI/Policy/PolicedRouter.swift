import Foundation
import Hummingbird
import NIOCore
import StratusCore
import StratusIdentity
import StratusPolicy
import Synchronization

/// The router every service registers on. Each route names its `RouteAccess`; before the handler runs (and
/// before the body is read) the caller is authenticated and the rule checked, path parameters are percent-decoded,
/// and NUL or non-UTF-8 in the path or query is refused with 400.
public struct PolicedRouter {
    public typealias Handler<Output: ResponseGenerator> = @Sendable (Request, StratusRequestContext) async throws -> Output

    let router: Router<StratusRequestContext>
    let enforcer: PolicyEnforcer
    let table: RouteTable
    /// `[oslo_middleware] max_request_body_size`, for action routes whose body names their rule.
    let bodyLimit: Int

    public init(router: Router<StratusRequestContext>, enforcer: PolicyEnforcer, table: RouteTable, bodyLimit: Int) {
        self.router = router
        self.enforcer = enforcer
        self.table = table
        self.bodyLimit = bodyLimit
    }

    public func get<Output: ResponseGenerator>(_ path: String, _ access: RouteAccess, use handler: @escaping Handler<Output>) {
        on(path, method: .get, access, use: handler)
    }

    public func post<Output: ResponseGenerator>(_ path: String, _ access: RouteAccess, use handler: @escaping Handler<Output>) {
        on(path, method: .post, access, use: handler)
    }

    public func put<Output: ResponseGenerator>(_ path: String, _ access: RouteAccess, use handler: @escaping Handler<Output>) {
        on(path, method: .put, access, use: handler)
    }

    public func patch<Output: ResponseGenerator>(_ path: String, _ access: RouteAccess, use handler: @escaping Handler<Output>) {
        on(path, method: .patch, access, use: handler)
    }

    public func delete<Output: ResponseGenerator>(_ path: String, _ access: RouteAccess, use handler: @escaping Handler<Output>) {
        on(path, method: .delete, access, use: handler)
    }

    public func head<Output: ResponseGenerator>(_ path: String, _ access: RouteAccess, use handler: @escaping Handler<Output>) {
        on(path, method: .head, access, use: handler)
    }

    public func on<Output: ResponseGenerator>(
        _ path: String, method: HTTPRequest.Method, _ access: RouteAccess, use handler: @escaping Handler<Output>
    ) {
        table.add(RouteEntry(method: method.rawValue, path: path, rules: Self.rules(of: access)))
        let guardian = RouteGuard(enforcer: enforcer, access: access, bodyLimit: bodyLimit)
        router.on(RouterPath(path), method: method) { request, context in
            let (request, context) = try await guardian.admit(request, context)
            return try await handler(request, context)
        }
    }

    static func rules(of access: RouteAccess) -> [String: String] {
        switch access {
        case .open: return [:]
        case .rule(let name, _): return ["": name]
        case .action(let rules): return rules
        }
    }
}

/// The routes registered so far, in order; shared by every service's registration.
public final class RouteTable: Sendable {
    private let entries = Mutex<[RouteEntry]>([])

    public init() {}

    func add(_ entry: RouteEntry) { entries.withLock { $0.append(entry) } }

    public var routes: [RouteEntry] { entries.withLock { $0 } }
}

/// The checks one route runs before its handler.
struct RouteGuard: Sendable {
    let enforcer: PolicyEnforcer
    let access: RouteAccess
    let bodyLimit: Int

    func admit(_ request: Request, _ context: StratusRequestContext) async throws -> (Request, StratusRequestContext) {
        var request = request, context = context
        try RequestText.checkQuery(request.uri.query)
        context.coreContext.parameters = try RequestText.decodedParameters(context.parameters)
        context.policy = enforcer
        if let auth = context.auth {
            let adminRule = request.uri.path.hasPrefix("/identity") ? "admin_required" : "context_is_admin"
            context.auth?.policyAdmin = enforcer.allows(adminRule, auth.policyCredentials, Self.callerTarget(auth))
        }
        switch access {
        case .open:
            break
        case .rule(let name, let source):
            let auth = try Self.caller(request, context, name)
            let target = try await self.target(source, auth, request, context)
            guard enforcer.allows(name, auth.policyCredentials, target) else {
                throw PolicyDenial.error(rule: name, path: request.uri.path)
            }
        case .action(let rules):
            let names = Set(rules.values).sorted()
            let auth = try Self.caller(request, context, names.joined(separator: ", "))
            let target = Self.callerTarget(auth)
            guard names.contains(where: { enforcer.allows($0, auth.policyCredentials, target) }) else {
                throw PolicyDenial.error(rule: names.joined(separator: ", "), path: request.uri.path)
            }
            let buffer = try await request.collectBody(limit: bodyLimit)
            request.body = RequestBody(buffer: buffer)
            // Exactly one known action, or no handler runs: a second key must not ride on the first one's rule.
            let json: JSON
            do {
                json = try JSON.parse(bytes: Array(buffer.readableBytesView))
            } catch {
                throw StratusError.badRequest("Malformed request body: the body is not valid JSON.")
            }
            guard case .object(let fields) = json, fields.count == 1, let action = fields.keys.first else {
                throw StratusError.badRequest("The action body must be a JSON object naming exactly one action.")
            }
            guard let rule = rules[action] else { throw StratusError.badRequest("Action \(action) is not supported.") }
            guard enforcer.allows(rule, auth.policyCredentials, target) else {
                throw PolicyDenial.error(rule: rule, path: request.uri.path)
            }
        }
        return (request, context)
    }

    func target(_ source: PolicyTargetSource, _ auth: AuthContext, _ request: Request, _ context: StratusRequestContext)
        async throws -> PolicyTarget
    {
        switch source {
        case .caller:
            return Self.callerTarget(auth)
        case .parameters(let names):
            var target = Self.callerTarget(auth)
            for (key, parameter) in names {
                let value = context.parameters[Substring(parameter)] ?? request.uri.queryParameters[Substring(parameter)]
                target[key] = value.map(String.init)
            }
            return target
        case .resolved(let resolve):
            return try await resolve(request, context)
        }
    }

    /// The authenticated caller. Outside identity a token must be scoped to a project, as keystonemiddleware's
    /// services expect: an unscoped token is good only for identity's discovery and rescoping routes.
    static func caller(_ request: Request, _ context: StratusRequestContext, _ rule: String) throws -> AuthContext {
        let auth = try context.requireAuth()
        if auth.projectID == nil && !request.uri.path.hasPrefix("/identity") {
            throw PolicyDenial.error(rule: rule, path: request.uri.path)
        }
        return auth
    }

    static func callerTarget(_ auth: AuthContext) -> PolicyTarget {
        var target: PolicyTarget = ["user_id": auth.userID]
        // `owner` is Glance's name for the project an image is created in (add_image checks both).
        if let project = auth.projectID { target["project_id"] = project; target["owner"] = project }
        return target
    }
}

extension AuthContext {
    /// The caller's project. The route guard already refused unscoped tokens outside identity; this keeps a nil
    /// project from ever meaning "every project" in a query.
    public func requireProjectID() throws -> String {
        guard let projectID else { throw StratusError.forbidden("This request needs a project-scoped token.") }
        return projectID
    }

    /// The caller as oslo.policy's credential dictionary sees it.
    public var policyCredentials: PolicyCredentials {
        PolicyCredentials(userID: userID, projectID: projectID, userDomainID: userDomainID, projectDomainID: projectDomainID,
                          roles: roles)
    }
}

/// A refusal by policy, worded as each service words it.
enum PolicyDenial {
    static func error(rule: String, path: String) -> StratusError {
        if path.hasPrefix("/identity") {
            return .forbidden("You are not authorized to perform the requested action: \(rule).")
        } else if path.hasPrefix("/placement") {
            return .forbidden("Policy does not allow \(rule) to be performed.")
        } else if path.hasPrefix("/network") {
            return .forbidden("(rule:\(rule)) is disallowed by policy")
        } else if path.hasPrefix("/image") {
            return .forbidden("You are not authorized to complete \(rule) action.")
        }
        return .forbidden("Policy doesn't allow \(rule) to be performed.")
    }
}
