import HTTPTypes
import Hummingbird
import StratusCore
import StratusIdentity
import StratusPolicy

extension IdentityAPI {
    static let subjectToken = HTTPField.Name("X-Subject-Token")!

    func registerAuth(on router: PolicedRouter) {
        router.post("identity/v3/auth/tokens", .open) { request, context in
            let body = try await request.jsonObject(limit: bodyLimit)
            let (token, payload) = try await authenticate(body)
            let includeCatalog = query(request, "nocatalog") == nil
            return JSONResponse.make(
                status: .created, render.token(payload, includeCatalog: includeCatalog),
                headers: [Self.subjectToken: token])
        }
        router.get("identity/v3/auth/tokens", .rule("identity:validate_token", target: .resolved(subjectTokenTarget))) { request, context in
            let (token, payload) = try await subject(request, context)
            let includeCatalog = query(request, "nocatalog") == nil
            return JSONResponse.make(
                status: .ok, render.token(payload, includeCatalog: includeCatalog), headers: [Self.subjectToken: token])
        }
        router.head("identity/v3/auth/tokens", .rule("identity:check_token", target: .resolved(subjectTokenTarget))) { request, context in
            _ = try await subject(request, context)
            return JSONResponse.empty(.ok)
        }
        router.delete("identity/v3/auth/tokens", .rule("identity:revoke_token", target: .resolved(subjectTokenTarget))) { request, context in
            let (_, payload) = try await subject(request, context)
            try await identity.revoke(payload)
            return JSONResponse.empty()
        }
        router.get("identity/v3/auth/catalog", .rule("identity:get_auth_catalog")) { _, context in
            let auth = try context.requireAuth()
            guard auth.projectID != nil else {
                throw StratusError.forbidden("The service catalog needs a project-scoped token.")
            }
            return JSONResponse.make(status: .ok, ["catalog": render.catalogJSON(), "links": render.listLinks("auth/catalog")])
        }
        router.get("identity/v3/auth/projects", .rule("identity:get_auth_projects")) { _, context in
            let auth = try context.requireAuth()
            let projectIDs = Set(try await store.assignments(userID: auth.userID).map(\.projectID))
            let projects = try await store.projects().filter { projectIDs.contains($0.id) && $0.enabled }
            return JSONResponse.make(
                status: .ok, ["projects": .array(projects.map(render.project)), "links": render.listLinks("auth/projects")])
        }
        router.get("identity/v3/auth/domains", .rule("identity:get_auth_domains")) { _, context in
            _ = try context.requireAuth()
            let domains = try await store.domains()
            return JSONResponse.make(
                status: .ok, ["domains": .array(domains.map(render.domain)), "links": render.listLinks("auth/domains")])
        }
        router.get("identity/v3/auth/system", .rule("identity:get_auth_system")) { _, context in
            _ = try context.requireAuth()
            return JSONResponse.make(status: .ok, ["system": [], "links": render.listLinks("auth/system")])
        }
    }

    /// Reads the token named by `X-Subject-Token`; an invalid subject is 404, as in Keystone. Who may look at it
    /// is the route's rule (`identity:validate_token` …), checked against `subjectTokenTarget`.
    func subject(_ request: Request, _ context: StratusRequestContext) async throws -> (String, TokenPayload) {
        _ = try context.requireAuth()
        guard let token = request.headers[Self.subjectToken] else {
            throw StratusError.badRequest("X-Subject-Token header is required.")
        }
        do {
            return (token, try await identity.validate(token))
        } catch let error as StratusError where error.code == .unauthorized {
            throw StratusError.notFound("Could not find token: \(error.message)")
        }
    }

    /// The policy target of the token routes: the subject token's owner as `target.token.user_id`.
    @Sendable func subjectTokenTarget(_ request: Request, _ context: StratusRequestContext) async throws -> PolicyTarget {
        let (_, payload) = try await subject(request, context)
        return ["target.token.user_id": payload.userID]
    }

    /// Parses `{"auth": {"identity": …, "scope": …}}` and runs the named method.
    func authenticate(_ body: JSON) async throws -> (String, TokenPayload) {
        let auth = try JSONFields(body: body, key: "auth")
        let identityFields = try auth.fields("identity", required: true)!
        let methods = try identityFields.stringArray("methods", required: true)!
        let scope = try parseScope(auth)
        if methods.contains("password") {
            let password = try identityFields.fields("password", required: true)!
            let user = try password.fields("user", required: true)!
            let secret = try user.string("password", required: true, maxLength: 4096, allowEmpty: true)!
            let userID = try user.string("id")
            let userName = try user.string("name")
            guard userID != nil || userName != nil else {
                throw StratusError.badRequest(
                    "Invalid input for field 'auth/identity/password/user': either 'id' or 'name' is required.")
            }
            var domainID: String?
            var domainName: String?
            if let domain = try user.fields("domain") {
                domainID = try domain.string("id")
                domainName = try domain.string("name")
            } else if userID == nil {
                throw StratusError.badRequest(
                    "Invalid input for field 'auth/identity/password/user/domain': a user given by name needs its domain (id or name).")
            }
            return try await identity.authenticate(
                .init(userID: userID, userName: userName, domainID: domainID, domainName: domainName, password: secret),
                scope: scope)
        }
        if methods.contains("token") {
            let token = try identityFields.fields("token", required: true)!
            return try await identity.rescope(try token.requiredString("id", maxLength: 4096), scope: scope)
        }
        throw StratusError.unauthorized(
            "The request you have made requires authentication. (Supported methods: password, token.)")
    }

    func parseScope(_ auth: JSONFields) throws -> IdentityService.Scope {
        guard let raw = auth.object["scope"] else { return .defaultProject }
        if raw.stringValue == "unscoped" { return .unscoped }
        let scope = try JSONFields(raw, path: "auth/scope")
        if let project = try scope.fields("project") {
            let id = try project.string("id")
            let name = try project.string("name")
            guard id != nil || name != nil else {
                throw StratusError.badRequest("Invalid input for field 'auth/scope/project': either 'id' or 'name' is required.")
            }
            var domainID: String?
            var domainName: String?
            if let domain = try project.fields("domain") {
                domainID = try domain.string("id")
                domainName = try domain.string("name")
            } else if id == nil {
                throw StratusError.badRequest(
                    "Invalid input for field 'auth/scope/project/domain': a project given by name needs its domain (id or name).")
            }
            return .project(id: id, name: name, domainID: domainID, domainName: domainName)
        }
        if scope.has("domain") || scope.has("system") {
            throw StratusError.badRequest(
                "Invalid input for field 'auth/scope': only project scope is supported; domain and system scope are not.")
        }
        throw StratusError.badRequest("Invalid input for field 'auth/scope': expected 'project' or the string 'unscoped'.")
    }
}
