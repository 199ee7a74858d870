import StratusStorage

/// The queue's tables: messages (the outbox and the inbox in one), replies to calls, and processed-message
/// markers that make handlers idempotent.
public enum QueueSchema {
    public static let migrations: [Migration] = [
        Migration(
            "queue.1",
            sql: [
                """
                CREATE TABLE queue_messages (
                    id TEXT PRIMARY KEY,
                    topic TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    request_id TEXT,
                    state TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    available_at DOUBLE PRECISION NOT NULL, -- ready: when it may run; leased: when the lease ends
                    expires_at DOUBLE PRECISION,
                    lease_owner TEXT,
                    lease_expires_at DOUBLE PRECISION,
                    last_error TEXT,
                    created_at DOUBLE PRECISION NOT NULL,
                    finished_at DOUBLE PRECISION
                )
                """,
                // Only claimable rows are indexed, so finished messages never slow a claim down.
                """
                CREATE INDEX queue_messages_claimable ON queue_messages (topic, available_at)
                WHERE state IN ('ready', 'leased')
                """,
                """
                CREATE TABLE queue_replies (
                    call_id TEXT PRIMARY KEY,
                    payload TEXT,
                    error TEXT,
                    created_at DOUBLE PRECISION NOT NULL
                )
                """,
                """
                CREATE TABLE queue_processed (
                    handler TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    processed_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (handler, message_id)
                )
                """,
            ]),
    ]
}
