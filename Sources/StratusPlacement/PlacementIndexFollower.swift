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
            // One process, nothing to follow; stays up so its group does not stop (until shutdown or cancellation).
            do { try await gracefulShutdown() } catch is CancellationError {}
            return
        }
        let inbox = store.storage.notifications(PlacementSchema.changeChannel)
        // Subscribed first, then reloaded: nothing committed in between is missed.
        try await store.loadIndex()
        await cancelWhenGracefulShutdown {
            // provider → the newest generation announced that this index has not caught up with.
            var stale: [String: Int] = [:]
            while !Task.isCancelled {
                let pending = await inbox.take()
                var reload = false
                for notification in pending {
                    switch notification {
                    case .gap: reload = true
                    case .message(let text):
                        guard let notice = ProviderNotice(parsing: text) else {
                            logger.warning("ignoring a placement notification that is not understood: \(text)")
                            continue
                        }
                        switch notice {
                        case .changed(let uuid, let generation):
                            let held = store.index.snapshot(uuid)?.provider.generation
                            if generation < 0 ? held != nil : (held ?? -1) < generation { Self.mark(uuid, generation, in: &stale) }
                        case .usage(let usage):
                            // Only the one change after the generation held: anything older missing means a reload.
                            if !store.index.applyUsage(usage.provider, after: usage.generation - 1, generation: usage.generation, usage: usage.usage) {
                                Self.mark(usage.provider, usage.generation, in: &stale)
                            }
                        }
                    }
                }
                // A claim's plain announcement may come before its usage notice: whatever the notices brought
                // up to date needs no read.
                stale = stale.filter { uuid, generation in generation < 0 || store.index.isBehind(uuid, generation) }
                do {
                    if reload {
                        logger.info("placement notifications had a gap: reloading the index")
                        try await store.loadIndex()
                    } else if !stale.isEmpty {
                        try await store.refresh(Set(stale.keys))
                    }
                    stale = [:]
                } catch {
                    // Kept for the next round; a later announcement or gap brings them in.
                    logger.warning("refreshing \(stale.count) providers from other processes failed: \(error)")
                }
            }
        }
    }

    /// Notes that `uuid` must be read for `generation`; a deletion (-1) stays a deletion whatever follows, so the
    /// read finds out whether the provider exists.
    static func mark(_ uuid: String, _ generation: Int, in stale: inout [String: Int]) {
        if generation < 0 || stale[uuid] == -1 { stale[uuid] = -1 } else { stale[uuid] = max(stale[uuid] ?? generation, generation) }
    }
}
