import SQLKit
import StratusCore
import StratusStorage

/// Nova's per-project quotas (`os-quota-sets`): limits from config, overridden per project, and usage counted
/// from the records themselves. The final check runs inside the caller's transaction after `lockProject`, so
/// concurrent creates of one project are judged one after another and never exceed a limit together.
public struct QuotaStore: Sendable {
    /// The resources Stratus enforces, in `quota_set` order.
    public static let resources = ["instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups", "server_group_members"]

    public let storage: Storage
    /// Limits for projects without an override; -1 is unlimited.
    public let defaults: [String: Int]

    public init(storage: Storage, defaults: [String: Int]) {
        self.storage = storage
        self.defaults = defaults
    }

    /// The limits of a project: its overrides over the defaults.
    public func limits(project: String) async throws -> [String: Int] {
        try await storage.read { sql in try await limits(project: project, sql) }
    }

    func limits(project: String, _ sql: any SQLDatabase) async throws -> [String: Int] {
        var limits = defaults
        for row in try await sql.raw("SELECT resource, hard_limit FROM compute_quotas WHERE project_id = \(bind: project)").all() {
            limits[try row.decode(column: "resource", as: String.self)] = try row.decode(column: "hard_limit", as: Int.self)
        }
        return limits
    }

    public func set(project: String, _ values: [String: Int]) async throws {
        try await storage.transaction { tx in
            for (resource, limit) in values.sorted(by: { $0.key < $1.key }) {
                try await tx.sql.raw("DELETE FROM compute_quotas WHERE project_id = \(bind: project) AND resource = \(bind: resource)").run()
                try await tx.sql.raw(
                    "INSERT INTO compute_quotas (project_id, resource, hard_limit) VALUES (\(bind: project), \(bind: resource), \(bind: limit))"
                ).run()
            }
        }
    }

    /// Back to the defaults (`DELETE /os-quota-sets/{project}`).
    public func reset(project: String) async throws {
        try await storage.autocommit { sql in
            try await sql.raw("DELETE FROM compute_quotas WHERE project_id = \(bind: project)").run()
        }
    }

    /// What a project uses now: instances, cores, ram, server_groups (key_pairs are per user, see `keypairCount`).
    public func usage(project: String) async throws -> [String: Int] {
        try await storage.read { sql in try await usage(project: project, sql) }
    }

    func usage(project: String, _ sql: any SQLDatabase) async throws -> [String: Int] {
        let row = try await sql.raw(
            """
            SELECT COUNT(*) AS n, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS cores,
                CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS ram
            FROM compute_instances WHERE project_id = \(bind: project) AND deleted = FALSE
            """
        ).first()
        let groups = try await sql.raw(
            "SELECT COUNT(*) AS n FROM compute_server_groups WHERE project_id = \(bind: project)"
        ).first()
        let resizing = try await resizeGrowth(project: project, sql)
        return [
            "instances": try row?.decode(column: "n", as: Int.self) ?? 0,
            "cores": try (row?.decode(column: "cores", as: Int.self) ?? 0) + resizing.cores,
            "ram": try (row?.decode(column: "ram", as: Int.self) ?? 0) + resizing.ram,
            "server_groups": try groups?.decode(column: "n", as: Int.self) ?? 0,
        ]
    }

    /// What resizes still under way hold beyond their servers' flavors: a server being resized can use the larger of
    /// its two flavors until the resize ends (confirmed, reverted or failed), so two resizes checked one after the
    /// other each see the other's growth; the server's own flavor switches at finish, and counts once either way.
    func resizeGrowth(project: String, _ sql: any SQLDatabase) async throws -> (cores: Int, ram: Int) {
        let final = MigrationRecord.Status.allCases.filter(\.isFinal).map(\.rawValue)
        let rows = try await sql.raw(
            """
            SELECT m.old_flavor, m.new_flavor, i.vcpus, i.memory_mb FROM compute_migrations m
            JOIN compute_instances i ON i.uuid = m.instance_uuid
            WHERE m.project_id = \(bind: project) AND m.migration_type = 'resize' AND m.status NOT IN (\(binds: final))
                AND i.deleted = FALSE
            """
        ).all()
        var growth = (cores: 0, ram: 0)
        for row in rows {
            let old = try MigrationStore.storedFlavor(row, "old_flavor"), new = try MigrationStore.storedFlavor(row, "new_flavor")
            growth.cores += max(0, max(old.vcpus, new.vcpus) - (try row.decode(column: "vcpus", as: Int.self)))
            growth.ram += max(0, max(old.memoryMB, new.memoryMB) - (try row.decode(column: "memory_mb", as: Int.self)))
        }
        return growth
    }

    /// Takes the project's quota lock for the rest of the transaction (a row update: PostgreSQL holds the row
    /// lock until commit; SQLite has one writer anyway).
    public func lockProject(_ project: String, in tx: Transaction) async throws {
        try await tx.sql.raw(
            """
            INSERT INTO compute_project_locks (project_id, claims) VALUES (\(bind: project), 1)
            ON CONFLICT (project_id) DO UPDATE SET claims = compute_project_locks.claims + 1
            """
        ).run()
    }

    /// Whether a create of servers is judged at all: some limit among instances, cores and ram is finite. When
    /// none is, creates take no lock and count nothing (the lock would make every create of the project wait).
    public static func judgesInstances(_ limits: [String: Int]) -> Bool {
        ["instances", "cores", "ram"].contains { (limits[$0] ?? -1) >= 0 }
    }

    /// How many of `wanted` (at least `minimum`) new servers of this size fit the project's quota, by the usage
    /// committed now; throws Nova's 403 when fewer than `minimum` fit. This only sizes the request, without the lock:
    /// `recheckInstances` judges it once the rows are in.
    public func admitInstances(project: String, minimum: Int, wanted: Int, vcpus: Int, memoryMB: Int,
                               in tx: Transaction) async throws -> Int {
        let limits = try await limits(project: project, tx.sql)
        let used = try await usage(project: project, tx.sql)
        var fits = wanted
        var over: [String] = []
        for (resource, each) in [("instances", 1), ("cores", vcpus), ("ram", memoryMB)] {
            guard let limit = limits[resource], limit >= 0, each > 0 else { continue }
            let room = max(0, limit - (used[resource] ?? 0)) / each
            if room < minimum { over.append(resource) }
            fits = min(fits, room)
        }
        if !over.isEmpty { throw refusal(over, requested: minimum, vcpus: vcpus, memoryMB: memoryMB, used: used, limits: limits) }
        return fits
    }

    /// Judges the `added` servers this transaction has just inserted: takes the project's lock, then counts again.
    /// Everyone who held the lock before has committed, and each statement sees what is committed, so the count
    /// holds every earlier create plus this one's own rows. The lock comes last so that it is held only for this
    /// count and the commit, not for the whole create (holding it throughout capped one project at ~40 creates/s
    /// on PostgreSQL).
    public func recheckInstances(project: String, added: Int, vcpus: Int, memoryMB: Int, in tx: Transaction) async throws {
        try await lockProject(project, in: tx)
        let limits = try await limits(project: project, tx.sql)
        var used = try await usage(project: project, tx.sql)
        var over: [String] = []
        for (resource, each) in [("instances", 1), ("cores", vcpus), ("ram", memoryMB)] {
            guard let limit = limits[resource], limit >= 0 else { continue }
            if (used[resource] ?? 0) > limit { over.append(resource) }
            used[resource] = (used[resource] ?? 0) - added * each  // reported as Nova does: the use besides this request
        }
        if !over.isEmpty { throw refusal(over, requested: added, vcpus: vcpus, memoryMB: memoryMB, used: used, limits: limits) }
    }

    /// Nova's check of a resize to a larger flavor: the growth in cores and ram (`cores`, `ram`; a shrink counts as
    /// nothing) must fit the project's quota by what it uses now, judged under the project's lock. Throws Nova's 403.
    public func checkUpsize(project: String, cores: Int, ram: Int, in tx: Transaction) async throws {
        let growth = ["cores": max(0, cores), "ram": max(0, ram)]
        guard growth.values.contains(where: { $0 > 0 }) else { return }
        let limits = try await limits(project: project, tx.sql)
        guard growth.contains(where: { $0.value > 0 && (limits[$0.key] ?? -1) >= 0 }) else { return }
        try await lockProject(project, in: tx)
        let used = try await usage(project: project, tx.sql)
        let over = ["cores", "ram"].filter { resource in
            guard let limit = limits[resource], limit >= 0, let more = growth[resource], more > 0 else { return false }
            return (used[resource] ?? 0) + more > limit
        }
        if !over.isEmpty {
            throw refusal(over, requested: 1, vcpus: growth["cores"] ?? 0, memoryMB: growth["ram"] ?? 0, used: used, limits: limits)
        }
    }

    private func refusal(_ over: [String], requested: Int, vcpus: Int, memoryMB: Int, used: [String: Int],
                         limits: [String: Int]) -> StratusError {
        let first = over[0]
        let each = ["instances": 1, "cores": vcpus, "ram": memoryMB]
        return StratusError.forbidden(
            "Quota exceeded for \(over.joined(separator: ", ")): Requested \(requested * (each[first] ?? 1)), but already used "
                + "\(used[first] ?? 0) of \(limits[first] ?? 0) \(first)")
    }

    /// Counts with `countSQL` (a `SELECT COUNT(*) AS n …`) and refuses with Nova's 403 (`refusal`, or the generic
    /// message) when one more would pass the project's limit for `resource`.
    public func check(_ resource: String, project: String, countSQL: SQLQueryString, refusal: String? = nil,
                      in sql: any SQLDatabase) async throws {
        let limit = try await limits(project: project, sql)[resource] ?? -1
        guard limit >= 0 else { return }
        let used = try await sql.raw(countSQL).first()?.decode(column: "n", as: Int.self) ?? 0
        if used + 1 > limit {
            throw StratusError.forbidden(refusal ?? "Quota exceeded for \(resource): Requested 1, but already used \(used) of \(limit) \(resource)")
        }
    }
}
