import Hummingbird
import StratusCore
import StratusIdentity

extension IdentityAPI {
    func registerRoles(on router: PolicedRouter) {
        router.get("identity/v3/roles", .rule("identity:list_roles")) { request, context in
            let roles = try await store.roles(name: query(request, "name"))
            return JSONResponse.make(status: .ok, ["roles": .array(roles.map(render.role)), "links": render.listLinks("roles")])
        }
        router.post("identity/v3/roles", .rule("identity:create_role")) { request, context in
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "role")
            try fields.rejectUnknown(["name", "description", "domain_id", "options"])
            if try fields.string("domain_id", nullable: true) != nil {
                throw StratusError.badRequest("Invalid input for field 'role/domain_id': domain-specific roles are not supported.")
            }
            let role = Role(
                id: Identifier.keystone(), name: try fields.requiredString("name"),
                description: try fields.string("description", maxLength: 65535, allowEmpty: true, nullable: true) ?? "")
            return JSONResponse.make(status: .created, ["role": render.role(try await store.createRole(role))])
        }
        router.get("identity/v3/roles/:role_id", .rule("identity:get_role")) { _, context in
            return JSONResponse.make(status: .ok, ["role": render.role(try await store.role(id: try context.parameters.require("role_id")))])
        }
        router.patch("identity/v3/roles/:role_id", .rule("identity:update_role")) { request, context in
            var role = try await store.role(id: try context.parameters.require("role_id"))
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "role")
            try fields.rejectUnknown(["name", "description", "options"])
            role.name = try fields.string("name") ?? role.name
            role.description = try fields.string("description", maxLength: 65535, allowEmpty: true) ?? role.description
            try await store.updateRole(role)
            return JSONResponse.make(status: .ok, ["role": render.role(role)])
        }
        router.delete("identity/v3/roles/:role_id", .rule("identity:delete_role")) { _, context in
            let role = try await store.role(id: try context.parameters.require("role_id"))
            try await store.deleteRole(id: role.id)
            return JSONResponse.empty()
        }
    }
}
