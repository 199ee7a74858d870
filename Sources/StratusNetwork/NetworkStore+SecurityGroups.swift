import SQLKit
import StratusCore
import StratusStorage

/// Security groups and rules, stored as Neutron shapes them; every project gets its `default` group on first use.
/// Enforcement on hosts comes with real networking.
extension NetworkStore {
    /// The project's `default` group, created with Neutron's four default rules if it does not exist yet.
    @discardableResult
    public func ensureDefaultGroup(project: String) async throws -> SecurityGroup {
        if let existing = try await securityGroups(project: project).first(where: { $0.name == "default" }) { return existing }
        let id = Identifier.uuid()
        let now = Clock.now()
        try await storage.transaction { tx in
            // Two first uses at once: the second finds the group the first made.
            try await tx.sql.raw(
                """
                INSERT INTO net_security_groups (id, project_id, name, description, created_at, updated_at)
                SELECT \(bind: id), \(bind: project), 'default', 'Default security group', \(bind: now), \(bind: now)
                WHERE NOT EXISTS (SELECT 1 FROM net_security_groups WHERE project_id = \(bind: project) AND name = 'default')
                """
            ).run()
            guard try await tx.sql.raw("SELECT id FROM net_security_groups WHERE id = \(bind: id)").first() != nil else { return }
            for (direction, ethertype, remote) in [("ingress", "IPv4", id), ("ingress", "IPv6", id), ("egress", "IPv4", nil), ("egress", "IPv6", nil)] {
                try await insert(SecurityGroupRule(securityGroupID: id, projectID: project, direction: direction, ethertype: ethertype,
                                                   remoteGroupID: remote, createdAt: now), tx)
            }
        }
        return try await securityGroups(project: project).first { $0.name == "default" }!
    }

    public func securityGroups(project: String?) async throws -> [SecurityGroup] {
        try await storage.read { sql in
            let groups = project == nil
                ? try await sql.raw("SELECT * FROM net_security_groups ORDER BY created_at").all()
                : try await sql.raw("SELECT * FROM net_security_groups WHERE project_id = \(bind: project!) ORDER BY created_at").all()
            let rules = try await sql.raw("SELECT * FROM net_security_group_rules ORDER BY created_at").all().map(Self.rule)
            let byGroup = Dictionary(grouping: rules, by: \.securityGroupID)
            return try groups.map { row in
                let id = try row.decode(column: "id", as: String.self)
                return SecurityGroup(
                    id: id, projectID: try row.decode(column: "project_id", as: String.self), name: try row.decode(column: "name", as: String.self),
                    description: try row.decode(column: "description", as: String.self), rules: byGroup[id] ?? [],
                    createdAt: try row.decode(column: "created_at", as: Double.self), updatedAt: try row.decode(column: "updated_at", as: Double.self))
            }
        }
    }

    public func createSecurityGroup(project: String, name: String, description: String) async throws -> SecurityGroup {
        try await ensureDefaultGroup(project: project)
        let id = Identifier.uuid()
        let now = Clock.now()
        try await storage.transaction { tx in
            try await tx.sql.raw(
                """
                INSERT INTO net_security_groups (id, project_id, name, description, created_at, updated_at)
                VALUES (\(bind: id), \(bind: project), \(bind: name), \(bind: description), \(bind: now), \(bind: now))
                """
            ).run()
            for ethertype in ["IPv4", "IPv6"] {
                try await insert(SecurityGroupRule(securityGroupID: id, projectID: project, direction: "egress", ethertype: ethertype, createdAt: now), tx)
            }
        }
        return try await securityGroups(project: project).first { $0.id == id }!
    }

    public func deleteSecurityGroup(_ group: SecurityGroup) async throws {
        guard group.name != "default" else {
            throw StratusError(.init(status: 409, faultName: "SecurityGroupCannotRemoveDefault", title: "Conflict"),
                               "Insufficient rights for removing default security group.")
        }
        let ports = try await ports().filter { $0.securityGroups.contains(group.id) }
        guard ports.isEmpty else { throw NetworkError.inUse("SecurityGroup", group.id, "It is used by \(ports.count) ports.") }
        try await storage.autocommit { sql in
            try await sql.raw("DELETE FROM net_security_group_rules WHERE security_group_id = \(bind: group.id)").run()
            try await sql.raw("DELETE FROM net_security_groups WHERE id = \(bind: group.id)").run()
        }
    }

    /// Adds a rule; an identical rule already there is Neutron's 409 SecurityGroupRuleExists.
    public func addRule(_ rule: SecurityGroupRule, to group: SecurityGroup) async throws {
        if let same = group.rules.first(where: {
            $0.direction == rule.direction && $0.ethertype == rule.ethertype && $0.protocolName == rule.protocolName
                && $0.portRangeMin == rule.portRangeMin && $0.portRangeMax == rule.portRangeMax
                && $0.remoteIPPrefix == rule.remoteIPPrefix && $0.remoteGroupID == rule.remoteGroupID
        }) {
            throw StratusError(.init(status: 409, faultName: "SecurityGroupRuleExists", title: "Conflict"),
                               "Security group rule already exists. Rule id is \(same.id).")
        }
        try await storage.transaction { tx in try await insert(rule, tx) }
    }

    public func deleteRule(_ id: String) async throws -> Bool {
        try await storage.transaction { tx in
            guard try await tx.sql.raw("SELECT id FROM net_security_group_rules WHERE id = \(bind: id)").first() != nil else { return false }
            try await tx.sql.raw("DELETE FROM net_security_group_rules WHERE id = \(bind: id)").run()
            return true
        }
    }

    func insert(_ rule: SecurityGroupRule, _ tx: Transaction) async throws {
        try await tx.sql.raw(
            """
            INSERT INTO net_security_group_rules (id, security_group_id, project_id, direction, ethertype, protocol, port_range_min,
                port_range_max, remote_ip_prefix, remote_group_id, description, created_at)
            VALUES (\(bind: rule.id), \(bind: rule.securityGroupID), \(bind: rule.projectID), \(bind: rule.direction),
                \(bind: rule.ethertype), \(bind: rule.protocolName), \(bind: rule.portRangeMin), \(bind: rule.portRangeMax),
                \(bind: rule.remoteIPPrefix), \(bind: rule.remoteGroupID), \(bind: rule.description), \(bind: rule.createdAt))
            """
        ).run()
    }

    static func rule(_ row: any SQLRow) throws -> SecurityGroupRule {
        SecurityGroupRule(
            id: try row.decode(column: "id", as: String.self), securityGroupID: try row.decode(column: "security_group_id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self), direction: try row.decode(column: "direction", as: String.self),
            ethertype: try row.decode(column: "ethertype", as: String.self), protocolName: try row.decode(column: "protocol", as: String?.self),
            portRangeMin: try row.decode(column: "port_range_min", as: Int?.self), portRangeMax: try row.decode(column: "port_range_max", as: Int?.self),
            remoteIPPrefix: try row.decode(column: "remote_ip_prefix", as: String?.self),
            remoteGroupID: try row.decode(column: "remote_group_id", as: String?.self),
            description: try row.decode(column: "description", as: String.self), createdAt: try row.decode(column: "created_at", as: Double.self))
    }
}
