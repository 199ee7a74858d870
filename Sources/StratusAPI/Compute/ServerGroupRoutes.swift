import Hummingbird
import StratusCompute
import StratusCore
import StratusScheduler

/// `os-server-groups`: affinity, anti-affinity and their soft variants; `rules` from 2.64.
extension ComputeAPI {
    func registerServerGroups(on router: PolicedRouter) {
        router.post("compute/v2.1/os-server-groups", .rule("os_compute_api:os-server-groups:create")) { request, context in
            let auth = try context.requireAuth()
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "server_group")
            let name = try fields.requiredString("name")
            let policy: ServerGroupPolicy
            var maxPerHost: Int?
            if context.microversion.atLeast(2, 64) {
                try fields.rejectUnknown(["name", "policy", "rules"])
                let text = try fields.requiredString("policy")
                guard let parsed = ServerGroupPolicy(rawValue: text) else { throw badPolicy(text) }
                policy = parsed
                if let rules = try fields.fields("rules"), !rules.object.isEmpty {
                    try rules.rejectUnknown(["max_server_per_host"])
                    guard policy == .antiAffinity else {
                        throw StratusError.badRequest("Invalid input for field/attribute rules: only the anti-affinity policy takes rules.")
                    }
                    maxPerHost = try rules.int("max_server_per_host", required: true, range: 1...Int(Int32.max))
                }
            } else {
                try fields.rejectUnknown(["name", "policies"])
                let policies = try fields.stringArray("policies", required: true) ?? []
                guard policies.count == 1, let parsed = ServerGroupPolicy(rawValue: policies[0]) else {
                    throw badPolicy(policies.joined(separator: ","))
                }
                policy = parsed
            }
            let group = ServerGroup(id: Identifier.uuid(), name: name, projectID: auth.projectID ?? "", userID: auth.userID,
                                    policy: policy, maxServerPerHost: maxPerHost, members: [])
            try await groups.create(group, quotas: quotas)
            return JSONResponse.make(status: .ok, ["server_group": groupJSON(group, context)])
        }
        router.get("compute/v2.1/os-server-groups", .rule("os_compute_api:os-server-groups:index")) { request, context in
            let auth = try context.requireAuth()
            let everyone = auth.isAdmin && ["1", "true", "True"].contains(query(request, "all_projects") ?? "")
            var list = try await groups.list(projectID: everyone ? nil : auth.projectID)
            if let marker = query(request, "offset").flatMap(Int.init) { list = Array(list.dropFirst(marker)) }
            if let limit = query(request, "limit").flatMap(Int.init) { list = Array(list.prefix(max(0, limit))) }
            return JSONResponse.make(status: .ok, ["server_groups": .array(list.map { groupJSON($0, context) })])
        }
        router.get("compute/v2.1/os-server-groups/:id", .rule("os_compute_api:os-server-groups:show")) { _, context in
            JSONResponse.make(status: .ok, ["server_group": groupJSON(try await visibleGroup(context), context)])
        }
        router.delete("compute/v2.1/os-server-groups/:id", .rule("os_compute_api:os-server-groups:delete")) { _, context in
            try await groups.delete(try await visibleGroup(context).id)
            return JSONResponse.empty(.noContent)
        }
    }

    func badPolicy(_ text: String) -> StratusError {
        .badRequest("Invalid input for field/attribute policy. Value: \(text). It must be one of "
                    + ServerGroupPolicy.allCases.map(\.rawValue).joined(separator: ", ") + ".")
    }

    func visibleGroup(_ context: StratusRequestContext) async throws -> ServerGroup {
        let auth = try context.requireAuth()
        let id = try context.parameters.require("id")
        guard let group = try await groups.group(id), auth.isAdmin || group.projectID == auth.projectID else {
            throw StratusError.notFound("Instance group \(id) could not be found.")
        }
        return group
    }

    func groupJSON(_ group: ServerGroup, _ context: StratusRequestContext) -> JSON {
        var body: [String: JSON] = [
            "id": .string(group.id), "name": .string(group.name), "members": .array(group.members.map { .string($0) }),
            "project_id": .string(group.projectID), "user_id": .string(group.userID),
        ]
        if context.microversion.atLeast(2, 64) {
            body["policy"] = .string(group.policy.rawValue)
            body["rules"] = .object(group.maxServerPerHost.map { ["max_server_per_host": .int($0)] } ?? [:])
        } else {
            body["policies"] = [.string(group.policy.rawValue)]
            body["metadata"] = [:]
        }
        return .object(body)
    }
}
