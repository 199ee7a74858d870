import Foundation
import Logging
import ServiceLifecycle
import StratusCore
import StratusQueue
import StratusStorage
import StratusTesting
import Synchronization
import Testing

func withQueue<T: Sendable>(
    lease: Double = 30, maxAttempts: Int = 5, backoff: Double = 0.05,
    _ body: @Sendable (Queue) async throws -> T
) async throws -> T {
    try await TestDatabase.withStorage(migrations: QueueSchema.migrations) { storage in
        var settings = Queue.Settings()
        settings.leaseSeconds = lease
        settings.maxAttempts = maxAttempts
        settings.retryBackoffSeconds = backoff
        settings.pollInterval = .milliseconds(100)
        return try await body(Queue(storage: storage, settings: settings))
    }
}

@Suite("Queue")
struct QueueTests {
    @Test("a message enqueued in a rolled-back transaction never appears")
    func rolledBackEnqueue() async throws {
        struct Abort: Error {}
        try await withQueue { queue in
            await #expect(throws: Abort.self) {
                try await queue.storage.transaction { tx in
                    try await queue.enqueue(topic: "conductor", payload: ["x": 1], in: tx)
                    throw Abort()
                }
            }
            let claimed = try await queue.claim(topic: "conductor", owner: "c1", limit: 10)
            let counts = try await queue.counts(topic: "conductor")
            #expect(claimed.isEmpty)
            #expect(counts.isEmpty)
        }
    }

    @Test("a claim for many topics (an agent of 1,000 hosts) takes the messages of those topics and no other")
    func claimManyTopics() async throws {
        try await withQueue { queue in
            let served = (0..<1000).map { "compute.host-\($0)" }
            for topic in ["compute.host-7", "compute.host-999", "compute.other", "compute.host-1000", "conductor"] {
                try await queue.cast(topic: topic, payload: ["to": .string(topic)])
            }
            let claimed = try await queue.claim(topics: served, owner: "agent", limit: 100)
            #expect(Set(claimed.map(\.topic)) == ["compute.host-7", "compute.host-999"])
            let few = try await queue.claim(topics: ["compute.other", "conductor"], owner: "agent", limit: 100)
            #expect(Set(few.map(\.topic)) == ["compute.other", "conductor"])
            #expect(try await queue.claim(topics: served, owner: "agent", limit: 100).isEmpty, "each taken once")
        }
    }

    @Test("the same message id enqueued twice is delivered once")
    func idempotentEnqueue() async throws {
        try await withQueue { queue in
            for _ in 0..<2 {
                try await queue.storage.transaction { tx in
                    try await queue.enqueue(topic: "t", payload: ["x": 1], id: "fixed-id", in: tx)
                }
            }
            #expect(try await queue.claim(topic: "t", owner: "c", limit: 10).map(\.id) == ["fixed-id"])
        }
    }

    @Test("300 messages, 12 concurrent consumers: each delivered exactly once")
    func noDoubleDelivery() async throws {
        try await withQueue { queue in
            try await queue.storage.transaction { tx in
                for i in 0..<300 { try await queue.enqueue(topic: "compute.h1", payload: ["i": .int(i)], in: tx) }
            }
            let delivered = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<12 {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let batch = try await queue.claim(topic: "compute.h1", owner: "w\(worker)", limit: 3)
                            if batch.isEmpty { return mine }
                            for message in batch {
                                #expect(try await queue.ack(message, owner: "w\(worker)"))
                                mine.append(message.id)
                            }
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(delivered.count == 300)
            #expect(Set(delivered).count == 300)
            #expect(try await queue.counts(topic: "compute.h1") == ["done": 300])
        }
    }

    @Test("a consumer that dies holding a lease loses no message: it is redelivered after the lease")
    func leaseExpiryRedelivers() async throws {
        // A lease long enough that a loaded CI machine sees it still held on the second claim.
        try await withQueue(lease: 2) { queue in
            let id = try await queue.cast(topic: "t", payload: ["work": "boot"])
            let first = try await queue.claim(topic: "t", owner: "dead-consumer")
            #expect(first.map(\.id) == [id])
            #expect(try await queue.claim(topic: "t", owner: "other").isEmpty, "leased, so not visible yet")
            try await Task.sleep(for: .milliseconds(2200))
            let second = try await queue.claim(topic: "t", owner: "other")
            #expect(second.map(\.id) == [id])
            #expect(second.first?.attempt == 2)
            #expect(try await !queue.ack(first[0], owner: "dead-consumer"), "the old lease no longer acks")
            #expect(try await queue.ack(second[0], owner: "other"))
        }
    }

    @Test("failures retry with growing backoff, then dead-letter with the reason")
    func retryThenDeadLetter() async throws {
        try await withQueue(maxAttempts: 3, backoff: 0.1) { queue in
            _ = try await queue.cast(topic: "t", payload: ["n": 1])
            var attempts: [Int] = []
            let start = ContinuousClock.now
            while attempts.count < 3 {
                guard let message = try await queue.claim(topic: "t", owner: "c").first else {
                    try await Task.sleep(for: .milliseconds(20))
                    continue
                }
                attempts.append(message.attempt)
                try await queue.fail(message, owner: "c", reason: "hypervisor said no (\(message.attempt))")
            }
            let elapsed = ContinuousClock.now - start
            #expect(attempts == [1, 2, 3])
            #expect(elapsed >= .milliseconds(300), "backoff 0.1 s then 0.2 s before the third attempt")
            let dead = try await queue.deadLetters(topic: "t")
            #expect(dead.count == 1)
            #expect(dead.first?.reason == "hypervisor said no (3)")
            #expect(try await queue.claim(topic: "t", owner: "c").isEmpty)
        }
    }

    @Test("call gets the consumer's reply; a call nobody answers times out")
    func callAndTimeout() async throws {
        try await withQueue { queue in
            let consumer = QueueConsumer(queue: queue, topic: "conductor", logger: TestDatabase.logger) { message in
                ["echo": message.payload["value"] ?? nil, "request_id": .optional(message.requestID)]
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                let reply = try await queue.call(
                    topic: "conductor", payload: ["value": "hello"], timeout: 10, requestID: "req-1")
                #expect(reply["echo"] == "hello")
                #expect(reply["request_id"] == "req-1")
                await #expect(throws: QueueError.self) {
                    _ = try await queue.call(topic: "compute.nobody", payload: [:], timeout: 0.3)
                }
                group.cancelAll()
            }
        }
    }

    @Test("a handler that keeps failing reaches the caller as a remote error")
    func remoteFailure() async throws {
        struct NoValidHost: Error, CustomStringConvertible { var description: String { "No valid host was found." } }
        try await withQueue(maxAttempts: 2, backoff: 0.01) { queue in
            let consumer = QueueConsumer(queue: queue, topic: "scheduler", logger: TestDatabase.logger) { _ in
                throw NoValidHost()
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                do {
                    _ = try await queue.call(topic: "scheduler", payload: [:], timeout: 10)
                    Issue.record("call succeeded")
                } catch let QueueError.remote(_, message) {
                    #expect(message == "No valid host was found.")
                }
                group.cancelAll()
            }
        }
    }

    @Test("markProcessed makes a redelivered message's effects happen once")
    func idempotentHandler() async throws {
        try await withQueue { queue in
            let first = try await queue.storage.transaction { tx in
                try await queue.markProcessed(messageID: "m1", handler: "build", in: tx)
            }
            let again = try await queue.storage.transaction { tx in
                try await queue.markProcessed(messageID: "m1", handler: "build", in: tx)
            }
            #expect(first && !again)
        }
    }

    @Test("a consumer wakes on enqueue rather than waiting for its poll")
    func wakeUp() async throws {
        try await withQueue { queue in
            let seen = Mutex<[String]>([])
            let consumer = QueueConsumer(queue: queue, topic: "t", logger: TestDatabase.logger) { message in
                seen.withLock { $0.append(message.id) }
                return nil
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                let id = try await queue.cast(topic: "t", payload: [:])
                for _ in 0..<200 where seen.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
                #expect(seen.withLock { $0 } == [id])
                group.cancelAll()
            }
        }
    }
}
