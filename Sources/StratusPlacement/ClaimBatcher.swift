import ServiceLifecycle
import StratusCore
import Synchronization

/// Group commit for claims: while one batch is being written, arriving claims queue, and the next batch takes
/// them all in one transaction. Under load this turns many small transactions into few large ones; alone, a claim
/// waits for nothing. Runs as a `Service`; when it is not running, claims take the one-at-a-time path.
public final class ClaimBatcher: Service, Sendable {
    struct Entry: Sendable {
        let request: [ConsumerAllocations]
        let continuation: CheckedContinuation<Void, any Error>
    }
    struct State {
        var pending: [Entry] = []
        var running = false
        var signal: AsyncStream<Void>.Continuation?
    }

    private let state = Mutex(State())
    let maxBatch: Int

    public init(maxBatch: Int = 64) { self.maxBatch = maxBatch }

    /// Queues a claim; returns false (doing nothing) if the batcher is not running.
    func submit(_ request: [ConsumerAllocations]) async throws -> Bool {
        var accepted = false
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let signal = state.withLock { state -> AsyncStream<Void>.Continuation? in
                guard state.running else { return nil }
                state.pending.append(Entry(request: request, continuation: continuation))
                return state.signal
            }
            if let signal {
                accepted = true
                signal.yield()
            } else {
                continuation.resume()
            }
        }
        return accepted
    }

    var store: PlacementStore? {
        get { storeBox.withLock { $0 } }
        set { storeBox.withLock { $0 = newValue } }
    }
    private let storeBox = Mutex<PlacementStore?>(nil)

    public func run() async throws {
        let (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        state.withLock {
            $0.running = true
            $0.signal = continuation
        }
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                while let batch = self.take() { await self.execute(batch) }
            }
        }
        let leftovers = state.withLock { state -> [Entry] in
            state.running = false
            state.signal = nil
            defer { state.pending = [] }
            return state.pending
        }
        // Claims that arrived during shutdown still get an answer, through the one-at-a-time path.
        for entry in leftovers { await executeAlone(entry) }
    }

    private func take() -> [Entry]? {
        state.withLock { state in
            guard !state.pending.isEmpty else { return nil }
            let batch = Array(state.pending.prefix(maxBatch))
            state.pending.removeFirst(batch.count)
            return batch
        }
    }

    private func execute(_ batch: [Entry]) async {
        guard let store else {
            for entry in batch { entry.continuation.resume(throwing: StratusError(.serviceUnavailable, "placement is shutting down")) }
            return
        }
        if batch.count == 1 {
            await executeAlone(batch[0])
            return
        }
        do {
            let results = try await store.claimBatch(batch.map(\.request))
            for (entry, result) in zip(batch, results) { entry.continuation.resume(with: result.mapError { $0 }) }
        } catch {
            // The shared transaction failed as a whole (a race with another process, say): answer each on its own.
            for entry in batch { await executeAlone(entry) }
        }
    }

    private func executeAlone(_ entry: Entry) async {
        guard let store else {
            entry.continuation.resume(throwing: StratusError(.serviceUnavailable, "placement is shutting down"))
            return
        }
        do {
            try await store.replaceAllocationsDirectly(entry.request)
            entry.continuation.resume()
        } catch {
            entry.continuation.resume(throwing: error)
        }
    }
}
