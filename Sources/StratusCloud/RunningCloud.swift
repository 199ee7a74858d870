import Logging
import StratusStorage

extension AllInOneCloud {
    /// Starts the cloud, runs `body` once it listens, then stops it: for benchmarks and tests that need a live
    /// cloud for a while. A failed start surfaces as its own error.
    public static func withRunningCloud<T: Sendable>(
        _ config: CloudConfig, logger: Logger, _ body: @Sendable (ReadyCloud) async throws -> T
    ) async throws -> T {
        let (stream, continuation) = AsyncStream.makeStream(of: ReadyCloud.self)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                // However the cloud ends (a failed start included), the waiter below must wake up.
                defer { continuation.finish() }
                try await run(config, logger: logger, handleSignals: false) { continuation.yield($0) }
                return nil
            }
            var iterator = stream.makeAsyncIterator()
            guard let cloud = await iterator.next() else {
                while let _ = try await group.next() {}
                throw StorageError.unavailable("the cloud stopped before it was ready")
            }
            let value = try await body(cloud)
            group.cancelAll()
            return value
        }
    }
}
