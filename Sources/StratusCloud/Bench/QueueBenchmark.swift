import Foundation
import Synchronization
import Logging
import StratusCore
import StratusQueue
import StratusStorage

/// `stratus bench queue`: enqueue/s and claim+ack/s through our queue code, with 1 and 16 workers.
public struct QueueBenchmark: Sendable {
    public var messages: Int
    public var workerCounts: [Int]
    public var batchSize: Int

    public init(messages: Int = 4000, workerCounts: [Int] = [1, 16], batchSize: Int = 1) {
        self.messages = messages
        self.workerCounts = workerCounts
        self.batchSize = batchSize
    }

    /// Runs every case on `storage` and returns the JSON report.
    public func run(storage: Storage, logger: Logger) async throws -> JSON {
        try await Migrator.apply(QueueSchema.migrations, to: storage, logger: logger)
        let queue = Queue(storage: storage)
        var cases: [JSON] = []
        for workers in workerCounts {
            let topic = "bench.\(Identifier.uuid())"
            let perWorker = max(1, messages / workers)
            let total = perWorker * workers
            let enqueueSeconds = try await timed {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<workers {
                        group.addTask {
                            for i in 0..<perWorker {
                                try await queue.storage.transaction { tx in
                                    try await queue.enqueue(topic: topic, payload: ["n": .int(i)], in: tx)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let consumed = Counter()
            let claimSeconds = try await timed {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<workers {
                        group.addTask {
                            let owner = "bench-\(worker)"
                            while true {
                                let batch = try await queue.claim(topic: topic, owner: owner, limit: batchSize)
                                if batch.isEmpty { return }
                                for message in batch { try await queue.ack(message, owner: owner) }
                                consumed.add(batch.count)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let counts = try await queue.counts(topic: topic)
            cases.append([
                "workers": .int(workers), "messages": .int(total),
                "enqueue_per_second": .number((Double(total) / enqueueSeconds).rounded()),
                "claim_ack_per_second": .number((Double(consumed.value) / claimSeconds).rounded()),
                "consumed": .int(consumed.value), "done": .int(counts["done"] ?? 0),
                "claim_batch_size": .int(batchSize),
            ])
            try await storage.transaction { tx in
                try await tx.sql.raw("DELETE FROM queue_messages WHERE topic = \(bind: topic)").run()
            }
        }
        return ["benchmark": "queue", "engine": .string(storage.engine.rawValue), "cases": .array(cases),
                "machine": MachineInfo.json()]
    }

    func timed(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        return (ContinuousClock.now - start).inSeconds
    }
}

/// A thread-safe counter for benchmark workers.
final class Counter: Sendable {
    init() {}
    private let storage = Synchronization.Mutex(0)
    func add(_ n: Int) { storage.withLock { $0 += n } }
    var value: Int { storage.withLock { $0 } }
}

/// The machine a benchmark ran on, recorded with its results.
public enum MachineInfo {
    public static func json() -> JSON {
        var model = "unknown"
        if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let memory = ProcessInfo.processInfo.physicalMemory / (1 << 20)
        return ["cpus": .int(ProcessInfo.processInfo.activeProcessorCount), "cpu_model": .string(model),
                "memory_mib": .int(Int(memory))]
    }
}
