import Foundation
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
        var state: HostState
        var forcedDown: Bool
        var lastSeen: Double
    }

    let hosts: HostStore
    let aggregates: AggregateStore
    let maxAge: Double
    private let cache = Mutex<(at: Double, version: UInt64, entries: [Entry])?>(nil)

    init(hosts: HostStore, aggregates: AggregateStore, maxAge: Double) {
        self.hosts = hosts
        self.aggregates = aggregates
        self.maxAge = maxAge
    }

    func invalidate() { cache.withLock { $0 = nil } }

    func hosts() async throws -> [Entry] {
        let now = Clock.now()
        let version = hosts.storage.wakeups.version(HostStore.changedChannel)
        if let cached = cache.withLock({ $0 }), now - cached.at < maxAge, cached.version == version { return cached.entries }
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
            var state = HostState(
                host: node.host, nodeUUID: node.uuid, zone: zones[node.host] ?? service.zone, enabled: !service.disabled,
                up: true, freeRAMMB: 0, freeVCPUs: 0, freeDiskGB: 0)
            state.hypervisorType = node.hypervisorType
            state.aggregateMetadata = metadata[node.host] ?? [:]
            return Entry(state: state, forcedDown: service.forcedDown, lastSeen: service.lastSeen)
        }
        cache.withLock { $0 = (now, version, entries) }
        return entries
    }
}
