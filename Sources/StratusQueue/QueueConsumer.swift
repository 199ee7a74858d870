import Logging
import Synchronization
import ServiceLifecycle
import StratusCore

/// Consumes one topic: claims messages, runs the handler, acks or schedules a retry. A `Service`, so it starts
/// and stops with the process and finishes the message in hand on graceful shutdown.
public struct QueueConsumer: Service {
    /// Handles one message; returns the reply for calls (ignored for casts). Throwing schedules a retry.
    public typealias Handler = @Sendable (QueueMessage) async throws -> JSON?

    public let queue: Queue
    public let topic: String
    /// Names this consumer in leases; unique per process and topic.
    public let owner: String
    public let batchSize: Int
    let handler: Handler
    let logger: Logger

    public init(queue: Queue, topic: String, owner: String = Identifier.uuid(), batchSize: Int = 16,
                logger: Logger, handler: @escaping Handler) {
        self.queue = queue
        self.topic = topic
        self.owner = owner
        self.batchSize = batchSize
        self.handler = handler
        self.logger = logger
    }

    public func run() async throws {
        let channel = Queue.wakeUpChannel(topic)
        // Each message runs in its own task and is acked when it is done: a slow one holds neither the others'
        // acks nor the next claim; at most `batchSize` are in hand.
        let acks = AckBuffer()
        await cancelWhenGracefulShutdown {
            await LeasedWorkLoop(capacity: batchSize).run { limit in
                let version = queue.storage.wakeups.version(channel)
                do {
                    let batch = try await queue.claim(topic: topic, owner: owner, limit: limit)
                    if batch.isEmpty {
                        await queue.storage.wakeups.wait(channel, since: version, timeout: queue.settings.pollInterval)
                    }
                    return batch
                } catch {
                    if !Task.isCancelled {
                        logger.warning("claim on \(topic) failed, retrying: \(error)")
                        try? await Task.sleep(for: .seconds(1))
                    }
                    return []
                }
            } handle: { message in
                if let done = await process(message), acks.add(done) { await flush(acks) }
            }
        }
    }

    /// Acks finished casts: whoever finds the buffer idle flushes it, together with whatever finishes meanwhile,
    /// so a burst costs one statement and a lone message is acked at once.
    func flush(_ acks: AckBuffer) async {
        while true {
            let done = acks.drain()
            if done.isEmpty { return }
            do {
                let acked = try await queue.ack(done, owner: owner)
                if acked.count < done.count {
                    logger.warning("\(done.count - acked.count) leases on \(topic) were lost before ack; that work may be repeated")
                }
            } catch {
                logger.warning("acking \(done.count) messages on \(topic) failed; their leases will expire and they run again: \(error)")
            }
        }
    }

    /// Runs the handler for one message and records the outcome: a call's reply and ack commit together; a
    /// successful cast is returned for the batch ack.
    func process(_ message: QueueMessage) async -> QueueMessage? {
        var messageLogger = self.logger
        messageLogger[metadataKey: "request_id"] = message.requestID.map { .string($0) }
        messageLogger[metadataKey: "message_id"] = .string(message.id)
        let logger = messageLogger
        do {
            let reply = try await handler(message)
            guard message.kind == .call else { return message }
            if try await !queue.answer(message, owner: owner, payload: reply ?? .null) { logger.warning("lease on \(message.id) was lost before ack; it may be processed again") }
        } catch {
            let permanent: Bool
            if case QueueError.rejected = error { permanent = true } else { permanent = false }
            logger.warning("handler for \(topic) failed (attempt \(message.attempt)/\(message.maxAttempts)): \(error)")
            do {
                try await queue.fail(message, owner: owner, reason: "\(error)", permanent: permanent)
            } catch {
                logger.error("could not record failure of \(message.id); its lease will expire: \(error)")
            }
        }
        return nil
    }
}

/// Finished casts waiting for their ack, and whether someone is flushing them now.
final class AckBuffer: Sendable {
    private let state = Mutex<(pending: [QueueMessage], flushing: Bool)>(([], false))

    /// Adds a finished message; true when the caller should flush (no one is).
    func add(_ message: QueueMessage) -> Bool {
        state.withLock { state in
            state.pending.append(message)
            if state.flushing { return false }
            state.flushing = true
            return true
        }
    }

    /// What is pending; empty (and no longer flushing) when nothing is.
    func drain() -> [QueueMessage] {
        state.withLock { state in
            if state.pending.isEmpty { state.flushing = false }
            defer { state.pending = [] }
            return state.pending
        }
    }
}
