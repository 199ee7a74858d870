import Synchronization

/// The shape of every consumer of leased work (the conductor's queue consumers, the compute agents): claim as many
/// items as there is room for, run each in its own task (a slow one holds nothing but its own slot), and with items
/// in hand claim again once half the room is free, so claims stay batched (each claim is a write). `claim` does its
/// own waiting when nothing is there and its own error handling; the loop runs until its task is cancelled.
public struct LeasedWorkLoop: Sendable {
    public let capacity: Int

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public func run<Item: Sendable>(claim: (_ limit: Int) async -> [Item], handle: @escaping @Sendable (Item) async -> Void) async {
        let slots = WorkSlots(capacity)
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                if slots.free < capacity { await slots.waitForRoom(max(1, capacity / 2)) }
                let items = await claim(slots.free)
                slots.take(items.count)
                for item in items {
                    group.addTask {
                        await handle(item)
                        slots.release()
                    }
                }
            }
        }
    }
}

/// How many messages may be in hand, and a wait for room when all are taken.
final class WorkSlots: Sendable {
    private let state: Mutex<(free: Int, waiter: CheckedContinuation<Void, Never>?)>

    init(_ count: Int) { state = Mutex((count, nil)) }

    var free: Int { state.withLock { $0.free } }

    func take(_ count: Int) { state.withLock { $0.free -= count } }

    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.free += 1
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns once at least `count` slots are free (at once if they are). Claiming only when several are free
    /// keeps claims batched (each claim is a write) while a slow message holds just its own slot. A finishing
    /// message always releases, so no cancellation handler is needed: shutdown cancels the messages in hand.
    func waitForRoom(_ count: Int = 1) async {
        while state.withLock({ $0.free < count }) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.free >= count { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }
}
