import Synchronization

/// In-process wake-ups by channel name, so a consumer sleeps until there may be work instead of polling hard.
///
/// A wake-up is only a hint: a missed one costs latency (consumers still poll), never a message.
public final class WakeUpHub: Sendable {
    private struct State {
        var versions: [String: UInt64] = [:]
        var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// The channel's signal count; pass it to `wait` so a signal between reading it and waiting is not missed.
    public func version(_ channel: String) -> UInt64 {
        state.withLock { $0.versions[channel, default: 0] }
    }

    /// Wakes every waiter on `channel`.
    public func signal(_ channel: String) {
        let toResume = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.versions[channel, default: 0] &+= 1
            let waiting = state.waiters.removeValue(forKey: channel) ?? [:]
            return Array(waiting.values)
        }
        for continuation in toResume { continuation.resume() }
    }

    /// Returns when `channel` is signalled after `version`, after `timeout`, or on cancellation.
    public func wait(_ channel: String, since version: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal(channel, since: version) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal(_ channel: String, since version: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextID &+= 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.cancelled.remove(id) != nil { return true }
                    if state.versions[channel, default: 0] != version { return true }
                    state.waiters[channel, default: [:]][id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiting = state.waiters[channel]?.removeValue(forKey: id) { return waiting }
                state.cancelled.insert(id)
                return nil
            }
            continuation?.resume()
        }
    }
}
