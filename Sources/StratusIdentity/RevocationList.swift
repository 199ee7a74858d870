import Synchronization
import StratusCore
import StratusStorage

/// A revocation event: tokens matching it and issued before `issuedBefore` are void.
struct Revocation: Sendable {
    var auditID: String?
    var userID: String?
    var projectID: String?
    var issuedBefore: Double

    func matches(_ token: TokenPayload) -> Bool {
        guard token.issuedAt <= issuedBefore else { return false }
        if let auditID { return token.auditID == auditID }
        if let userID, token.userID != userID { return false }
        if let projectID, token.projectID != projectID { return false }
        return userID != nil || projectID != nil
    }
}

/// Revocations held in memory so validation needs no database read. A committed revocation signals
/// `channel` (in-process at once; on PostgreSQL other processes through NOTIFY), which makes the cache reload;
/// it also reloads every `refreshInterval` in case a notification was missed.
final class RevocationList: Sendable {
    static let channel = "identity.revocations"

    private struct State {
        var events: [Revocation] = []
        var loadedAt: Double = -.infinity
        var loadedVersion: UInt64 = .max
    }
    private let state = Mutex(State())
    private let hub: WakeUpHub
    let refreshInterval: Double

    init(hub: WakeUpHub, refreshInterval: Double) {
        self.hub = hub
        self.refreshInterval = refreshInterval
    }

    var isStale: Bool {
        let version = hub.version(Self.channel)
        return state.withLock { Clock.now() - $0.loadedAt >= refreshInterval || $0.loadedVersion != version }
    }

    /// Call with the hub version read *before* the events were loaded, so a revocation committed during the load
    /// leaves the cache stale.
    func replace(with events: [Revocation], version: UInt64) {
        state.withLock {
            $0.events = events
            $0.loadedAt = Clock.now()
            $0.loadedVersion = version
        }
    }

    func currentVersion() -> UInt64 { hub.version(Self.channel) }

    func isRevoked(_ token: TokenPayload) -> Bool {
        state.withLock { $0.events.contains { $0.matches(token) } }
    }
}
