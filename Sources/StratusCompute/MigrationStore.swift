import StratusMessages
import Foundation
import SQLKit
import StratusCore
import StratusStorage

/// Migration records. Writes take the caller's transaction, so a status change commits with the instance's state
/// and the next message.
public struct MigrationStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    /// Inserts the record and returns it with its id.
    public func insert(_ migration: MigrationRecord, in tx: Transaction) async throws -> MigrationRecord {
        let row = try await tx.sql.raw(
            """
            INSERT INTO compute_migrations (uuid, instance_uuid, migration_type, status, source_compute, source_node,
                dest_compute, dest_node, dest_host, old_flavor, new_flavor, requested_host, old_vm_state, user_id, project_id,
                error, created_at, updated_at, live, target_state)
            VALUES (\(bind: migration.uuid), \(bind: migration.instanceUUID), \(bind: migration.kind.rawValue),
                \(bind: migration.status.rawValue), \(bind: migration.sourceCompute), \(bind: migration.sourceNode),
                \(bind: migration.destCompute), \(bind: migration.destNode), \(bind: migration.destHost),
                \(bind: migration.oldFlavor.stored.encodedString()), \(bind: migration.newFlavor.stored.encodedString()),
                \(bind: migration.requestedHost), \(bind: migration.oldVMState.rawValue), \(bind: migration.userID),
                \(bind: migration.projectID), \(bind: migration.error), \(bind: migration.createdAt), \(bind: migration.updatedAt),
                \(bind: Self.encode(migration.live)), \(bind: migration.targetState?.rawValue))
            RETURNING id
            """
        ).first()
        var inserted = migration
        inserted.id = try row?.decode(column: "id", as: Int.self) ?? 0
        return inserted
    }

    static func encode(_ live: LiveDetails?) -> String? {
        live.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes a live migration's progress while it runs, and its switch to post-copy (never back). No lock: the
    /// latest report wins, and a migration that moved on from copying is left as it is.
    public func saveProgress(_ progress: LiveProgress) async throws {
        guard let record = try await migration(progress.migrationUUID), record.status.isCopying, var live = record.live else { return }
        live.progress = progress
        let encoded = Self.encode(live)
        let status = progress.postCopy == true ? MigrationRecord.Status.runningPostCopy : record.status
        try await storage.autocommit { sql in
            try await sql.raw(
                """
                UPDATE compute_migrations SET live = \(bind: encoded), updated_at = \(bind: Clock.now()),
                    status = CASE WHEN status = 'running (post-copy)' THEN status ELSE \(bind: status.rawValue) END
                WHERE uuid = \(bind: progress.migrationUUID) AND status IN ('running', 'running (post-copy)')
                """
            ).run()
        }
    }

    /// Writes what a move changes: status, destination, error.
    public func save(_ migration: MigrationRecord, in tx: Transaction) async throws {
        try await tx.sql.raw(
            """
            UPDATE compute_migrations SET status = \(bind: migration.status.rawValue), dest_compute = \(bind: migration.destCompute),
                dest_node = \(bind: migration.destNode), dest_host = \(bind: migration.destHost), error = \(bind: migration.error),
                live = \(bind: Self.encode(migration.live)), updated_at = \(bind: Clock.now())
            WHERE uuid = \(bind: migration.uuid)
            """
        ).run()
    }

    /// The record, locked for the rest of the transaction on PostgreSQL (its status decides the next step).
    public func migration(_ uuid: String, in tx: Transaction) async throws -> MigrationRecord? {
        let lock: SQLQueryString = tx.engine == .postgresql ? " FOR UPDATE" : ""
        return try await tx.sql.raw("SELECT * FROM compute_migrations WHERE uuid = \(bind: uuid)" + lock).first().map(Self.record)
    }

    public func migration(_ uuid: String) async throws -> MigrationRecord? {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_migrations WHERE uuid = \(bind: uuid)").first().map(Self.record)
        }
    }

    /// The newest migration of the instance with one of `statuses` (Nova's `get_by_instance_and_status`).
    public func latest(instanceUUID: String, statuses: Set<MigrationRecord.Status>) async throws -> MigrationRecord? {
        try await storage.read { sql in
            try await sql.raw(
                "SELECT * FROM compute_migrations WHERE instance_uuid = \(bind: instanceUUID) ORDER BY created_at DESC, id DESC"
            ).all().map(Self.record).first { statuses.contains($0.status) }
        }
    }

    /// Moves that have not ended (from or to `host`, when given): what power sync must not mistake for strays, and
    /// what reconciliation watches.
    public func unfinished(host: String? = nil) async throws -> [MigrationRecord] {
        let final = MigrationRecord.Status.allCases.filter(\.isFinal).map(\.rawValue)
        return try await storage.read { sql in
            var query: SQLQueryString = "SELECT * FROM compute_migrations WHERE status NOT IN (\(binds: final))"
            if let host { query = query + " AND (source_compute = \(bind: host) OR dest_compute = \(bind: host))" }
            return try await sql.raw(query).all().map(Self.record)
        }
    }

    /// Live migrations from `source` that copy or prepare now, counted under a lock on the source's service row so
    /// two conductors admitting at once never both take the last slot of `max_concurrent_live_migrations`.
    public func liveInProgress(from source: String, in tx: Transaction) async throws -> Int {
        if tx.engine == .postgresql {
            _ = try await tx.sql.raw("SELECT id FROM compute_services WHERE host = \(bind: source) FOR UPDATE").all()
        }
        let row = try await tx.sql.raw(
            """
            SELECT COUNT(*) AS n FROM compute_migrations WHERE source_compute = \(bind: source)
                AND migration_type = 'live-migration' AND status IN ('preparing', 'running', 'running (post-copy)')
            """
        ).first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    /// The oldest live migration from `source` waiting for a slot.
    public func oldestQueued(from source: String) async throws -> MigrationRecord? {
        try await storage.read { sql in
            try await sql.raw(
                """
                SELECT * FROM compute_migrations WHERE source_compute = \(bind: source) AND migration_type = 'live-migration'
                    AND status = 'queued' ORDER BY created_at, id LIMIT 1
                """
            ).first().map(Self.record)
        }
    }

    /// The source and destination of each of `uuids` that exists: one read for a batch of host reports.
    public func hosts(of uuids: [String]) async throws -> [String: (source: String, dest: String?)] {
        guard !uuids.isEmpty else { return [:] }
        return try await storage.read { sql in
            var hosts: [String: (source: String, dest: String?)] = [:]
            for row in try await sql.raw(
                "SELECT uuid, source_compute, dest_compute FROM compute_migrations WHERE uuid IN (\(binds: uuids))"
            ).all() {
                hosts[try row.decode(column: "uuid", as: String.self)] = (
                    try row.decode(column: "source_compute", as: String.self), try row.decode(column: "dest_compute", as: String?.self))
            }
            return hosts
        }
    }

    /// `GET /os-migrations`'s filters; nil means any.
    public struct Filter: Sendable {
        public var status: String?
        /// Source or destination.
        public var host: String?
        public var sourceCompute: String?
        public var kind: String?
        public var instanceUUID: String?
        public var userID: String?
        public var projectID: String?
        /// Updated at or after (2.59 `changes-since`).
        public var changesSince: Double?
        /// Updated at or before (2.66 `changes-before`).
        public var changesBefore: Double?
        public init() {}
    }

    /// Matching records, newest first (created_at, then id, descending), as Nova sorts them.
    public func list(_ filter: Filter) async throws -> [MigrationRecord] {
        try await storage.read { sql in
            var query: SQLQueryString = "SELECT * FROM compute_migrations WHERE 1 = 1"
            if let status = filter.status { query = query + " AND status = \(bind: status)" }
            if let host = filter.host { query = query + " AND (source_compute = \(bind: host) OR dest_compute = \(bind: host))" }
            if let source = filter.sourceCompute { query = query + " AND source_compute = \(bind: source)" }
            if let kind = filter.kind { query = query + " AND migration_type = \(bind: kind)" }
            if let uuid = filter.instanceUUID { query = query + " AND instance_uuid = \(bind: uuid)" }
            if let user = filter.userID { query = query + " AND user_id = \(bind: user)" }
            if let project = filter.projectID { query = query + " AND project_id = \(bind: project)" }
            if let since = filter.changesSince { query = query + " AND updated_at >= \(bind: since)" }
            if let before = filter.changesBefore { query = query + " AND updated_at <= \(bind: before)" }
            return try await sql.raw(query + " ORDER BY created_at DESC, id DESC").all().map(Self.record)
        }
    }

    static func record(_ row: any SQLRow) throws -> MigrationRecord {
        var record = MigrationRecord(
            id: try row.decode(column: "id", as: Int.self), uuid: try row.decode(column: "uuid", as: String.self),
            instanceUUID: try row.decode(column: "instance_uuid", as: String.self),
            kind: MigrationRecord.Kind(rawValue: try row.decode(column: "migration_type", as: String.self)) ?? .migration,
            status: MigrationRecord.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .error,
            sourceCompute: try row.decode(column: "source_compute", as: String.self),
            sourceNode: try row.decode(column: "source_node", as: String.self),
            oldFlavor: try storedFlavor(row, "old_flavor"), newFlavor: try storedFlavor(row, "new_flavor"),
            requestedHost: try row.decode(column: "requested_host", as: String?.self),
            oldVMState: VMState(rawValue: try row.decode(column: "old_vm_state", as: String.self)) ?? .active,
            userID: try row.decode(column: "user_id", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Double.self), updatedAt: try row.decode(column: "updated_at", as: Double.self))
        record.destCompute = try row.decode(column: "dest_compute", as: String?.self)
        record.destNode = try row.decode(column: "dest_node", as: String?.self)
        record.destHost = try row.decode(column: "dest_host", as: String?.self)
        record.error = try row.decode(column: "error", as: String?.self)
        record.targetState = try row.decode(column: "target_state", as: String?.self).flatMap(VMState.init(rawValue:))
        if let live = try row.decode(column: "live", as: String?.self) {
            record.live = try? JSONDecoder().decode(LiveDetails.self, from: Data(live.utf8))
        }
        return record
    }

    /// A flavor column of a migration row (the flavor as it was stored with the instance). An unreadable one (a
    /// damaged row) reads as an empty "unknown" flavor rather than failing: every reader of unfinished migrations
    /// (power sync, reconciliation, quota usage) would otherwise stop for the whole cloud over one row.
    static func storedFlavor(_ row: any SQLRow, _ column: String) throws -> Flavor {
        (try? JSON.parse(try row.decode(column: column, as: String.self))).flatMap(Flavor.init(stored:))
            ?? Flavor(id: "unknown", name: "unknown", memoryMB: 0, vcpus: 0, rootGB: 0)
    }
}
