import Logging
import ServiceLifecycle
import StratusStorage
import Synchronization

extension AllInOneCloud {
    /// Starts the cloud, runs `body` once it listens, then stops it: for benchmarks and tests that need a live
    /// cloud for a while. A failed start surfaces as its own error.
    public static func withRunningCloud<T: Sendable>(
        _ config: CloudConfig, logger: Logger, _ body: @Sendable (ReadyCloud) async throws -> T
    ) async throws -> T {
        let (stream, continuation) = AsyncStream.makeStream(of: ReadyCloud.self)
        // Past this the services are cancelled, which is what can trap in NIO (below). (Not longer: a test cloud's
        // graceful stop does not finish within it today, so every test would wait out the whole patience.)
        let stopper = CloudStopper(patience: .seconds(1))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                // However the cloud ends (a failed start included), the waiter below must wake up.
                defer { continuation.finish() }
                try await run(config, logger: logger, handleSignals: false, stopper: stopper) { continuation.yield($0) }
                return nil
            }
            var iterator = stream.makeAsyncIterator()
            guard let cloud = await iterator.next() else {
                while let _ = try await group.next() {}
                throw StorageError.unavailable("the cloud stopped before it was ready")
            }
            let result: Result<T, any Error>
            do { result = .success(try await body(cloud)) } catch { result = .failure(error) }
            // Gracefully, after a failing body too: the listener closes before anything is cancelled. Cancelling the
            // server while a connection it has just accepted waits to be served traps in NIO ("Deinited
            // NIOAsyncWriter without calling finish()", swift-nio#3481), and the local agents' long-polls reconnect
            // right up to the end.
            if await stopper.stop() {
                do {
                    while let _ = try await group.next() {}
                } catch {
                    // The body's own failure is the one to report; the cloud's, on its way down, is said beside it.
                    guard case .failure = result else { throw error }
                    logger.error("the cloud failed while stopping after its body failed: \(error)")
                }
            } else {
                group.cancelAll()
            }
            return try result.get()
        }
    }
}

/// Shuts a running cloud down gracefully: each service in reverse order of starting, the listener last, and after
/// `patience` whatever is still running is cancelled.
public final class CloudStopper: Sendable {
    public let patience: Duration
    private let group = Mutex<ServiceGroup?>(nil)

    public init(patience: Duration) { self.patience = patience }

    func attach(_ serviceGroup: ServiceGroup) { group.withLock { $0 = serviceGroup } }

    /// Starts the graceful shutdown; false if the cloud never got as far as running its services.
    public func stop() async -> Bool {
        guard let serviceGroup = group.withLock({ $0 }) else { return false }
        await serviceGroup.triggerGracefulShutdown()
        return true
    }
}
