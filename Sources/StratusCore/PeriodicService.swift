import ServiceLifecycle

/// Runs `body` every `interval` until graceful shutdown: the one shape of every periodic job (queue clean-up,
/// reconciliation, heartbeats, power-state reports). A failing run is the body's to log; the next run still comes.
public struct PeriodicService: Service {
    let interval: Duration
    let body: @Sendable () async -> Void

    public init(every interval: Duration, _ body: @escaping @Sendable () async -> Void) {
        self.interval = interval
        self.body = body
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                await body()
            }
        }
    }
}
