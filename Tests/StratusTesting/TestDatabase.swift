import Foundation
import Logging
import PostgresNIO
import StratusCore
import StratusStorage

/// The database engine tests run on: SQLite by default; PostgreSQL when `STRATUS_TEST_POSTGRES_URL` names a
/// server (scripts/test starts a throwaway one). Each test gets a database of its own.
public enum TestDatabase {
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["STRATUS_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var engine: DatabaseEngine { postgresURL == nil ? .sqlite : .postgresql }

    public static let logger: Logger = {
        var logger = Logger(label: "stratus-test")
        logger.logLevel = ProcessInfo.processInfo.environment["STRATUS_TEST_LOG"] == nil ? .critical : .debug
        return logger
    }()

    /// A fresh, empty database URL: a new SQLite file, or a new PostgreSQL database.
    public static func freshURL() async throws -> (url: DatabaseURL, cleanup: @Sendable () async -> Void) {
        guard let postgresURL else {
            let dir = try TemporaryDirectory.make()
            return (.sqlite(path: dir + "/test.sqlite"), { try? FileManager.default.removeItem(atPath: dir) })
        }
        let admin = try DatabaseURL(parsing: postgresURL)
        let name = "t_" + Identifier.keystone().prefix(16)
        try await adminExecute(admin, "CREATE DATABASE \(name)")
        let url = try DatabaseURL(
            parsing: "postgresql://\(admin.username)@\(admin.host):\(admin.port)/\(name)")
        return (url, { try? await adminExecute(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") })
    }

    /// Runs one statement on the server's admin database. Retried for a while: with dozens of test clouds running at
    /// once the server can be out of connections for a moment ("too many clients already").
    static func adminExecute(_ admin: DatabaseURL, _ statement: String) async throws {
        let configuration = PostgresConnection.Configuration(
            host: admin.host, port: admin.port, username: admin.username, password: admin.password,
            database: admin.database, tls: .disable)
        var attempt = 0
        while true {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
                defer { Task { try? await connection.close() } }
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                return
            } catch {
                attempt += 1
                if attempt >= 40 { throw error }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Runs `body` with open storage on a fresh database, with `migrations` applied.
    public static func withStorage<T: Sendable>(
        migrations: [Migration] = [], maxConnections: Int = 24, _ body: @Sendable (Storage) async throws -> T
    ) async throws -> T {
        let (url, cleanup) = try await freshURL()
        do {
            let result = try await Storage.withStorage(url, maxConnections: maxConnections, logger: logger) { storage in
                try await Migrator.apply(migrations, to: storage, logger: logger)
                return try await body(storage)
            }
            await cleanup()
            return result
        } catch {
            await cleanup()
            throw error
        }
    }
}

/// Temporary directories for tests.
public enum TemporaryDirectory {
    public static func make() throws -> String {
        let path = NSTemporaryDirectory() + "stratus-test-" + Identifier.keystone().prefix(12)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
