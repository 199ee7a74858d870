import Foundation
import Logging
import Synchronization
import StratusCore
import StratusScheduler

/// The scheduler's view of compute hosts (service state, zone, aggregates), re-read from the database at most
/// every `maxAge` seconds, or at once when a service or aggregate change is announced, so a decision at 10,000
/// hosts does not read 10,000 rows. Free capacity is not cached
/// here: it comes from placement's index at decision time, and the claim re-checks it anyway.
final class HostDirectory: Sendable {
    /// One host as last read, before live capacity is filled in.
    struct Entry: Sendable {
        var info: HostInfo
        var forcedDown: Bool
        var lastSeen: Double
    }

    let hosts: HostStore
    let aggregates: AggregateStore
    let maxAge: Double
    let logger: Logger
    private let cache = Mutex<(at: Double, version: UInt64, entries: [Entry])?>(nil)
    private let refreshing = Mutex(false)

    init(hosts: HostStore, aggregates: AggregateStore, maxAge: Double, logger: Logger) {
        self.hosts = hosts
        self.aggregates = aggregates
        self.maxAge = maxAge
        self.logger = logger
    }

    func invalidate() { cache.withLock { $0 = nil } }

    func hosts() async throws -> [Entry] {
        let now = Clock.now()
        let version = hosts.storage.wakeups.version(HostStore.changedChannel)
        // Only heartbeat times age here (announced changes bump the version): serve the cached view and re-read it in
        // the background, so no decision waits for 10,000 rows. Never a view three ages old, though: if the
        // background reads fail or hang (a starved database), hosts would look down only because we stopped looking.
        if let cached = cache.withLock({ $0 }), cached.version == version, now - cached.at < 3 * maxAge {
            if now - cached.at >= maxAge, refreshing.withLock({ busy in defer { busy = true }; return !busy }) {
                Task {
                    do { _ = try await self.reload(version: version) } catch {
                        logger.warning("re-reading compute hosts failed (the next decision tries again): \(error)")
                    }
                    self.refreshing.withLock { $0 = false }
                }
            }
            return cached.entries
        }
        return try await reload(version: version)
    }

    func reload(version: UInt64) async throws -> [Entry] {
        let now = Clock.now()
        let services = Dictionary(try await hosts.services().map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
        var metadata: [String: [String: Set<String>]] = [:]
        var zones: [String: String] = [:]
        for aggregate in try await aggregates.all() {
            for host in aggregate.hosts {
                for (key, value) in aggregate.metadata {
                    metadata[host, default: [:]][key, default: []].formUnion(value.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
                }
                if let zone = aggregate.availabilityZone { zones[host] = zone }
            }
        }
        let entries = try await hosts.nodes().compactMap { node -> Entry? in
            guard let service = services[node.host] else { return nil }
            let info = HostInfo(
                host: node.host, nodeUUID: node.uuid, zone: zones[node.host] ?? service.zone, enabled: !service.disabled,
                hypervisorType: node.hypervisorType, aggregateMetadata: metadata[node.host] ?? [:])
            return Entry(info: info, forcedDown: service.forcedDown, lastSeen: service.lastSeen)
        }
        cache.withLock { $0 = (now, version, entries) }
        return entries
    }
}
