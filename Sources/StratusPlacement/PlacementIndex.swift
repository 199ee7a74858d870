import Synchronization

/// An in-memory copy of every provider's inventory, usage, traits, aggregates and tree, so allocation
/// candidates are computed without touching the database. The database stays the truth: claims re-check
/// capacity in a transaction. Snapshots are applied only if their generation is not older than what is held,
/// so out-of-order refreshes never move the index backwards.
public final class PlacementIndex: Sendable {
    /// The index's data; copied out (copy-on-write, O(1)) so searches run without holding the lock.
    public struct State: Sendable {
        public var providers: [String: ProviderSnapshot] = [:]
        /// root uuid → every provider in that tree (the root included).
        public var trees: [String: Set<String>] = [:]
        /// resource class → providers with inventory of it.
        public var byClass: [String: Set<String>] = [:]
        /// aggregate → providers carrying MISC_SHARES_VIA_AGGREGATE in it.
        public var sharingByAggregate: [String: Set<String>] = [:]
        /// aggregate → every provider in it.
        public var byAggregate: [String: Set<String>] = [:]
        /// roots whose tree has more than one provider.
        public var nestedRoots: Set<String> = []
        /// roots in a stable order, for deterministic and resumable iteration.
        public var roots: [String] = []
        var rootPosition: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func current() -> State { state.withLock { $0 } }

    public func snapshot(_ uuid: String) -> ProviderSnapshot? { state.withLock { $0.providers[uuid] } }

    public var count: Int { state.withLock { $0.providers.count } }

    func replaceAll(_ snapshots: [ProviderSnapshot]) {
        var fresh = State()
        for snapshot in snapshots.sorted(by: { $0.provider.uuid < $1.provider.uuid }) { Self.insert(snapshot, into: &fresh) }
        state.withLock { $0 = fresh }
    }

    /// Applies fresher snapshots and removes providers that no longer exist.
    func apply(_ snapshots: [ProviderSnapshot], removing removed: Set<String>) {
        state.withLock { state in
            for uuid in removed { Self.remove(uuid, from: &state) }
            for snapshot in snapshots {
                if let held = state.providers[snapshot.provider.uuid],
                   held.provider.generation > snapshot.provider.generation { continue }
                Self.remove(snapshot.provider.uuid, from: &state)
                Self.insert(snapshot, into: &state)
            }
        }
    }

    /// The fast path for claims: only usage and generation changed.
    func applyUsage(_ uuid: String, after previous: Int, generation: Int, usage: [String: Int]) -> Bool {
        state.withLock { state in
            guard var held = state.providers[uuid] else { return false }
            if held.provider.generation >= generation { return true }  // a reload already brought it, or newer
            // Behind by more than this one change (another process changed inventory or allocations and its
            // notice has not arrived): the usage alone would mark stale inventory current, so reload instead.
            guard held.provider.generation == previous else { return false }
            held.provider.generation = generation
            held.usage = usage
            state.providers[uuid] = held
            return true
        }
    }

    /// Whether the index holds `uuid` at an older generation than `generation` (or not at all).
    func isBehind(_ uuid: String, _ generation: Int) -> Bool {
        state.withLock { state in (state.providers[uuid]?.provider.generation ?? -1) < generation }
    }

    private static func insert(_ snapshot: ProviderSnapshot, into state: inout State) {
        let uuid = snapshot.provider.uuid
        state.providers[uuid] = snapshot
        let root = snapshot.provider.rootUUID
        state.trees[root, default: []].insert(uuid)
        if state.trees[root]!.count > 1 { state.nestedRoots.insert(root) }
        if root == uuid, state.rootPosition[uuid] == nil {
            state.rootPosition[uuid] = state.roots.count
            state.roots.append(uuid)
        }
        for (resourceClass, _) in snapshot.inventories { state.byClass[resourceClass, default: []].insert(uuid) }
        for aggregate in snapshot.aggregates { state.byAggregate[aggregate, default: []].insert(uuid) }
        if snapshot.traits.contains(StandardVocabulary.sharesViaAggregate) {
            for aggregate in snapshot.aggregates { state.sharingByAggregate[aggregate, default: []].insert(uuid) }
        }
    }

    private static func remove(_ uuid: String, from state: inout State) {
        guard let old = state.providers.removeValue(forKey: uuid) else { return }
        let root = old.provider.rootUUID
        state.trees[root]?.remove(uuid)
        if state.trees[root]?.isEmpty == true { state.trees[root] = nil }
        if (state.trees[root]?.count ?? 0) <= 1 { state.nestedRoots.remove(root) }
        if let position = state.rootPosition.removeValue(forKey: uuid) {
            let last = state.roots.removeLast()
            if last != uuid {
                state.roots[position] = last
                state.rootPosition[last] = position
            }
        }
        for (resourceClass, _) in old.inventories {
            state.byClass[resourceClass]?.remove(uuid)
            if state.byClass[resourceClass]?.isEmpty == true { state.byClass[resourceClass] = nil }
        }
        for aggregate in old.aggregates {
            state.byAggregate[aggregate]?.remove(uuid)
            if state.byAggregate[aggregate]?.isEmpty == true { state.byAggregate[aggregate] = nil }
            state.sharingByAggregate[aggregate]?.remove(uuid)
            if state.sharingByAggregate[aggregate]?.isEmpty == true { state.sharingByAggregate[aggregate] = nil }
        }
    }
}
