import Hummingbird
import StratusCore
import StratusIdentity
import StratusNetwork

extension NetworkAPI {
    func registerNetworks(on router: PolicedRouter) {
        router.post("network/v2.0/networks", .rule("create_network")) { request, context in
            let auth = try context.requireAuth()
            let fields = try await body(request, "network", allowed: [
                "name", "admin_state_up", "shared", "router:external", "mtu", "description", "tenant_id", "project_id",
                "provider:network_type", "provider:physical_network", "provider:segmentation_id", "port_security_enabled",
                "availability_zone_hints", "dns_domain"])
            var network = Network(name: try fields.string("name", allowEmpty: true) ?? "", projectID: auth.projectID ?? "")
            if let project = try fields.string("project_id") ?? fields.string("tenant_id"), project != network.projectID {
                try requireOwner(project, auth, "create_network:tenant_id")
                network.projectID = project
            }
            network.adminStateUp = try fields.bool("admin_state_up") ?? true
            network.shared = try fields.bool("shared") ?? false
            network.external = try fields.bool("router:external") ?? false
            if (network.shared || network.external || fields.has("provider:network_type")) && !auth.isAdmin {
                throw StratusError.forbidden("(rule:create_network:shared) is disallowed by policy")
            }
            network.mtu = try fields.int("mtu", range: 68...9000) ?? 1500
            network.description = try fields.string("description", allowEmpty: true) ?? ""
            network.networkType = try fields.string("provider:network_type") ?? "local"
            guard ["local", "flat", "vlan", "vxlan", "geneve"].contains(network.networkType) else {
                throw NetworkError.invalid("provider:network_type \(network.networkType) is not supported.")
            }
            network.physicalNetwork = try fields.string("provider:physical_network")
            network.segmentationID = try fields.int("provider:segmentation_id", range: 1...16_777_215)
            try await store.create(network)
            return JSONResponse.make(status: .created, ["network": try await networkJSON(network)])
        }
        router.get("network/v2.0/networks", .rule("get_network")) { request, context in
            let auth = try context.requireAuth()
            let subnets = Dictionary(grouping: try await store.subnets(), by: \.networkID)
            let list = try await store.networks().filter { visible($0, auth) }.map { networkJSON($0, subnets: subnets[$0.id] ?? []) }
            return JSONResponse.make(status: .ok, ["networks": .array(filtered(list, request))])
        }
        router.get("network/v2.0/networks/:id", .rule("get_network")) { _, context in
            let network = try await visibleNetwork(try context.parameters.require("id"), try context.requireAuth())
            return JSONResponse.make(status: .ok, ["network": try await networkJSON(network)])
        }
        router.put("network/v2.0/networks/:id", .rule("update_network")) { request, context in
            let auth = try context.requireAuth()
            var network = try await visibleNetwork(try context.parameters.require("id"), auth)
            try requireOwner(network.projectID, auth, "update_network")
            let fields = try await body(request, "network", allowed: ["name", "admin_state_up", "shared", "router:external", "mtu", "description", "port_security_enabled"])
            if let name = try fields.string("name", allowEmpty: true) { network.name = name }
            if let up = try fields.bool("admin_state_up") { network.adminStateUp = up }
            if let shared = try fields.bool("shared") {
                guard auth.isAdmin else { throw StratusError.forbidden("(rule:update_network:shared) is disallowed by policy") }
                network.shared = shared
            }
            if let external = try fields.bool("router:external") {
                guard auth.isAdmin else { throw StratusError.forbidden("(rule:update_network:router:external) is disallowed by policy") }
                network.external = external
            }
            if let mtu = try fields.int("mtu", range: 68...9000) { network.mtu = mtu }
            if let description = try fields.string("description", allowEmpty: true) { network.description = description }
            try await store.save(network)
            return JSONResponse.make(status: .ok, ["network": try await networkJSON(network)])
        }
        router.delete("network/v2.0/networks/:id", .rule("delete_network")) { _, context in
            let auth = try context.requireAuth()
            let network = try await visibleNetwork(try context.parameters.require("id"), auth)
            try requireOwner(network.projectID, auth, "delete_network")
            try await store.deleteNetwork(network.id)
            return JSONResponse.empty(.noContent)
        }
    }

    func networkJSON(_ network: Network) async throws -> JSON {
        networkJSON(network, subnets: try await store.subnets(network: network.id))
    }

    func networkJSON(_ network: Network, subnets: [Subnet]) -> JSON {
        var body: [String: JSON] = [
            "id": .string(network.id), "name": .string(network.name), "tenant_id": .string(network.projectID),
            "project_id": .string(network.projectID), "admin_state_up": .bool(network.adminStateUp),
            "status": network.adminStateUp ? "ACTIVE" : "DOWN", "subnets": .array(subnets.map { .string($0.id) }),
            "shared": .bool(network.shared), "router:external": .bool(network.external), "mtu": .int(network.mtu),
            "provider:network_type": .string(network.networkType), "provider:physical_network": .optional(network.physicalNetwork),
            "provider:segmentation_id": network.segmentationID.map { .int($0) } ?? .null, "description": .string(network.description),
            "availability_zones": [], "availability_zone_hints": [], "port_security_enabled": true, "is_default": false,
            "ipv4_address_scope": nil, "ipv6_address_scope": nil,
        ]
        body.merge(Self.timestamps(network.createdAt, network.updatedAt)) { a, _ in a }
        return .object(body)
    }
}
