import Foundation
import SQLKit
import StratusCore
import StratusScheduler
import StratusStorage

/// A server group (`os-server-groups`): a policy over where its members may run.
public struct ServerGroup: Sendable, Equatable {
    public var id: String
    public var name: String
    public var projectID: String
    public var userID: String
    public var policy: ServerGroupPolicy
    /// `max_server_per_host` for anti-affinity (microversion 2.64 rules); nil when not given.
    public var maxServerPerHost: Int?
    public var members: [String]

    public init(id: String, name: String, projectID: String, userID: String, policy: ServerGroupPolicy, maxServerPerHost: Int?,
                members: [String]) {
        self.id = id
        self.name = name
        self.projectID = projectID
        self.userID = userID
        self.policy = policy
        self.maxServerPerHost = maxServerPerHost
        self.members = members
    }
}

/// Server groups and their members. A member's host is reserved under the group's lock before placement is
/// claimed, so concurrent builds of one group see each other and a hard policy holds under any concurrency.
public struct ServerGroupStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    public func create(_ group: ServerGroup, quotas: QuotaStore) async throws {
        try await storage.transaction { tx in
            try await quotas.lockProject(group.projectID, in: tx)
            try await quotas.check(
                "server_groups", project: group.projectID,
                countSQL: "SELECT COUNT(*) AS n FROM compute_server_groups WHERE project_id = \(bind: group.projectID)",
                refusal: "Quota exceeded, too many server groups.", in: tx.sql)
            let rules = group.maxServerPerHost.map { "{\"max_server_per_host\": \($0)}" } ?? "{}"
            try await tx.sql.raw(
                """
                INSERT INTO compute_server_groups (id, name, project_id, user_id, policy, rules, created_at)
                VALUES (\(bind: group.id), \(bind: group.name), \(bind: group.projectID), \(bind: group.userID),
                    \(bind: group.policy.rawValue), \(bind: rules), \(bind: Clock.now()))
                """
            ).run()
        }
    }

    public func group(_ id: String) async throws -> ServerGroup? {
        try await storage.read { sql in try await groups(sql, where: "id", id).first }
    }

    /// Groups of one project, or of all projects when nil.
    public func list(projectID: String?) async throws -> [ServerGroup] {
        try await storage.read { sql in try await groups(sql, where: projectID == nil ? nil : "project_id", projectID ?? "") }
    }

    public func delete(_ id: String) async throws {
        try await storage.autocommit { sql in
            try await sql.raw("DELETE FROM compute_server_group_members WHERE group_id = \(bind: id)").run()
            try await sql.raw("DELETE FROM compute_server_groups WHERE id = \(bind: id)").run()
        }
    }

    /// Adds a new instance to a group at create time, within the create's transaction, refusing past the
    /// `server_group_members` quota.
    public func addMember(_ instanceUUID: String, group: ServerGroup, quotas: QuotaStore, in tx: Transaction) async throws {
        try await tx.sql.raw("UPDATE compute_server_groups SET claims = claims + 1 WHERE id = \(bind: group.id)").run()
        try await quotas.check(
            "server_group_members", project: group.projectID,
            countSQL: "SELECT COUNT(*) AS n FROM compute_server_group_members WHERE group_id = \(bind: group.id)",
            refusal: "Quota exceeded, too many servers in group", in: tx.sql)
        try await tx.sql.raw(
            "INSERT INTO compute_server_group_members (instance_uuid, group_id) VALUES (\(bind: instanceUUID), \(bind: group.id))"
        ).run()
    }

    /// The group an instance belongs to, with where its other members are, for the scheduler.
    public func placement(of instanceUUID: String) async throws -> (group: ServerGroup, placement: GroupPlacement)? {
        try await storage.read { sql in
            guard let row = try await sql.raw(
                "SELECT group_id FROM compute_server_group_members WHERE instance_uuid = \(bind: instanceUUID)"
            ).first() else { return nil }
            guard let group = try await groups(sql, where: "id", try row.decode(column: "group_id", as: String.self)).first else { return nil }
            return (group, try await placement(group, excluding: instanceUUID, sql))
        }
    }

    func placement(_ group: ServerGroup, excluding instanceUUID: String, _ sql: any SQLDatabase) async throws -> GroupPlacement {
        var byHost: [String: Int] = [:]
        for row in try await sql.raw(
            """
            SELECT host, moving_from FROM compute_server_group_members
            WHERE group_id = \(bind: group.id) AND (host IS NOT NULL OR moving_from IS NOT NULL) AND instance_uuid <> \(bind: instanceUUID)
            """
        ).all() {
            // A member on the move counts where it goes and where it still is: a move can fail back to its source.
            let hosts = Set([try row.decode(column: "host", as: String?.self), try row.decode(column: "moving_from", as: String?.self)].compactMap { $0 })
            for host in hosts { byHost[host, default: 0] += 1 }
        }
        return GroupPlacement(policy: group.policy, membersByHost: byHost, maxServerPerHost: group.maxServerPerHost ?? 1)
    }

    /// Reserves `host` for the instance if the group's policy still allows it, judged under the group's row lock
    /// against every other member's reservation. False: another member took the room first. A move passes its
    /// source as `movingFrom`: the member counts there too until the move ends (`endMove`) or goes back.
    public func reserve(host: String, for instanceUUID: String, group: ServerGroup, movingFrom: String? = nil) async throws -> Bool {
        try await storage.transaction { tx in
            try await tx.sql.raw("UPDATE compute_server_groups SET claims = claims + 1 WHERE id = \(bind: group.id)").run()
            guard try await placement(group, excluding: instanceUUID, tx.sql).allows(host) else { return false }
            try await setHost(host, movingFrom: movingFrom, for: instanceUUID, on: tx.sql)
            return true
        }
    }

    /// Records `host` as the instance's in its group, without judging the policy: where a move that did not happen
    /// leaves it (its source), or where a forced move (`movingFrom` its source) put it. Nothing happens for an
    /// instance in no group.
    public func assign(host: String, to instanceUUID: String, movingFrom: String? = nil) async throws {
        try await storage.autocommit { sql in try await setHost(host, movingFrom: movingFrom, for: instanceUUID, on: sql) }
    }

    /// `assign(host:to:)` in the caller's transaction.
    public func assign(host: String, to instanceUUID: String, in tx: Transaction) async throws {
        try await setHost(host, movingFrom: nil, for: instanceUUID, on: tx.sql)
    }

    /// The member's move is over where it went: it no longer counts on its source.
    public func endMove(of instanceUUID: String, in tx: Transaction) async throws {
        try await tx.sql.raw("UPDATE compute_server_group_members SET moving_from = NULL WHERE instance_uuid = \(bind: instanceUUID)").run()
    }

    /// Forgets the instance's host (failed claim, failed spawn, reschedule).
    public func release(_ instanceUUID: String) async throws {
        try await storage.autocommit { sql in try await setHost(nil, movingFrom: nil, for: instanceUUID, on: sql) }
    }

    /// Where the member is as far as its group's policy counts it (nil: nowhere yet), and the source it still counts
    /// on while it moves. A no-op for an instance in no group.
    private func setHost(_ host: String?, movingFrom: String?, for instanceUUID: String, on sql: any SQLDatabase) async throws {
        try await sql.raw(
            """
            UPDATE compute_server_group_members SET host = \(bind: host), moving_from = \(bind: movingFrom)
            WHERE instance_uuid = \(bind: instanceUUID)
            """
        ).run()
    }

    /// Removes a deleted instance from its group.
    public func removeMember(_ instanceUUID: String, in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM compute_server_group_members WHERE instance_uuid = \(bind: instanceUUID)").run()
    }

    func groups(_ sql: any SQLDatabase, where column: String?, _ value: String) async throws -> [ServerGroup] {
        let rows: [any SQLRow]
        switch column {
        case "id": rows = try await sql.raw("SELECT * FROM compute_server_groups WHERE id = \(bind: value)").all()
        case "project_id":
            rows = try await sql.raw("SELECT * FROM compute_server_groups WHERE project_id = \(bind: value) ORDER BY created_at").all()
        default: rows = try await sql.raw("SELECT * FROM compute_server_groups ORDER BY created_at").all()
        }
        var result: [ServerGroup] = []
        for row in rows {
            let id = try row.decode(column: "id", as: String.self)
            let members = try await sql.raw(
                "SELECT instance_uuid FROM compute_server_group_members WHERE group_id = \(bind: id) ORDER BY instance_uuid"
            ).all().map { try $0.decode(column: "instance_uuid", as: String.self) }
            let rules = try JSON.parse(try row.decode(column: "rules", as: String.self))
            result.append(ServerGroup(
                id: id, name: try row.decode(column: "name", as: String.self),
                projectID: try row.decode(column: "project_id", as: String.self),
                userID: try row.decode(column: "user_id", as: String.self),
                policy: ServerGroupPolicy(rawValue: try row.decode(column: "policy", as: String.self)) ?? .softAffinity,
                maxServerPerHost: rules["max_server_per_host"]?.intValue, members: members))
        }
        return result
    }
}
