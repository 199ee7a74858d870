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

    /// Returns once a slot is free (at once if one is); a finishing message always releases, so no cancellation
    /// handler is needed: shutdown cancels the messages in hand, and each releases its slot.
    public func waitForRoom() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.free > 0 { return true }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
