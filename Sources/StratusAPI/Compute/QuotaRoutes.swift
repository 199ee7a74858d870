import Hummingbird
import StratusCompute
import StratusCore

/// `os-quota-sets` and `limits`, shaped per microversion (network quotas until 2.36, injected files until 2.57).
extension ComputeAPI {
    /// Quotas Nova still shows but Stratus does not enforce, with Nova's defaults.
    static let legacyNetworkQuotas = ["fixed_ips": -1, "floating_ips": 10, "security_group_rules": 20, "security_groups": 10]
    static let legacyFileQuotas = ["injected_files": 5, "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255]

    func registerQuotas(on router: PolicedRouter) {
        router.get("compute/v2.1/os-quota-sets/:project", .rule("os_compute_api:os-quota-sets:show", target: .parameters(["project_id": "project"]))) { request, context in
            let project = try quotaProject(context)
            let user = query(request, "user_id")
            return JSONResponse.make(status: .ok, ["quota_set": try await quotaSet(project, context, detail: false, user: user)])
        }
        router.get("compute/v2.1/os-quota-sets/:project/detail", .rule("os_compute_api:os-quota-sets:detail", target: .parameters(["project_id": "project"]))) { _, context in
            let project = try quotaProject(context)
            return JSONResponse.make(status: .ok, ["quota_set": try await quotaSet(project, context, detail: true, user: nil)])
        }
        router.get("compute/v2.1/os-quota-sets/:project/defaults", .rule("os_compute_api:os-quota-sets:defaults")) { _, context in
            let project = try context.parameters.require("project")
            var body = shaped(quotas.defaults, context)
            body["id"] = .string(project)
            return JSONResponse.make(status: .ok, ["quota_set": .object(body)])
        }
        router.put("compute/v2.1/os-quota-sets/:project", .rule("os_compute_api:os-quota-sets:update")) { request, context in
            let project = try context.parameters.require("project")
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "quota_set")
            let known = Set(QuotaStore.resources + Self.legacyFileQuotas.keys + Self.legacyNetworkQuotas.keys + ["force"])
            try fields.rejectUnknown(known)
            let force = try fields.bool("force") ?? false
            let usage = try await quotas.usage(project: project)
            var values: [String: Int] = [:]
            for resource in QuotaStore.resources where fields.has(resource) {
                let limit = try fields.int(resource, range: -1...Int(Int32.max))!
                if !force, limit >= 0, let used = usage[resource], used > limit {
                    throw StratusError.badRequest("Quota limit \(limit) for \(resource) must be greater than or equal to already used and reserved \(used).")
                }
                values[resource] = limit
            }
            try await quotas.set(project: project, values)
            return JSONResponse.make(status: .ok, ["quota_set": .object(shaped(try await quotas.limits(project: project), context))])
        }
        router.delete("compute/v2.1/os-quota-sets/:project", .rule("os_compute_api:os-quota-sets:delete")) { _, context in
            try await quotas.reset(project: try context.parameters.require("project"))
            return JSONResponse.empty(.accepted)
        }
        router.get("compute/v2.1/limits", .rule("os_compute_api:limits")) { request, context in
            let auth = try context.requireAuth()
            var project = auth.projectID ?? ""
            if let other = query(request, "tenant_id"), other != project {
                try context.authorize("os_compute_api:limits:other_project", target: ["project_id": other], path: request.uri.path)
                project = other
            }
            let limits = try await quotas.limits(project: project)
            let used = try await quotas.usage(project: project)
            var absolute: [String: JSON] = [
                "maxTotalInstances": .int(limits["instances"] ?? -1), "maxTotalCores": .int(limits["cores"] ?? -1),
                "maxTotalRAMSize": .int(limits["ram"] ?? -1), "maxServerMeta": .int(limits["metadata_items"] ?? -1),
                "maxImageMeta": .int(limits["metadata_items"] ?? -1), "maxTotalKeypairs": .int(limits["key_pairs"] ?? -1),
                "maxServerGroups": .int(limits["server_groups"] ?? -1), "maxServerGroupMembers": .int(limits["server_group_members"] ?? -1),
                "totalInstancesUsed": .int(used["instances"] ?? 0), "totalCoresUsed": .int(used["cores"] ?? 0),
                "totalRAMUsed": .int(used["ram"] ?? 0), "totalServerGroupsUsed": .int(used["server_groups"] ?? 0),
            ]
            if !context.microversion.atLeast(2, 36) {
                absolute["maxSecurityGroups"] = 10
                absolute["maxSecurityGroupRules"] = 20
                absolute["maxTotalFloatingIps"] = 10
                absolute["totalSecurityGroupsUsed"] = 0
                absolute["totalFloatingIpsUsed"] = 0
            }
            if !context.microversion.atLeast(2, 57) {
                absolute["maxPersonality"] = 5
                absolute["maxPersonalitySize"] = 10240
            }
            return JSONResponse.make(status: .ok, ["limits": ["rate": [], "absolute": .object(absolute)]])
        }
    }

    /// Own project for members, any project for admins (Nova's policy).
    /// The project in the path; who may ask about it is the route's rule (target `project_id`).
    func quotaProject(_ context: StratusRequestContext) throws -> String {
        try context.parameters.require("project")
    }

    func quotaSet(_ project: String, _ context: StratusRequestContext, detail: Bool, user: String?) async throws -> JSON {
        let limits = shaped(try await quotas.limits(project: project), context)
        var body = limits
        if detail {
            var used = try await quotas.usage(project: project)
            used["key_pairs"] = try await keypairs.list(user: user ?? (try context.requireAuth().userID)).count
            body = limits.mapValues { _ in JSON.null }
            for (key, limit) in limits {
                body[key] = ["limit": limit, "in_use": .int(used[key] ?? 0), "reserved": 0]
            }
        }
        body["id"] = .string(project)
        return .object(body)
    }

    func shaped(_ limits: [String: Int], _ context: StratusRequestContext) -> [String: JSON] {
        var body: [String: JSON] = [:]
        for resource in QuotaStore.resources { body[resource] = .int(limits[resource] ?? -1) }
        if !context.microversion.atLeast(2, 36) { for (key, value) in Self.legacyNetworkQuotas { body[key] = .int(value) } }
        if !context.microversion.atLeast(2, 57) { for (key, value) in Self.legacyFileQuotas { body[key] = .int(value) } }
        return body
    }
}
