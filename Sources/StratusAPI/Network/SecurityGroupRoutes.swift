import Hummingbird
import StratusCore
import StratusIdentity
import StratusNetwork

extension NetworkAPI {
    func registerSecurityGroups(on router: PolicedRouter) {
        router.get("network/v2.0/security-groups", .rule("get_security_group")) { request, context in
            let auth = try context.requireAuth()
            try await store.ensureDefaultGroup(project: auth.projectID ?? "")
            let groups = try await store.securityGroups(project: auth.isAdmin ? nil : try auth.requireProjectID())
            return JSONResponse.make(status: .ok, ["security_groups": .array(filtered(groups.map(groupJSON), request))])
        }
        router.post("network/v2.0/security-groups", .rule("create_security_group")) { request, context in
            let auth = try context.requireAuth()
            let fields = try await body(request, "security_group", allowed: ["name", "description", "tenant_id", "project_id", "stateful"])
            let name = try fields.requiredString("name")
            guard name != "default" else {
                throw StratusError(.init(status: 409, faultName: "SecurityGroupDefaultAlreadyExists", title: "Conflict"), "Default security group already exists.")
            }
            let group = try await store.createSecurityGroup(project: auth.projectID ?? "", name: name,
                                                            description: try fields.string("description", allowEmpty: true) ?? "")
            return JSONResponse.make(status: .created, ["security_group": groupJSON(group)])
        }
        router.get("network/v2.0/security-groups/:id", .rule("get_security_group")) { _, context in
            JSONResponse.make(status: .ok, ["security_group": groupJSON(try await visibleGroup(try context.parameters.require("id"), context))])
        }
        router.delete("network/v2.0/security-groups/:id", .rule("delete_security_group")) { _, context in
            try await store.deleteSecurityGroup(try await visibleGroup(try context.parameters.require("id"), context))
            return JSONResponse.empty(.noContent)
        }
        router.get("network/v2.0/security-group-rules", .rule("get_security_group_rule")) { request, context in
            let auth = try context.requireAuth()
            let rules = try await store.securityGroups(project: auth.isAdmin ? nil : try auth.requireProjectID()).flatMap(\.rules)
            return JSONResponse.make(status: .ok, ["security_group_rules": .array(filtered(rules.map(ruleJSON), request))])
        }
        router.post("network/v2.0/security-group-rules", .rule("create_security_group_rule")) { request, context in
            let fields = try await body(request, "security_group_rule", allowed: [
                "security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
                "remote_group_id", "description", "tenant_id", "project_id", "remote_address_group_id"])
            let group = try await visibleGroup(try fields.requiredString("security_group_id"), context)
            let direction = try fields.requiredString("direction")
            guard direction == "ingress" || direction == "egress" else { throw NetworkError.invalid("direction must be ingress or egress.") }
            let ethertype = try fields.string("ethertype") ?? "IPv4"
            guard ethertype == "IPv4" || ethertype == "IPv6" else { throw NetworkError.invalid("ethertype must be IPv4 or IPv6.") }
            let proto = try fields.string("protocol", nullable: true)
            if let proto, !["tcp", "udp", "icmp", "icmpv6", "any"].contains(proto), Int(proto).map({ (0...255).contains($0) }) != true {
                throw StratusError(.init(status: 400, faultName: "SecurityGroupRuleInvalidProtocol", title: "Bad Request"),
                                   "Security group rule protocol \(proto) not supported. Only protocol values [tcp, udp, icmp, icmpv6] and integer representations [0 to 255] are supported.")
            }
            let low = try fields.int("port_range_min", range: 0...65535), high = try fields.int("port_range_max", range: 0...65535)
            if let low, let high, low > high { throw NetworkError.invalid("port_range_min must be <= port_range_max.") }
            if (low != nil || high != nil) && proto != "tcp" && proto != "udp" && proto?.hasPrefix("icmp") != true {
                throw NetworkError.invalid("Port ranges need protocol tcp or udp.")
            }
            let prefix = try fields.string("remote_ip_prefix", nullable: true)
            if let prefix, ethertype == "IPv4", IPv4Network(prefix) == nil, IPv4(prefix) == nil {
                throw NetworkError.invalid("'\(prefix)' is not a valid IPv4 CIDR.")
            }
            let rule = SecurityGroupRule(
                securityGroupID: group.id, projectID: group.projectID, direction: direction, ethertype: ethertype, protocolName: proto,
                portRangeMin: low, portRangeMax: high, remoteIPPrefix: prefix, remoteGroupID: try fields.string("remote_group_id", nullable: true),
                description: try fields.string("description", allowEmpty: true) ?? "")
            try await store.addRule(rule, to: group)
            return JSONResponse.make(status: .created, ["security_group_rule": ruleJSON(rule)])
        }
        router.delete("network/v2.0/security-group-rules/:id", .rule("delete_security_group_rule")) { _, context in
            let auth = try context.requireAuth()
            let id = try context.parameters.require("id")
            let rules = try await store.securityGroups(project: auth.isAdmin ? nil : try auth.requireProjectID()).flatMap(\.rules)
            guard rules.contains(where: { $0.id == id }), try await store.deleteRule(id) else { throw NetworkError.notFound("SecurityGroupRule", id) }
            return JSONResponse.empty(.noContent)
        }
    }

    func visibleGroup(_ id: String, _ context: StratusRequestContext) async throws -> SecurityGroup {
        let auth = try context.requireAuth()
        guard let group = try await store.securityGroups(project: auth.isAdmin ? nil : try auth.requireProjectID()).first(where: { $0.id == id }) else {
            throw NetworkError.notFound("SecurityGroup", id)
        }
        return group
    }

    func groupJSON(_ group: SecurityGroup) -> JSON {
        var body: [String: JSON] = [
            "id": .string(group.id), "name": .string(group.name), "description": .string(group.description),
            "tenant_id": .string(group.projectID), "project_id": .string(group.projectID), "stateful": true, "shared": false,
            "security_group_rules": .array(group.rules.map(ruleJSON)),
        ]
        body.merge(Self.timestamps(group.createdAt, group.updatedAt)) { a, _ in a }
        return .object(body)
    }

    func ruleJSON(_ rule: SecurityGroupRule) -> JSON {
        var body: [String: JSON] = [
            "id": .string(rule.id), "security_group_id": .string(rule.securityGroupID), "tenant_id": .string(rule.projectID),
            "project_id": .string(rule.projectID), "direction": .string(rule.direction), "ethertype": .string(rule.ethertype),
            "protocol": .optional(rule.protocolName), "port_range_min": rule.portRangeMin.map { .int($0) } ?? .null,
            "port_range_max": rule.portRangeMax.map { .int($0) } ?? .null, "remote_ip_prefix": .optional(rule.remoteIPPrefix),
            "remote_group_id": .optional(rule.remoteGroupID), "remote_address_group_id": nil, "description": .string(rule.description),
        ]
        body.merge(Self.timestamps(rule.createdAt, rule.createdAt)) { a, _ in a }
        return .object(body)
    }
}
