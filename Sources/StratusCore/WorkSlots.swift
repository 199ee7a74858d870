import Synchronization

/// How many messages may be in hand, and a wait for room when all are taken.
public final class WorkSlots: Sendable {
    private let state: Mutex<(free: Int, waiter: CheckedContinuation<Void, Never>?)>

    public init(_ count: Int) { state = Mutex((count, nil)) }

    public var free: Int { state.withLock { $0.free } }

    public func take(_ count: Int) { state.withLock { $0.free -= count } }

    public func release() {
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
    public func waitForRoom(_ count: Int = 1) async {
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
