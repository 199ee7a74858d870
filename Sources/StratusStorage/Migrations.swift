import Logging
import SQLKit
import StratusCore

/// One versioned schema change. `id` is namespaced by module (`identity.1`) so modules evolve independently.
public struct Migration: Sendable {
    public let id: String
    public let statements: @Sendable (DatabaseEngine) -> [String]

    public init(_ id: String, _ statements: @escaping @Sendable (DatabaseEngine) -> [String]) {
        self.id = id
        self.statements = statements
    }

    /// A migration whose SQL is the same on both engines.
    public init(_ id: String, sql: [String]) {
        self.init(id) { _ in sql }
    }
}

/// Applies migrations in order, each once, each in its own transaction.
public enum Migrator {
    /// Applies what is missing and returns the ids applied now.
    @discardableResult
    public static func apply(_ migrations: [Migration], to storage: Storage, logger: Logger) async throws -> [String] {
        try await storage.transaction { tx in
            try await tx.sql.raw(
                "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            ).run()
        }
        var applied: [String] = []
        for migration in migrations {
            let didApply = try await storage.transaction { tx -> Bool in
                if tx.engine == .postgresql {
                    // Serialises concurrent migrators (several processes starting at once).
                    try await tx.sql.raw("SELECT pg_advisory_xact_lock(7270001)").run()
                }
                let done = try await tx.sql.raw("SELECT id FROM schema_migrations WHERE id = \(bind: migration.id)")
                    .first()
                if done != nil { return false }
                for statement in migration.statements(tx.engine) {
                    do { try await tx.sql.raw(SQLQueryString(statement)).run() } catch {
                        throw StorageError.migrationFailed("migration \(migration.id) failed: \(error)")
                    }
                }
                try await tx.sql.raw(
                    "INSERT INTO schema_migrations (id, applied_at) VALUES (\(bind: migration.id), \(bind: Clock.now()))"
                ).run()
                return true
            }
            if didApply {
                logger.info("applied migration \(migration.id)")
                applied.append(migration.id)
            }
        }
        return applied
    }

    /// The ids of `migrations` not applied yet (all of them on a database never migrated).
    public static func missing(_ migrations: [Migration], in storage: Storage) async throws -> [String] {
        let applied: Set<String>
        do {
            applied = try await storage.read { sql in
                Set(try await sql.raw("SELECT id FROM schema_migrations").all().map { try $0.decode(column: "id", as: String.self) })
            }
        } catch {
            applied = []  // no schema_migrations table yet
        }
        return migrations.map(\.id).filter { !applied.contains($0) }
    }
}
