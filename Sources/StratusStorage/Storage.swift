import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO
import StratusCore
import Synchronization

/// One database, SQLite or PostgreSQL, behind the same queries.
///
/// SQLite: one connection in WAL mode behind a FIFO lock (one writer; every transaction holds it).
/// PostgreSQL: postgres-nio's `PostgresClient` pool; each transaction leases one connection.
public final class Storage: Sendable {
    public let engine: DatabaseEngine
    public let url: DatabaseURL
    /// In-process wake-ups; on PostgreSQL also fed by LISTEN from other processes.
    public let wakeups: WakeUpHub
    let logger: Logger
    private let backend: Backend
    private let subscribers = Mutex<[String: [NotificationInbox]]>([:])

    /// What a subscriber to a PostgreSQL channel receives.
    public enum Notification: Sendable, Equatable {
        case message(String)
        /// The listener lost its connection: notifications may have been missed since the last one.
        case gap
    }

    /// Channels other than wake-ups that the listener follows (`PlacementSchema.changeChannel`).
    public static let dataChannels = ["stratus_placement"]

    enum Backend: Sendable {
        case sqlite(SQLiteConnection, AsyncLock)
        case postgres(PostgresClient)
    }

    /// The channel PostgreSQL NOTIFY uses for wake-ups; the payload is the in-process channel name.
    static let notifyChannel = "stratus_wakeup"

    private init(url: DatabaseURL, backend: Backend, logger: Logger) {
        self.engine = url.engine
        self.url = url
        self.backend = backend
        self.wakeups = WakeUpHub()
        self.logger = logger
    }

    /// Opens the database, runs `body`, and closes it again. Connection problems become `StorageError`s
    /// that say what was tried.
    public static func withStorage<T: Sendable>(
        _ url: DatabaseURL, maxConnections: Int = 20, logger: Logger,
        _ body: @Sendable (Storage) async throws -> T
    ) async throws -> T {
        switch url.engine {
        case .sqlite:
            let connection = try await openSQLite(url, logger: logger)
            let storage = Storage(url: url, backend: .sqlite(connection, AsyncLock()), logger: logger)
            do {
                let result = try await body(storage)
                await close(connection)
                return result
            } catch {
                await close(connection)
                throw error
            }
        case .postgresql:
            try await probePostgres(url, logger: logger)
            var configuration = PostgresClient.Configuration(
                host: url.host, port: url.port, username: url.username, password: url.password,
                database: url.database, tls: .disable)
            // One more than asked: the notification listener holds one connection for good, and with a pool of
            // one nothing else would ever get a connection (every query would wait forever).
            configuration.options.maximumConnections = maxConnections + 1
            configuration.options.connectTimeout = .seconds(5)
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            let storage = Storage(url: url, backend: .postgres(client), logger: logger)
            // The pool and the listener must outlive `body`: when the caller is cancelled, `body` shuts its services
            // down and they may still need the database. Structured children would be cancelled at the same moment
            // (and a lease from a stopped pool waits forever), so these two run unstructured and stop after `body`.
            let pool = Task { await client.run() }
            let listener = Task { await storage.listenForWakeUps(client) }
            let result: Result<T, any Error>
            do { result = .success(try await body(storage)) } catch { result = .failure(error) }
            listener.cancel()
            await listener.value
            pool.cancel()
            await pool.value
            return try result.get()
        }
    }

    /// Closes outside the caller's task: a cancelled task (shutdown) must still close, or SQLite-NIO traps.
    private static func close(_ connection: SQLiteConnection) async {
        await Task { try? await connection.close() }.value
    }

    private static func openSQLite(_ url: DatabaseURL, logger: Logger) async throws -> SQLiteConnection {
        let connection: SQLiteConnection
        do {
            let storage: SQLiteConnection.Storage = url.path == ":memory:" ? .memory : .file(path: url.path)
            connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        } catch {
            throw StorageError.unavailable("cannot open SQLite database \(url.path): \(error)")
        }
        let db = connection.sql(queryLogLevel: nil)
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000",
                       "PRAGMA foreign_keys=ON"] {
            do { try await db.raw(SQLQueryString(pragma)).run() } catch {
                await close(connection)
                throw StorageError.unavailable("cannot use SQLite database \(url.path): \(error)")
            }
        }
        return connection
    }

    /// Connects once, directly, so a refused or misconfigured PostgreSQL fails fast with a clear message
    /// instead of the pool retrying forever.
    private static func probePostgres(_ url: DatabaseURL, logger: Logger) async throws {
        let configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password,
            database: url.database, tls: .disable)
        do {
            let connection = try await PostgresConnection.connect(
                configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            let detail = error.serverInfo?[.message] ?? "\(error.code)"
            throw StorageError.unavailable("cannot connect to PostgreSQL at \(url): \(detail)")
        } catch {
            throw StorageError.unavailable("cannot connect to PostgreSQL at \(url): \(error)")
        }
    }

    /// Runs `body` in one transaction on one connection. Throwing rolls back; `afterCommit` hooks run only
    /// after a successful commit.
    public func transaction<T: Sendable>(_ body: @Sendable (Transaction) async throws -> T) async throws -> T {
        let hooks = CommitHooks()
        let result: T
        switch backend {
        case .sqlite(let connection, let lock):
            result = try await lock.withLock {
                let sql = connection.sql(queryLogLevel: nil)
                try await sql.raw("BEGIN IMMEDIATE").run()
                do {
                    let value = try await body(Transaction(sql: sql, engine: .sqlite, hooks: hooks))
                    try await sql.raw("COMMIT").run()
                    return value
                } catch {
                    try? await sql.raw("ROLLBACK").run()
                    throw error
                }
            }
        case .postgres(let client):
            result = try await client.withConnection { connection in
                let sql = connection.sql(queryLogLevel: nil)
                try await sql.raw("BEGIN").run()
                do {
                    let value = try await body(Transaction(sql: sql, engine: .postgresql, hooks: hooks))
                    try await sql.raw("COMMIT").run()
                    return value
                } catch {
                    try? await sql.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
        for channel in hooks.channels() { wakeups.signal(channel) }
        return result
    }

    /// Runs statements in autocommit mode: each one is atomic and durable on its own, with no BEGIN/COMMIT
    /// round trips. For a single self-contained write (a claim, an ack) that needs no after-commit wake-up.
    public func autocommit<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await read(body)
    }

    /// Runs read-only work. On PostgreSQL it does not hold a transaction; on SQLite it queues behind writers.
    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let connection, let lock):
            return try await lock.withLock { try await body(connection.sql(queryLogLevel: nil)) }
        case .postgres(let client):
            return try await client.withConnection { connection in try await body(connection.sql(queryLogLevel: nil)) }
        }
    }

    /// Notifications on `channel` (one of `dataChannels`) from every process, this one included. On SQLite there
    /// is one process and the stream stays silent.
    /// Subscribers live as long as the storage (a process's few services).
    public func notifications(_ channel: String) -> NotificationInbox {
        let inbox = NotificationInbox()
        subscribers.withLock { $0[channel, default: []].append(inbox) }
        return inbox
    }

    private func deliver(_ notification: Notification, on channel: String?) {
        let targets = subscribers.withLock { subscribers in channel.map { subscribers[$0, default: []] } ?? subscribers.values.flatMap { $0 } }
        for target in targets { target.put(notification) }
    }

    private func listenForWakeUps(_ client: PostgresClient) async {
        var attempts = 0
        while !Task.isCancelled {
            let reconnecting = attempts > 0
            attempts += 1
            do {
                try await client.withConnection { connection in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let wakeUps = try await connection.listen(Self.notifyChannel)
                        var streams: [(String, PostgresNotificationSequence)] = []
                        for channel in Self.dataChannels { streams.append((channel, try await connection.listen(channel))) }
                        // Whatever was announced while no listener ran is unknown: subscribers reload.
                        if reconnecting { self.deliver(.gap, on: nil) }
                        group.addTask { for try await notification in wakeUps { self.wakeups.signal(notification.payload) } }
                        for (channel, stream) in streams {
                            group.addTask { for try await notification in stream { self.deliver(.message(notification.payload), on: channel) } }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("notification listener reconnecting: \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// "Now" in seconds since 1970, as SQL. On PostgreSQL it is the database's clock, so what decides lease ownership
    /// does not depend on which machine asks (processes on many machines share one queue); SQLite serves one process,
    /// whose clock it binds. PostgreSQL's now() is the statement's (autocommit) or transaction's start: stable, so
    /// an index can bound on it.
    public var now: SQLQueryString {
        engine == .postgresql ? "EXTRACT(EPOCH FROM now())::DOUBLE PRECISION" : "\(bind: Clock.now())"
    }

    /// The database's clock when the statement runs (PostgreSQL's `clock_timestamp()`, not the transaction's
    /// start): for recording when something happened late in a long transaction, never for what an index bounds.
    public var statementNow: SQLQueryString {
        engine == .postgresql ? "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION" : "\(bind: Clock.now())"
    }

    /// Whether `error` is a unique-constraint violation, on either engine.
    public static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "23505" }
        if let error = error as? SQLiteError {
            return error.reason == .constraint || error.reason == .constraintUniqueFailed
                || error.reason == .constraintPrimaryKeyFailed
        }
        return false
    }
}

/// One open transaction: its SQL handle, and a way to announce work once it commits.
public struct Transaction: Sendable {
    public let sql: any SQLDatabase
    public let engine: DatabaseEngine
    let hooks: CommitHooks

    /// Wakes in-process waiters on `channel` after commit; on PostgreSQL other processes too (NOTIFY is
    /// transactional there, so a rolled-back transaction wakes no one).
    public func wakeUpAfterCommit(_ channel: String) async throws {
        // Once per channel and transaction: PostgreSQL folds identical notifications of a transaction into one
        // anyway, so a second pg_notify would only be another round trip.
        if hooks.add(channel), engine == .postgresql {
            try await sql.raw("SELECT pg_notify(\(bind: Storage.notifyChannel), \(bind: channel))").run()
        }
    }
}

extension Transaction {
    /// The `pg_notify` call a wake-up on `channel` still needs in this transaction, for the caller to carry in a
    /// statement it runs anyway (a `RETURNING` list): nil on SQLite or when this transaction already notifies
    /// `channel`. Once that statement has produced a row, `wakeUpCarried(_:)` records the wake-up; a statement
    /// that produced none (an idempotent insert that found its row) sent no notification, and nothing is recorded.
    public func pendingWakeUpCall(_ channel: String) -> SQLQueryString? {
        guard engine == .postgresql, !hooks.contains(channel) else { return nil }
        return "pg_notify(\(bind: Storage.notifyChannel), \(bind: channel))"
    }

    /// Records that a statement carried `channel`'s notification (or, on SQLite, that in-process waiters wake
    /// after commit).
    public func wakeUpCarried(_ channel: String) {
        _ = hooks.add(channel)
    }
}

final class CommitHooks: Sendable {
    private let pending = Mutex<Set<String>>([])
    /// Adds `channel`; true if it was not pending yet.
    func add(_ channel: String) -> Bool { pending.withLock { $0.insert(channel).inserted } }
    func contains(_ channel: String) -> Bool { pending.withLock { $0.contains(channel) } }
    func channels() -> Set<String> { pending.withLock { $0 } }
}

/// Storage failures that are not the caller's fault.
public enum StorageError: Error, Sendable, CustomStringConvertible {
    case unavailable(String)
    case migrationFailed(String)

    public var description: String {
        switch self {
        case .unavailable(let message): return message
        case .migrationFailed(let message): return message
        }
    }
}
