import Hummingbird
import StratusCore
import StratusIdentity

extension IdentityAPI {
    static let grantPath = "identity/v3/projects/:project_id/users/:user_id/roles/:role_id"

    func registerGrants(on router: PolicedRouter) {
        router.put(Self.grantPath, .rule("identity:create_grant")) { _, context in
            let (project, user, role) = try await grantParts(context)
            try await store.grant(roleID: role.id, userID: user.id, projectID: project.id)
            return JSONResponse.empty()
        }
        router.head(Self.grantPath, .rule("identity:check_grant")) { _, context in
            let (project, user, role) = try await grantParts(context)
            guard !(try await store.assignments(userID: user.id, projectID: project.id, roleID: role.id)).isEmpty else {
                throw StratusError.notFound("Could not find role assignment.")
            }
            return JSONResponse.empty()
        }
        router.get(Self.grantPath, .rule("identity:check_grant")) { _, context in
            let (project, user, role) = try await grantParts(context)
            guard !(try await store.assignments(userID: user.id, projectID: project.id, roleID: role.id)).isEmpty else {
                throw StratusError.notFound("Could not find role assignment.")
            }
            return JSONResponse.empty()
        }
        router.delete(Self.grantPath, .rule("identity:revoke_grant")) { _, context in
            let (project, user, role) = try await grantParts(context)
            try await store.revokeGrant(roleID: role.id, userID: user.id, projectID: project.id)
            return JSONResponse.empty()
        }
        router.get("identity/v3/projects/:project_id/users/:user_id/roles", .rule("identity:list_grants")) { _, context in
            let projectID = try context.parameters.require("project_id")
            let userID = try context.parameters.require("user_id")
            _ = try await store.project(id: projectID)
            _ = try await store.user(id: userID)
            let granted = Set(try await store.assignments(userID: userID, projectID: projectID).map(\.roleID))
            let roles = try await store.roles().filter { granted.contains($0.id) }
            return JSONResponse.make(
                status: .ok,
                ["roles": .array(roles.map(render.role)), "links": render.listLinks("projects/\(projectID)/users/\(userID)/roles")])
        }
        router.get("identity/v3/role_assignments", .rule("identity:list_role_assignments")) { request, context in
            let userFilter = query(request, "user.id")
            let includeNames = try boolQuery(request, "include_names") ?? request.uri.queryParameters["include_names"].map { _ in true } ?? false
            let effective = request.uri.queryParameters["effective"] != nil
            let assignments = try await store.assignments(
                userID: userFilter, projectID: query(request, "scope.project.id"), roleID: query(request, "role.id"))
            let roles = Dictionary(uniqueKeysWithValues: try await store.roles().map { ($0.id, $0) })
            let users = includeNames ? Dictionary(uniqueKeysWithValues: try await store.users().map { ($0.id, $0) }) : [:]
            let projects = includeNames ? Dictionary(uniqueKeysWithValues: try await store.projects().map { ($0.id, $0) }) : [:]
            let domains = includeNames ? Dictionary(uniqueKeysWithValues: try await store.domains().map { ($0.id, $0.name) }) : [:]
            var rendered: [JSON] = []
            for assignment in assignments {
                var roleIDs = [assignment.roleID]
                if effective, let role = roles[assignment.roleID] {
                    let names = StandardRoles.implied(by: [role.name])
                    roleIDs = roles.values.filter { names.contains($0.name) }.map(\.id).sorted()
                }
                for roleID in roleIDs {
                    var role: [String: JSON] = ["id": .string(roleID)]
                    var user: [String: JSON] = ["id": .string(assignment.userID)]
                    var project: [String: JSON] = ["id": .string(assignment.projectID)]
                    if includeNames {
                        role["name"] = .optional(roles[roleID]?.name)
                        user["name"] = .optional(users[assignment.userID]?.name)
                        let userDomain = users[assignment.userID]?.domainID
                        user["domain"] = ["id": .optional(userDomain), "name": .optional(userDomain.flatMap { domains[$0] })]
                        project["name"] = .optional(projects[assignment.projectID]?.name)
                        let projectDomain = projects[assignment.projectID]?.domainID
                        project["domain"] = ["id": .optional(projectDomain), "name": .optional(projectDomain.flatMap { domains[$0] })]
                    }
                    rendered.append([
                        "role": .object(role), "user": .object(user), "scope": ["project": .object(project)],
                        "links": ["assignment": .string("\(render.v3)/projects/\(assignment.projectID)/users/\(assignment.userID)/roles/\(roleID)")],
                    ])
                }
            }
            return JSONResponse.make(status: .ok, ["role_assignments": .array(rendered), "links": render.listLinks("role_assignments")])
        }
    }

    private func grantParts(_ context: StratusRequestContext) async throws -> (Project, User, Role) {
        let project = try await store.project(id: try context.parameters.require("project_id"))
        let user = try await store.user(id: try context.parameters.require("user_id"))
        let role = try await store.role(id: try context.parameters.require("role_id"))
        return (project, user, role)
    }
}
