@testable import StratusComputeAgent
import StratusMessages
import Synchronization
import Testing

@Suite("Acks in groups")
struct AckGroupTests {
    static func ack(_ id: String) -> AckBatch.Ack { AckBatch.Ack(id: id, lease: "lease", requestID: nil, report: nil) }

    @Test("acks that queue while one request is out go together; each waiter gets its own answer; one id never twice in a batch")
    func grouping() async throws {
        let batches = Mutex<[[String]]>([])
        let group = AckGroup(maxBatch: 10) { batch in
            batches.withLock { $0.append(batch.map(\.id)) }
            try await Task.sleep(for: .milliseconds(20))  // a request in flight, so that others queue behind it
            return batch.map { AckBatchResult.Outcome(id: $0.id, settled: $0.id != "lost", refusedReport: nil) }
        }
        let ids = (0..<40).map { "m\($0)" } + ["lost", "m7"]
        let outcomes = try await withThrowingTaskGroup(of: AckBatchResult.Outcome.self) { tasks in
            for id in ids { tasks.addTask { try await group.ack(Self.ack(id)) } }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == ids.count)
        #expect(outcomes.filter { !$0.settled }.map(\.id) == ["lost"])
        let sent = batches.withLock { $0 }
        #expect(sent.allSatisfy { $0.count <= 10 && Set($0).count == $0.count }, "\(sent)")
        #expect(sent.count < ids.count, "some acks went together: \(sent.map(\.count))")
        #expect(sent.flatMap { $0 }.sorted() == ids.sorted())
    }

    @Test("a failed request fails every ack in it, and the next acks go out again")
    func failure() async throws {
        struct Down: Error {}
        let fail = Mutex(true)
        let group = AckGroup(maxBatch: 10) { batch in
            if fail.withLock({ $0 }) { throw Down() }
            return batch.map { AckBatchResult.Outcome(id: $0.id, settled: true, refusedReport: nil) }
        }
        await #expect(throws: Down.self) { try await group.ack(Self.ack("a")) }
        fail.withLock { $0 = false }
        #expect(try await group.ack(Self.ack("b")).settled)
    }
}
