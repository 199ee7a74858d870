import Foundation
import SQLKit
import StratusCore
import StratusStorage

/// The durable work queue: messages are rows, written in the same transaction as the state they announce.
///
/// Delivery is at-least-once: a consumer leases messages, and a lease that expires (the consumer died) makes
/// the message claimable again. Handlers stay idempotent with `markProcessed`, keyed by message id.
public struct Queue: Sendable {
    /// Settings from `[queue]`.
    public struct Settings: Sendable {
        public var leaseSeconds: Double = 30
        public var maxAttempts: Int = 5
        public var retryBackoffSeconds: Double = 1
        public var pollInterval: Duration = .seconds(1)
        public init() {}
    }

    public let storage: Storage
    public let settings: Settings

    public init(storage: Storage, settings: Settings = .init()) {
        self.storage = storage
        self.settings = settings
    }

    /// The wake-up an enqueue to `topic` signals. Topics of a family (`compute.HOST`) share one, so a consumer of
    /// many of them (an agent serving many hosts) waits on one channel.
    public static func wakeUpChannel(_ topic: String) -> String {
        topic.firstIndex(of: ".").map { "queue.\(topic[..<$0]).*" } ?? "queue.\(topic)"
    }
    static func replyChannel(_ callID: String) -> String { "reply.\(callID)" }

    // MARK: Sending

    /// Enqueues inside the caller's transaction: if it rolls back, the message never existed.
    /// Enqueuing the same `id` twice keeps the first (idempotent producers).
    @discardableResult
    public func enqueue(
        topic: String, payload: JSON, kind: QueueMessage.Kind = .cast, id: String = Identifier.uuid(),
        requestID: String? = nil, delay: Double = 0, expiresAt: Double? = nil, in tx: Transaction
    ) async throws -> String {
        let channel = Self.wakeUpChannel(topic)
        // The first enqueue of a transaction to a channel carries its NOTIFY in RETURNING: one round trip, not two.
        let notify = tx.pendingWakeUpCall(channel)
        let inserted = try await tx.sql.raw(
            Self.insertHead + row(id: id, topic: topic, kind: kind, payload: payload, requestID: requestID, delay: delay, expiresAt: expiresAt)
                + " ON CONFLICT (id) DO NOTHING" + (notify.map { " RETURNING " + $0 } ?? "")
        ).first() != nil
        if notify == nil || inserted { tx.wakeUpCarried(channel) }
        return id
    }

    /// Enqueues several casts to one topic inside the caller's transaction, in one statement per 200 (a batch of
    /// agents' acks carries one report each). Each gets a new id; returns them in order.
    @discardableResult
    public func enqueue(topic: String, payloads: [(payload: JSON, requestID: String?)], in tx: Transaction) async throws -> [String] {
        guard !payloads.isEmpty else { return [] }
        let channel = Self.wakeUpChannel(topic)
        var ids: [String] = []
        for start in stride(from: 0, to: payloads.count, by: 200) {
            var rows: [SQLQueryString] = []
            for (payload, requestID) in payloads[start..<min(start + 200, payloads.count)] {
                let id = Identifier.uuid()
                ids.append(id)
                rows.append(row(id: id, topic: topic, kind: .cast, payload: payload, requestID: requestID, delay: 0, expiresAt: nil))
            }
            var insert = Self.insertHead
            for (i, row) in rows.enumerated() { insert = insert + (i == 0 ? "" : ", ") + row }
            // New ids never conflict, so RETURNING yields rows and the NOTIFY it carries is sent.
            let notify = tx.pendingWakeUpCall(channel)
            try await tx.sql.raw(insert + (notify.map { " RETURNING " + $0 } ?? "")).run()
            tx.wakeUpCarried(channel)
        }
        return ids
    }

    /// The head of an insert of new messages; `row(…)` gives each one's values.
    static let insertHead: SQLQueryString = "INSERT INTO queue_messages (id, topic, kind, payload, request_id, state, attempts, "
        + "max_attempts, available_at, expires_at, created_at) VALUES "

    /// One new message's row for `insertHead`.
    private func row(id: String, topic: String, kind: QueueMessage.Kind, payload: JSON, requestID: String?, delay: Double,
                     expiresAt: Double?) -> SQLQueryString {
        """
        (\(bind: id), \(bind: topic), \(bind: kind.rawValue), \(bind: payload.encodedString()), \(bind: requestID), 'ready', 0,
            \(bind: settings.maxAttempts), \(storage.now) + \(bind: delay), \(bind: expiresAt), \(storage.statementNow))
        """
    }

    /// Fire and forget, in a transaction of its own.
    @discardableResult
    public func cast(topic: String, payload: JSON, requestID: String? = nil) async throws -> String {
        try await storage.transaction { tx in
            try await enqueue(topic: topic, payload: payload, requestID: requestID, in: tx)
        }
    }

    /// Request/reply: enqueues a call and waits for its reply. Past `timeout` the caller gives up with
    /// `QueueError.timeout`, and a consumer that finds the call later drops it as expired.
    public func call(topic: String, payload: JSON, timeout: Double, requestID: String? = nil) async throws -> JSON {
        let deadline = Clock.now() + timeout
        let channel = Self.replyChannel(Identifier.uuid())
        let callID = String(channel.dropFirst("reply.".count))
        try await storage.transaction { tx in
            try await enqueue(
                topic: topic, payload: payload, kind: .call, id: callID, requestID: requestID, expiresAt: deadline,
                in: tx)
        }
        while true {
            let version = storage.wakeups.version(channel)
            if let reply = try await takeReply(callID) {
                if let error = reply.error { throw QueueError.remote(topic: topic, message: error) }
                return reply.payload
            }
            let remaining = deadline - Clock.now()
            if remaining <= 0 { throw QueueError.timeout(topic: topic, seconds: timeout) }
            let pollSeconds = min(remaining, 1.0)
            await storage.wakeups.wait(channel, since: version, timeout: .milliseconds(Int(pollSeconds * 1000) + 1))
        }
    }

    private func takeReply(_ callID: String) async throws -> (payload: JSON, error: String?)? {
        try await storage.transaction { tx in
            guard
                let row = try await tx.sql.raw(
                    "DELETE FROM queue_replies WHERE call_id = \(bind: callID) RETURNING payload, error"
                ).first()
            else { return nil }
            let text = try row.decode(column: "payload", as: String?.self)
            let error = try row.decode(column: "error", as: String?.self)
            return ((try? JSON.parse(text ?? "null")) ?? .null, error)
        }
    }

    /// Answers a call. Idempotent: a redelivered call answered twice keeps the first answer.
    public func reply(to message: QueueMessage, payload: JSON?, error: String? = nil, in tx: Transaction) async throws {
        guard message.kind == .call else { return }
        try await tx.sql.raw(
            """
            INSERT INTO queue_replies (call_id, payload, error, created_at)
            VALUES (\(bind: message.id), \(bind: payload?.encodedString()), \(bind: error), \(storage.now))
            ON CONFLICT (call_id) DO NOTHING
            """
        ).run()
        try await tx.wakeUpAfterCommit(Self.replyChannel(message.id))
    }

    // MARK: Consuming

    /// Leases up to `limit` messages of `topic` for `owner`: ready ones, and ones whose lease expired because
    /// their consumer died. On PostgreSQL `SKIP LOCKED` lets many consumers claim at once without blocking;
    /// on SQLite the single writer serialises claims.
    public func claim(topic: String, owner: String, limit: Int = 1) async throws -> [QueueMessage] {
        try await claim(topics: [topic], owner: owner, limit: limit)
    }

    /// Leases up to `limit` messages of any of `topics` (an agent serving many hosts).
    public func claim(topics: [String], owner: String, limit: Int) async throws -> [QueueMessage] {
        guard !topics.isEmpty, limit > 0 else { return [] }
        let now = storage.now
        // One self-contained statement, so autocommit: atomic on its own and one round trip, not three. Every
        // time in it is the database's.
        let rows = try await storage.autocommit { sql in
            let lock: SQLQueryString = storage.engine == .postgresql ? " FOR UPDATE SKIP LOCKED" : ""
            return try await sql.raw(
                """
                UPDATE queue_messages SET state = 'leased', lease_owner = \(bind: owner),
                    lease_expires_at = \(now) + \(bind: settings.leaseSeconds), available_at = \(now) + \(bind: settings.leaseSeconds),
                    attempts = attempts + 1
                WHERE id IN (
                    SELECT id FROM queue_messages
                    WHERE \(topicCondition(topics)) AND state IN ('ready', 'leased') AND available_at <= \(now)
                    ORDER BY available_at LIMIT \(bind: limit)\(lock))
                RETURNING id, topic, kind, payload, request_id, attempts, max_attempts, expires_at, created_at, \(now) AS database_now
                """
            ).all()
        }
        var claimed: [QueueMessage] = []
        for row in rows {
            let id = try row.decode(column: "id", as: String.self)
            let attempts = try row.decode(column: "attempts", as: Int.self)
            let maxAttempts = try row.decode(column: "max_attempts", as: Int.self)
            if let expiresAt = try row.decode(column: "expires_at", as: Double?.self),
               expiresAt < (try row.decode(column: "database_now", as: Double.self)) {
                try await markDead(id, reason: "call expired before delivery: the caller stopped waiting")
                continue
            }
            if attempts > maxAttempts {
                // Its consumers kept dying while holding it: stop redelivering a poison message.
                try await markDead(id, reason: "lease expired on each of \(maxAttempts) deliveries")
                continue
            }
            var message = try Self.message(row)
            message.sentAt = try row.decode(column: "created_at", as: Double.self)
            message.claimedAt = try row.decode(column: "database_now", as: Double.self)
            claimed.append(message)
        }
        return claimed
    }

    /// The claim's topic condition: a few topics as binds; many (an agent serving 1,000 fake hosts) as one
    /// array. With 1,000 binds PostgreSQL spent ~8 ms planning each claim; a JSON array joined as a set was planned
    /// as a nested loop that expanded it once per claimable row (38 ms a claim on average, up to 150 ms). A
    /// `text[]` is one index probe per topic (~1 ms); SQLite makes the JSON array a temporary index.
    func topicCondition(_ topics: [String]) -> SQLQueryString {
        guard topics.count > 8 else { return "topic IN (\(binds: topics))" }
        switch storage.engine {
        case .postgresql: return "topic = ANY(CAST(\(bind: topics) AS TEXT[]))"
        case .sqlite: return "topic IN (SELECT value FROM json_each(\(bind: JSON.array(topics.map { .string($0) }).encodedString())))"
        }
    }

    /// A `queue_messages` row as a consumer sees it.
    static func message(_ row: any SQLRow) throws -> QueueMessage {
        QueueMessage(
            id: try row.decode(column: "id", as: String.self), topic: try row.decode(column: "topic", as: String.self),
            kind: QueueMessage.Kind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .cast,
            payload: (try? JSON.parse(try row.decode(column: "payload", as: String.self))) ?? .null,
            requestID: try row.decode(column: "request_id", as: String?.self),
            attempt: try row.decode(column: "attempts", as: Int.self), maxAttempts: try row.decode(column: "max_attempts", as: Int.self))
    }

    /// Marks a leased message done. Returns false if `owner` no longer holds the lease (it expired and the
    /// message went to another consumer), so the caller knows its work may be repeated.
    @discardableResult
    public func ack(_ message: QueueMessage, owner: String, in tx: Transaction) async throws -> Bool {
        try await ack(id: message.id, owner: owner, in: tx)
    }

    /// Acks by id inside the caller's transaction (an agent settling its lease over HTTP).
    public func ack(id: String, owner: String, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw(ackStatement(ids: [id], owner: owner)).first() != nil
    }

    /// Answers a call and acks it in one transaction. False if `owner` lost the lease meanwhile; the answer is kept
    /// all the same (the caller may still be waiting, and a redelivery's answer would only repeat it).
    public func answer(_ message: QueueMessage, owner: String, payload: JSON?) async throws -> Bool {
        try await storage.transaction { tx in
            try await reply(to: message, payload: payload, in: tx)
            return try await ack(message, owner: owner, in: tx)
        }
    }

    /// Acks on its own (autocommit), for handlers whose effects are outside the database.
    @discardableResult
    public func ack(_ message: QueueMessage, owner: String) async throws -> Bool {
        try await storage.autocommit { sql in
            try await sql.raw(ackStatement(ids: [message.id], owner: owner)).first() != nil
        }
    }

    /// Acks many leased messages in one statement (a consumer's finished batch); returns the ids acked.
    @discardableResult
    public func ack(_ messages: [QueueMessage], owner: String) async throws -> Set<String> {
        guard !messages.isEmpty else { return [] }
        return try await storage.autocommit { sql in
            Set(try await sql.raw(ackStatement(ids: messages.map(\.id), owner: owner)).all().map { try $0.decode(column: "id", as: String.self) })
        }
    }

    /// Acks many messages, each under its own lease, inside the caller's transaction (an agent settling a batch);
    /// returns the ids whose lease was held. One statement per distinct lease: a claim's deliveries share one.
    public func ack(leases: [(id: String, owner: String)], in tx: Transaction) async throws -> Set<String> {
        var acked: Set<String> = []
        for (owner, items) in Dictionary(grouping: leases, by: \.owner) {
            let rows = try await tx.sql.raw(ackStatement(ids: items.map(\.id), owner: owner)).all()
            for row in rows { acked.insert(try row.decode(column: "id", as: String.self)) }
        }
        return acked
    }

    /// Marks the messages of `ids` that `owner` still leases done; returns the ids it marked.
    func ackStatement(ids: [String], owner: String) -> SQLQueryString {
        """
        UPDATE queue_messages SET state = 'done', finished_at = \(storage.now), lease_owner = NULL,
            lease_expires_at = NULL
        WHERE id IN (\(binds: ids)) AND lease_owner = \(bind: owner) AND state = 'leased'
        RETURNING id
        """
    }

    /// Records a failed delivery: retried after a doubling backoff, or dead-lettered with `reason` once the
    /// attempts are used up.
    /// A `permanent` failure (the message can never be handled) is dead-lettered at once.
    public func fail(_ message: QueueMessage, owner: String, reason: String, permanent: Bool = false) async throws {
        try await storage.transaction { tx in
            if permanent || message.attempt >= message.maxAttempts {
                try await tx.sql.raw(
                    """
                    UPDATE queue_messages SET state = 'dead', last_error = \(bind: reason),
                        finished_at = \(storage.now), lease_owner = NULL
                    WHERE id = \(bind: message.id) AND lease_owner = \(bind: owner) AND state = 'leased'
                    """
                ).run()
                try await reply(to: message, payload: nil, error: reason, in: tx)
                return
            }
            let delay = settings.retryBackoffSeconds * pow(2, Double(message.attempt - 1))
            try await tx.sql.raw(
                """
                UPDATE queue_messages SET state = 'ready', last_error = \(bind: reason),
                    available_at = \(storage.now) + \(bind: delay), lease_owner = NULL, lease_expires_at = NULL
                WHERE id = \(bind: message.id) AND lease_owner = \(bind: owner) AND state = 'leased'
                """
            ).run()
            try await tx.wakeUpAfterCommit(Self.wakeUpChannel(message.topic))
        }
    }

    /// The message `owner` holds the lease on, or nil (no such message, or the lease is someone else's or over).
    public func leased(id: String, owner: String) async throws -> QueueMessage? {
        try await storage.read { sql in
            try await sql.raw(
                """
                SELECT id, topic, kind, payload, request_id, attempts, max_attempts FROM queue_messages
                WHERE id = \(bind: id) AND lease_owner = \(bind: owner) AND state = 'leased'
                """
            ).first().map(Self.message)
        }
    }

    /// Extends a lease held by `owner` for long-running work. Returns false if the lease was lost.
    public func extendLease(_ message: QueueMessage, owner: String) async throws -> Bool {
        try await storage.transaction { tx in
            try await tx.sql.raw(
                """
                UPDATE queue_messages SET lease_expires_at = \(storage.now) + \(bind: settings.leaseSeconds),
                    available_at = \(storage.now) + \(bind: settings.leaseSeconds)
                WHERE id = \(bind: message.id) AND lease_owner = \(bind: owner) AND state = 'leased'
                RETURNING id
                """
            ).first() != nil
        }
    }

    private func markDead(_ id: String, reason: String) async throws {
        try await storage.autocommit { sql in
            try await sql.raw(
            """
            UPDATE queue_messages SET state = 'dead', last_error = \(bind: reason), finished_at = \(storage.now),
                lease_owner = NULL
            WHERE id = \(bind: id)
            """
            ).run()
        }
    }

    /// Records that `handler` processed `messageID`, in the handler's own transaction. Returns false if it had
    /// already: the handler then skips its effects, which makes redelivery harmless.
    public func markProcessed(messageID: String, handler: String, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw(
            """
            INSERT INTO queue_processed (handler, message_id, processed_at)
            VALUES (\(bind: handler), \(bind: messageID), \(storage.now))
            ON CONFLICT (handler, message_id) DO NOTHING
            RETURNING message_id
            """
        ).first() != nil
    }

    // MARK: Operators

    /// Messages that exhausted their attempts, newest first.
    public func deadLetters(topic: String? = nil) async throws -> [DeadLetter] {
        try await storage.read { sql in
            let rows: [any SQLRow]
            if let topic {
                rows = try await sql.raw(
                    """
                    SELECT id, topic, payload, attempts, last_error FROM queue_messages
                    WHERE state = 'dead' AND topic = \(bind: topic) ORDER BY finished_at DESC
                    """
                ).all()
            } else {
                rows = try await sql.raw(
                    """
                    SELECT id, topic, payload, attempts, last_error FROM queue_messages
                    WHERE state = 'dead' ORDER BY finished_at DESC
                    """
                ).all()
            }
            return try rows.map { row in
                DeadLetter(
                    id: try row.decode(column: "id", as: String.self),
                    topic: try row.decode(column: "topic", as: String.self),
                    payload: (try? JSON.parse(try row.decode(column: "payload", as: String.self))) ?? .null,
                    attempts: try row.decode(column: "attempts", as: Int.self),
                    reason: try row.decode(column: "last_error", as: String?.self) ?? "")
            }
        }
    }

    /// Counts of messages by state for a topic (for diagnostics and tests).
    public func counts(topic: String) async throws -> [String: Int] {
        try await storage.read { sql in
            let rows = try await sql.raw(
                "SELECT state, COUNT(*) AS n FROM queue_messages WHERE topic = \(bind: topic) GROUP BY state"
            ).all()
            var result: [String: Int] = [:]
            for row in rows {
                result[try row.decode(column: "state", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return result
        }
    }

    /// Deletes finished messages older than `age` seconds; dead letters are kept for operators.
    public func purgeDone(olderThan age: Double) async throws {
        try await storage.transaction { tx in
            let cutoff: SQLQueryString = "\(storage.now) - \(bind: age)"
            try await tx.sql.raw("DELETE FROM queue_messages WHERE state = 'done' AND finished_at < \(cutoff)").run()
            try await tx.sql.raw("DELETE FROM queue_processed WHERE processed_at < \(cutoff)").run()
            try await tx.sql.raw("DELETE FROM queue_replies WHERE created_at < \(cutoff)").run()
        }
    }
}
