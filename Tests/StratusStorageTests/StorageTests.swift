import Foundation
import SQLKit
import StratusCore
import StratusStorage
import StratusTesting
import Testing

let widgets = Migration("test.1", sql: [
    "CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, generation INTEGER NOT NULL DEFAULT 0)"
])

@Suite("Storage")
struct StorageTests {
    @Test("a pool of one connection still answers queries while the notification listener holds its own")
    func poolOfOne() async throws {
        try await TestDatabase.withStorage(maxConnections: 1) { storage in
            // Bounded: the bug this guards against is every query waiting forever for the listener's connection.
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for _ in 0..<3 { _ = try await storage.read { sql in try await sql.raw("SELECT 1 AS one").first() } }
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(30))
                    return false
                }
                let answered = try await group.next() ?? false
                group.cancelAll()
                #expect(answered, "queries on a pool of one never got a connection within 30 s")
            }
        }
    }

    @Test("migrations apply once and are recorded")
    func migrationsApplyOnce() async throws {
        try await TestDatabase.withStorage { storage in
            let first = try await Migrator.apply([widgets], to: storage, logger: TestDatabase.logger)
            let second = try await Migrator.apply([widgets], to: storage, logger: TestDatabase.logger)
            #expect(first == ["test.1"])
            #expect(second.isEmpty)
        }
    }

    @Test("a transaction that throws leaves nothing behind")
    func rollback() async throws {
        struct Boom: Error {}
        try await TestDatabase.withStorage(migrations: [widgets]) { storage in
            await #expect(throws: Boom.self) {
                try await storage.transaction { tx in
                    try await tx.sql.raw("INSERT INTO widgets (id, name) VALUES ('a', 'one')").run()
                    throw Boom()
                }
            }
            let count = try await storage.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM widgets").first()!.decode(column: "n", as: Int.self)
            }
            #expect(count == 0)
        }
    }

    @Test("unique violations are recognised on both engines")
    func uniqueViolation() async throws {
        try await TestDatabase.withStorage(migrations: [widgets]) { storage in
            try await storage.transaction { tx in
                try await tx.sql.raw("INSERT INTO widgets (id, name) VALUES ('a', 'one')").run()
            }
            do {
                try await storage.transaction { tx in
                    try await tx.sql.raw("INSERT INTO widgets (id, name) VALUES ('b', 'one')").run()
                }
                Issue.record("duplicate insert succeeded")
            } catch {
                #expect(Storage.isUniqueViolation(error))
            }
        }
    }

    @Test("20 concurrent compare-and-swaps on one generation: exactly one wins")
    func generationCompareAndSwap() async throws {
        try await TestDatabase.withStorage(migrations: [widgets]) { storage in
            try await storage.transaction { tx in
                try await tx.sql.raw("INSERT INTO widgets (id, name, generation) VALUES ('w', 'w', 7)").run()
            }
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await storage.transaction { tx in
                            try await tx.bumpGeneration(table: "widgets", key: "w", expected: 7) != nil
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            let generation = try await storage.read { sql in
                try await sql.raw("SELECT generation FROM widgets WHERE id = 'w'").first()!.decode(column: "generation", as: Int.self)
            }
            #expect(generation == 8)
        }
    }

    @Test("database URLs parse, and bad ones say what is expected")
    func databaseURLs() throws {
        let pg = try DatabaseURL(parsing: "postgresql://nova:secret@db.example:6432/stratus")
        #expect(pg.engine == .postgresql && pg.host == "db.example" && pg.port == 6432 && pg.database == "stratus")
        #expect(pg.password == "secret" && !pg.description.contains("secret"))
        #expect(try DatabaseURL(parsing: "sqlite:///var/lib/x.db").path == "/var/lib/x.db")
        #expect(throws: ConfigError.self) { try DatabaseURL(parsing: "mysql://x@y/z") }
        #expect(throws: ConfigError.self) { try DatabaseURL(parsing: "postgresql://x@host/") }
    }
}
