import Logging
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
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let version = queue.storage.wakeups.version(channel)
                let batch: [QueueMessage]
                do {
                    batch = try await queue.claim(topic: topic, owner: owner, limit: batchSize)
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("claim on \(topic) failed, retrying: \(error)")
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                if batch.isEmpty {
                    await queue.storage.wakeups.wait(channel, since: version, timeout: queue.settings.pollInterval)
                    continue
                }
                // Casts handled successfully are acked together in one statement once the batch is done.
                let done = await withTaskGroup(of: QueueMessage?.self) { group in
                    for message in batch {
                        group.addTask { await process(message) }
                    }
                    return await group.reduce(into: [QueueMessage]()) { if let message = $1 { $0.append(message) } }
                }
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
            let acked = try await queue.storage.transaction { tx in
                try await queue.reply(to: message, payload: reply ?? .null, in: tx)
                return try await queue.ack(message, owner: owner, in: tx)
            }
            if !acked { logger.warning("lease on \(message.id) was lost before ack; it may be processed again") }
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
