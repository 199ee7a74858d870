import StratusCore
import StratusMessages
import Synchronization

/// Sends acks in groups, the way a database commits a group: the first ack with none in flight sends itself and
/// everything that queued up meanwhile (up to `maxBatch`) in one request, and keeps sending until nothing waits.
/// An idle agent's ack goes out at once; under load one request settles many messages, instead of a request, a
/// token check and a transaction each.
final class AckGroup: Sendable {
    typealias Send = @Sendable ([AckBatch.Ack]) async throws -> [AckBatchResult.Outcome]

    private struct Waiting {
        var ack: AckBatch.Ack
        var continuation: CheckedContinuation<AckBatchResult.Outcome, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var sending = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let send: Send

    init(maxBatch: Int, send: @escaping Send) {
        self.maxBatch = maxBatch
        self.send = send
    }

    /// Settles one message; returns what the control plane said of it.
    func ack(_ ack: AckBatch.Ack) async throws -> AckBatchResult.Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let leads = state.withLock { state in
                state.waiting.append(Waiting(ack: ack, continuation: continuation))
                if state.sending { return false }
                state.sending = true
                return true
            }
            if leads { Task { await self.drain() } }
        }
    }

    /// Sends batches until none waits. Each waiter gets its own outcome, or the batch's error (its lease then
    /// expires and the message comes again, as with a single ack that failed).
    private func drain() async {
        while true {
            let batch: [Waiting] = state.withLock { state in
                // Two acks of one message (its lease expired and this agent claimed it again) go in different
                // batches: the control plane refuses a batch that names a message twice.
                var batch: [Waiting] = [], ids: Set<String> = [], rest: [Waiting] = []
                for waiting in state.waiting {
                    if batch.count < maxBatch, ids.insert(waiting.ack.id).inserted { batch.append(waiting) } else { rest.append(waiting) }
                }
                state.waiting = rest
                if batch.isEmpty { state.sending = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let outcomes = try await send(batch.map(\.ack))
                let byID = Dictionary(outcomes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                for waiting in batch {
                    if let outcome = byID[waiting.ack.id] {
                        waiting.continuation.resume(returning: outcome)
                    } else {
                        // A transport failure, not a bad message: the lease lapses and the message comes again.
                        waiting.continuation.resume(throwing: ControlPlaneError(status: 0, message: "the control plane did not answer the ack of \(waiting.ack.id)"))
                    }
                }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
