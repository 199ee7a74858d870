import Hummingbird
import StratusCore
import StratusIdentity

extension IdentityAPI {
    func registerUsers(on router: PolicedRouter) {
        router.get("identity/v3/users", .rule("identity:list_users")) { request, context in
            let users = try await store.users(
                name: query(request, "name"), domainID: query(request, "domain_id"),
                enabled: try boolQuery(request, "enabled"))
            return JSONResponse.make(status: .ok, ["users": .array(users.map(render.user)), "links": render.listLinks("users")])
        }
        router.post("identity/v3/users", .rule("identity:create_user")) { request, context in
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "user")
            let domainID = try fields.string("domain_id") ?? "default"
            _ = try await existing { try await store.domain(id: domainID) }
            let defaultProject = try fields.string("default_project_id", nullable: true)
            if let defaultProject { _ = try await existing { try await store.project(id: defaultProject) } }
            let password = try fields.string("password", maxLength: 4096, allowEmpty: true, nullable: true)
            let user = User(
                id: Identifier.keystone(), name: try fields.requiredString("name"), domainID: domainID,
                enabled: try fields.bool("enabled") ?? true,
                email: try fields.string("email", allowEmpty: true, nullable: true),
                description: try fields.string("description", maxLength: 65535, allowEmpty: true, nullable: true),
                defaultProjectID: defaultProject)
            var hash: String?
            if let password { hash = try await identity.hashPassword(password) }
            let created = try await store.createUser(user, passwordHash: hash)
            return JSONResponse.make(status: .created, ["user": render.user(created)])
        }
        router.get("identity/v3/users/:user_id", .rule("identity:get_user", target: .parameters(["target.user.id": "user_id"]))) { _, context in
            let id = try context.parameters.require("user_id")
            return JSONResponse.make(status: .ok, ["user": render.user(try await store.user(id: id))])
        }
        router.patch("identity/v3/users/:user_id", .rule("identity:update_user")) { request, context in
            var user = try await store.user(id: try context.parameters.require("user_id"))
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "user")
            user.name = try fields.string("name") ?? user.name
            user.enabled = try fields.bool("enabled") ?? user.enabled
            if fields.has("email") { user.email = try fields.string("email", allowEmpty: true, nullable: true) }
            if fields.has("description") {
                user.description = try fields.string("description", maxLength: 65535, allowEmpty: true, nullable: true)
            }
            if fields.has("default_project_id") {
                let project = try fields.string("default_project_id", nullable: true)
                if let project { _ = try await existing { try await store.project(id: project) } }
                user.defaultProjectID = project
            }
            var hash: String?
            if let password = try fields.string("password", maxLength: 4096, allowEmpty: true) {
                hash = try await identity.hashPassword(password)
            }
            try await store.updateUser(user, newPasswordHash: hash)
            return JSONResponse.make(status: .ok, ["user": render.user(user)])
        }
        router.delete("identity/v3/users/:user_id", .rule("identity:delete_user")) { _, context in
            let user = try await store.user(id: try context.parameters.require("user_id"))
            try await store.deleteUser(id: user.id)
            return JSONResponse.empty()
        }
        router.get("identity/v3/users/:user_id/projects", .rule("identity:list_user_projects", target: .parameters(["target.user.id": "user_id"]))) { _, context in
            let id = try context.parameters.require("user_id")
            _ = try await store.user(id: id)
            let projectIDs = Set(try await store.assignments(userID: id).map(\.projectID))
            let projects = try await store.projects().filter { projectIDs.contains($0.id) }
            return JSONResponse.make(
                status: .ok, ["projects": .array(projects.map(render.project)), "links": render.listLinks("users/\(id)/projects")])
        }
        router.post("identity/v3/users/:user_id/password", .open) { request, context in
            let id = try context.parameters.require("user_id")
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "user")
            let original = try fields.string("original_password", required: true, maxLength: 4096, allowEmpty: true)!
            let new = try fields.string("password", required: true, maxLength: 4096, allowEmpty: true)!
            var user = try await store.user(id: id)
            // Proves the caller knows the current password, as Keystone requires even without a token.
            _ = try await identity.authenticate(.init(userID: id, password: original), scope: .unscoped)
            user.enabled = true
            try await store.updateUser(user, newPasswordHash: try await identity.hashPassword(new))
            return JSONResponse.empty()
        }
    }
}
