import Hummingbird
import StratusCore
import StratusIdentity
import StratusNetwork

extension NetworkAPI {
    func registerPorts(on router: PolicedRouter) {
        router.post("network/v2.0/ports", .rule("create_port")) { request, context in
            let auth = try context.requireAuth()
            let fields = try await body(request, "port", allowed: [
                "network_id", "name", "fixed_ips", "mac_address", "device_id", "device_owner", "binding:host_id", "binding:vnic_type",
                "binding:profile", "admin_state_up", "security_groups", "description", "tenant_id", "project_id", "port_security_enabled",
                "allowed_address_pairs", "extra_dhcp_opts"])
            let network = try await visibleNetwork(try fields.requiredString("network_id"), auth)
            if !(network.shared || network.projectID == auth.projectID || auth.isAdmin) {
                throw StratusError.forbidden("(rule:create_port) is disallowed by policy")
            }
            let requestedMAC = try fields.string("mac_address")
            if let mac = requestedMAC, !MACAddress.isValid(mac) { throw NetworkError.invalid("'\(mac)' is not a valid MAC address.") }
            var port = Port(networkID: network.id, projectID: auth.projectID ?? network.projectID, macAddress: requestedMAC?.lowercased() ?? "")
            port.name = try fields.string("name", allowEmpty: true) ?? ""
            port.deviceID = try fields.string("device_id", allowEmpty: true) ?? ""
            port.deviceOwner = try fields.string("device_owner", allowEmpty: true) ?? ""
            port.adminStateUp = try fields.bool("admin_state_up") ?? true
            port.description = try fields.string("description", allowEmpty: true) ?? ""
            if let host = try fields.string("binding:host_id", allowEmpty: true), !host.isEmpty {
                guard auth.isAdmin else { throw StratusError.forbidden("(rule:create_port:binding:host_id) is disallowed by policy") }
                port.bindingHostID = host
                port.bindingVIFType = "bridge"
            }
            port.securityGroups = try await securityGroupIDs(fields, port: port, auth: auth)
            let requests = try (fields.object["fixed_ips"]?.arrayValue ?? []).map { item -> FixedIPRequest in
                let subnet = item["subnet_id"]?.stringValue, address = item["ip_address"]?.stringValue
                guard subnet != nil || address != nil else { throw NetworkError.invalid("Each fixed IP needs a subnet_id or an ip_address.") }
                return FixedIPRequest(subnetID: subnet, ipAddress: address)
            }
            // A MAC the caller chose is theirs to fix when taken; one we draw is drawn again.
            let created = try await requestedMAC == nil ? store.createWithGeneratedMAC(port, requests: requests)
                : store.create(port, requests: requests)
            return JSONResponse.make(status: .created, ["port": portJSON(created)])
        }
        router.get("network/v2.0/ports", .rule("get_port")) { request, context in
            let auth = try context.requireAuth()
            // The caller's project bounds the query itself; admins see every project's ports.
            let list = try await auth.isAdmin ? store.ports() : store.ports(project: try auth.requireProjectID())
            return JSONResponse.make(status: .ok, ["ports": .array(filtered(list.map(portJSON), request))])
        }
        router.get("network/v2.0/ports/:id", .rule("get_port")) { _, context in
            JSONResponse.make(status: .ok, ["port": portJSON(try await visiblePort(context))])
        }
        router.put("network/v2.0/ports/:id", .rule("update_port")) { request, context in
            let auth = try context.requireAuth()
            var port = try await visiblePort(context)
            let fields = try await body(request, "port", allowed: [
                "name", "device_id", "device_owner", "binding:host_id", "binding:vnic_type", "binding:profile", "admin_state_up",
                "security_groups", "description", "port_security_enabled", "allowed_address_pairs", "extra_dhcp_opts"])
            if let name = try fields.string("name", allowEmpty: true) { port.name = name }
            if let device = try fields.string("device_id", allowEmpty: true) { port.deviceID = device }
            if let owner = try fields.string("device_owner", allowEmpty: true) { port.deviceOwner = owner }
            if let up = try fields.bool("admin_state_up") { port.adminStateUp = up }
            if let description = try fields.string("description", allowEmpty: true) { port.description = description }
            if let host = try fields.string("binding:host_id", allowEmpty: true) {
                guard auth.isAdmin else { throw StratusError.forbidden("(rule:update_port:binding:host_id) is disallowed by policy") }
                port.bindingHostID = host
                port.bindingVIFType = host.isEmpty ? "unbound" : "bridge"
            }
            if fields.has("security_groups") { port.securityGroups = try await securityGroupIDs(fields, port: port, auth: auth) }
            try await store.save(port)
            return JSONResponse.make(status: .ok, ["port": portJSON(port)])
        }
        router.delete("network/v2.0/ports/:id", .rule("delete_port")) { _, context in
            let port = try await visiblePort(context)
            try await store.deletePort(port.id)
            return JSONResponse.empty(.noContent)
        }
    }

    func visiblePort(_ context: StratusRequestContext) async throws -> Port {
        let auth = try context.requireAuth()
        let id = try context.parameters.require("id")
        guard let port = try await store.port(id), auth.isAdmin || port.projectID == auth.projectID else {
            throw NetworkError.notFound("Port", id)
        }
        return port
    }

    /// The groups named in `security_groups` (ids of the caller's groups), or the project's default group.
    func securityGroupIDs(_ fields: JSONFields, port: Port, auth: AuthContext) async throws -> [String] {
        if port.deviceOwner.hasPrefix("network:") { return [] }
        guard let wanted = try fields.stringArray("security_groups") else {
            return [try await store.ensureDefaultGroup(project: port.projectID).id]
        }
        let groups = try await store.securityGroups(project: auth.isAdmin ? nil : port.projectID)
        return try wanted.map { name in
            guard let group = groups.first(where: { $0.id == name || ($0.name == name && $0.projectID == port.projectID) }) else {
                throw NetworkError.notFound("SecurityGroup", name)
            }
            return group.id
        }
    }

    func portJSON(_ port: Port) -> JSON {
        var body: [String: JSON] = [
            "id": .string(port.id), "name": .string(port.name), "network_id": .string(port.networkID),
            "tenant_id": .string(port.projectID), "project_id": .string(port.projectID), "mac_address": .string(port.macAddress),
            "admin_state_up": .bool(port.adminStateUp), "status": .string(port.status), "device_id": .string(port.deviceID),
            "device_owner": .string(port.deviceOwner),
            "fixed_ips": .array(port.fixedIPs.map { ["subnet_id": .string($0.subnetID), "ip_address": .string($0.ipAddress)] }),
            "security_groups": .array(port.securityGroups.map { .string($0) }), "binding:host_id": .string(port.bindingHostID),
            "binding:vif_type": .string(port.bindingVIFType), "binding:vnic_type": .string(port.bindingVNICType),
            "binding:vif_details": [:], "binding:profile": [:], "allowed_address_pairs": [], "extra_dhcp_opts": [],
            "description": .string(port.description), "port_security_enabled": true,
        ]
        body.merge(Self.timestamps(port.createdAt, port.updatedAt)) { a, _ in a }
        return .object(body)
    }
}
