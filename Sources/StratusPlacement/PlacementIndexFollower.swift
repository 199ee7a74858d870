import Logging
import ServiceLifecycle
import StratusStorage

/// Keeps this process's placement index in step with what other processes commit: every provider change is
/// announced by the database (`placement.2`'s trigger, `uuid:generation`); providers this index holds at an older
/// generation are re-read, in batches. A gap in the notifications reloads the whole index. Claims never depend on
/// it being current (the database re-checks); allocation candidates and the scheduler's view do.
public struct PlacementIndexFollower: Service {
    let store: PlacementStore
    let logger: Logger

    public init(store: PlacementStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        guard store.storage.engine == .postgresql else {
            try? await gracefulShutdown()  // one process, nothing to follow; stays up so its group does not stop
            return
        }
        let inbox = store.storage.notifications(PlacementSchema.changeChannel)
        // Subscribed first, then reloaded: nothing committed in between is missed.
        try await store.loadIndex()
        await cancelWhenGracefulShutdown {
            var stale: Set<String> = []
            while !Task.isCancelled {
                let pending = await inbox.take()
                var reload = false
                for notification in pending {
                    switch notification {
                    case .gap: reload = true
                    case .message(let text):
                        guard let (uuid, generation) = Self.parse(text) else { continue }
                        let held = store.index.snapshot(uuid)?.provider.generation
                        if generation < 0 ? held != nil : (held ?? -1) < generation { stale.insert(uuid) }
                    }
                }
                do {
                    if reload {
                        logger.info("placement notifications had a gap: reloading the index")
                        try await store.loadIndex()
                    } else if !stale.isEmpty {
                        try await store.refresh(stale)
                    }
                    stale = []
                } catch {
                    // Kept for the next round; a later announcement or gap brings them in.
                    logger.warning("refreshing \(stale.count) providers from other processes failed: \(error)")
                }
            }
        }
    }

    static func parse(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let generation = Int(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), generation)
    }
}
