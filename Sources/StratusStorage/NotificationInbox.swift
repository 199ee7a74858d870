import Synchronization

/// Notifications on one PostgreSQL channel for one subscriber, taken in batches: whatever arrived since the
/// last take comes at once, so a burst of announcements costs one reaction, not one each.
public final class NotificationInbox: Sendable {
    private struct State {
        var items: [Storage.Notification] = []
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())
    /// Past this many unread, the oldest messages give way to one `.gap` (the subscriber reloads).
    static let capacity = 100_000

    func put(_ notification: Storage.Notification) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.items.count >= Self.capacity { state.items = [.gap] }
            state.items.append(notification)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Everything that arrived, waiting for at least one; empty once cancelled.
    public func take() async -> [Storage.Notification] {
        while true {
            let taken = state.withLock { state -> [Storage.Notification]? in
                if !state.items.isEmpty {
                    defer { state.items = [] }
                    return state.items
                }
                return nil
            }
            if let taken { return taken }
            if Task.isCancelled { return [] }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        // Cancelled before the waiter was stored: onCancel found none to resume, so do not wait.
                        if !state.items.isEmpty || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
    }
}
