import Hummingbird
import StratusCore
import StratusIdentity

extension IdentityAPI {
    func registerProjects(on router: PolicedRouter) {
        router.get("identity/v3/projects", .rule("identity:list_projects")) { request, context in
            let projects = try await store.projects(
                name: query(request, "name"), domainID: query(request, "domain_id"),
                enabled: try boolQuery(request, "enabled"))
            return JSONResponse.make(
                status: .ok, ["projects": .array(projects.map(render.project)), "links": render.listLinks("projects")])
        }
        router.post("identity/v3/projects", .rule("identity:create_project")) { request, context in
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "project")
            try fields.rejectUnknown(["name", "domain_id", "description", "enabled", "parent_id", "is_domain", "tags", "options"])
            if try fields.bool("is_domain") == true {
                throw StratusError.badRequest("Invalid input for field 'project/is_domain': projects acting as domains are not supported.")
            }
            let domainID = try fields.string("domain_id") ?? "default"
            _ = try await existing { try await store.domain(id: domainID) }
            let project = Project(
                id: Identifier.keystone(), name: try fields.requiredString("name", maxLength: 64), domainID: domainID,
                description: try fields.string("description", maxLength: 65535, allowEmpty: true, nullable: true) ?? "",
                enabled: try fields.bool("enabled") ?? true, parentID: try fields.string("parent_id", nullable: true))
            let created = try await store.createProject(project)
            return JSONResponse.make(status: .created, ["project": render.project(created)])
        }
        router.get("identity/v3/projects/:project_id", .rule("identity:get_project", target: .parameters(["target.project.id": "project_id"]))) { _, context in
            let id = try context.parameters.require("project_id")
            return JSONResponse.make(status: .ok, ["project": render.project(try await store.project(id: id))])
        }
        router.patch("identity/v3/projects/:project_id", .rule("identity:update_project")) { request, context in
            var project = try await store.project(id: try context.parameters.require("project_id"))
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "project")
            try fields.rejectUnknown(["name", "description", "enabled", "tags", "options"])
            project.name = try fields.string("name", maxLength: 64) ?? project.name
            project.description = try fields.string("description", maxLength: 65535, allowEmpty: true) ?? project.description
            project.enabled = try fields.bool("enabled") ?? project.enabled
            try await store.updateProject(project)
            return JSONResponse.make(status: .ok, ["project": render.project(project)])
        }
        router.delete("identity/v3/projects/:project_id", .rule("identity:delete_project")) { _, context in
            let project = try await store.project(id: try context.parameters.require("project_id"))
            try await store.deleteProject(id: project.id)
            return JSONResponse.empty()
        }
    }

    /// Runs a lookup that must succeed for the request to make sense; its 404 becomes a 400 naming the reference.
    func existing<T: Sendable>(_ lookup: () async throws -> T) async throws -> T {
        do { return try await lookup() } catch let error as StratusError where error.code == .itemNotFound {
            throw StratusError.badRequest(error.message)
        }
    }
}
