/// Computes allocation candidates from an index snapshot: for each provider tree, every way to place each
/// request group on its providers (and on sharing providers of its aggregates) within capacity and traits.
/// Pure: it reads a `PlacementIndex.State` and returns values.
public struct CandidateSearch: Sendable {
    public let state: PlacementIndex.State
    public let query: CandidateQuery
    /// Bound on combinations explored per tree, so a pathological tree cannot stall a request.
    public var maxCombinationsPerTree = 1000

    public init(state: PlacementIndex.State, query: CandidateQuery) {
        self.state = state
        self.query = query
    }

    public func run() -> CandidateResult {
        var requests: [AllocationRequest] = []
        var treesUsed: [String] = []
        var extraProviders: Set<String> = []
        let roots = candidateRoots()
        let count = roots.count
        guard count > 0 else { return CandidateResult(requests: [], summaryProviders: []) }
        // With a limit and randomize, start at a random place and wrap: random picks at O(limit) cost.
        let start = query.randomize ? Int.random(in: 0..<count) : 0
        let flat = flatGroup()
        for step in 0..<count {
            if let limit = query.limit, requests.count >= limit { break }
            let root = roots[(start + step) % count]
            if let group = flat, !state.nestedRoots.contains(root) {
                // One provider, one group, nothing shared: check it in place.
                guard let snapshot = state.providers[root],
                      group.resources.allSatisfy({ Self.fits($0.key, $0.value, snapshot) }),
                      satisfies(snapshot.traits, required: group.requiredTraits, forbidden: group.forbiddenTraits),
                      allowedByAggregates(snapshot, group)
                else { continue }
                requests.append(AllocationRequest(allocations: [root: group.resources], mappings: ["": [root]]))
                treesUsed.append(root)
                continue
            }
            let found = candidates(inTree: root)
            guard !found.isEmpty else { continue }
            var usedTree = false
            for request in found {
                if let limit = query.limit, requests.count >= limit { break }
                requests.append(request)
                usedTree = true
                if request.allocations.count == 1 && request.allocations.keys.first == root { continue }
                for uuid in request.allocations.keys where state.providers[uuid]?.provider.rootUUID != root {
                    extraProviders.insert(uuid)
                }
            }
            if usedTree { treesUsed.append(root) }
        }
        if query.randomize && query.limit == nil { requests.shuffle() }
        var summary: [String] = []
        var included: Set<String> = []
        summary.reserveCapacity(treesUsed.count)
        for root in treesUsed {
            guard let members = state.trees[root] else { continue }
            if members.count == 1 {
                if extraProviders.isEmpty || included.insert(root).inserted { summary.append(root) }
                continue
            }
            for uuid in members.sorted() where included.insert(uuid).inserted { summary.append(uuid) }
        }
        for uuid in extraProviders.sorted() where included.insert(uuid).inserted { summary.append(uuid) }
        return CandidateResult(requests: requests, summaryProviders: summary)
    }

    /// The group, when the query allows the single-provider shortcut for trees of one provider.
    func flatGroup() -> RequestGroup? {
        guard query.groups.count == 1, query.groups[0].isUnsuffixed, query.groups[0].inTree == nil,
              query.sameSubtree.isEmpty, query.rootRequired.isEmpty, query.rootForbidden.isEmpty,
              state.sharingByAggregate.isEmpty else { return nil }
        return query.groups[0]
    }

    /// Roots worth evaluating: all roots, or — when some requested class is rare — only the trees holding it
    /// (or sharing it through an aggregate).
    func candidateRoots() -> [String] {
        let classes = query.groups.flatMap { $0.resources.keys }
        guard let rarest = classes.min(by: { (state.byClass[$0]?.count ?? 0) < (state.byClass[$1]?.count ?? 0) }) else {
            return state.roots
        }
        let holders = state.byClass[rarest] ?? []
        if holders.count * 4 >= state.roots.count { return state.roots }
        var roots: Set<String> = []
        for uuid in holders {
            guard let snapshot = state.providers[uuid] else { continue }
            roots.insert(snapshot.provider.rootUUID)
            if snapshot.traits.contains(StandardVocabulary.sharesViaAggregate) {
                for aggregate in snapshot.aggregates {
                    for member in state.byAggregate[aggregate] ?? [] {
                        if let root = state.providers[member]?.provider.rootUUID { roots.insert(root) }
                    }
                }
            }
        }
        return state.roots.count <= roots.count * 2 ? state.roots.filter { roots.contains($0) } : roots.sorted()
    }

    // MARK: One tree

    func candidates(inTree root: String) -> [AllocationRequest] {
        guard let members = state.trees[root], let rootSnapshot = state.providers[root] else { return [] }
        if !query.nestedAware && members.count > 1 { return [] }
        if !satisfies(rootSnapshot.traits, required: query.rootRequired, forbidden: query.rootForbidden) { return [] }
        for group in query.groups {
            if let tree = group.inTree, state.providers[tree]?.provider.rootUUID != root { return [] }
        }
        if members.count == 1, query.groups.count == 1, query.groups[0].isUnsuffixed, query.sameSubtree.isEmpty,
           !hasSharing(rootSnapshot) {
            // The common case — one compute node, one group, nothing shared — without the general search.
            let group = query.groups[0]
            guard group.resources.allSatisfy({ Self.fits($0.key, $0.value, rootSnapshot) }), allowedByAggregates(root, group),
                  satisfies(rootSnapshot.traits, required: group.requiredTraits, forbidden: group.forbiddenTraits)
            else { return [] }
            return [AllocationRequest(allocations: [root: group.resources], mappings: ["": [root]])]
        }
        var pool = Array(members)
        var sharing: Set<String> = []
        for uuid in members {
            for aggregate in state.providers[uuid]?.aggregates ?? [] {
                for shared in state.sharingByAggregate[aggregate] ?? [] where !members.contains(shared) {
                    sharing.insert(shared)
                }
            }
        }
        pool += sharing.sorted()
        pool.sort()

        // Each slot is one group's resources (suffixed) or one class of the unsuffixed group.
        var slots: [Slot] = []
        for group in query.groups {
            if group.isUnsuffixed {
                for (resourceClass, amount) in group.resources.sorted(by: { $0.key < $1.key }) {
                    let viable = pool.filter { fits(resourceClass, amount, on: $0) && allowedByAggregates($0, group) }
                    if viable.isEmpty { return [] }
                    slots.append(Slot(group: group, resources: [resourceClass: amount], viable: viable))
                }
            } else {
                let viable = pool.filter { uuid in
                    guard let snapshot = state.providers[uuid] else { return false }
                    return group.resources.allSatisfy { fits($0.key, $0.value, on: uuid) }
                        && satisfies(snapshot.traits, required: group.requiredTraits, forbidden: group.forbiddenTraits)
                        && allowedByAggregates(uuid, group)
                }
                if viable.isEmpty { return [] }
                slots.append(Slot(group: group, resources: group.resources, viable: viable))
            }
        }
        var results: [AllocationRequest] = []
        var chosen: [String] = []
        var budget = maxCombinationsPerTree
        search(slots, 0, &chosen, &results, &budget, root: root, members: members)
        var seen: Set<AllocationRequest> = []
        return results.filter { seen.insert($0).inserted }
    }

    func hasSharing(_ snapshot: ProviderSnapshot) -> Bool {
        if state.sharingByAggregate.isEmpty { return false }
        return snapshot.aggregates.contains { state.sharingByAggregate[$0] != nil }
    }

    struct Slot {
        let group: RequestGroup
        let resources: [String: Int]
        let viable: [String]
    }

    private func search(_ slots: [Slot], _ i: Int, _ chosen: inout [String], _ results: inout [AllocationRequest],
                        _ budget: inout Int, root: String, members: Set<String>) {
        if budget <= 0 { return }
        if i == slots.count {
            budget -= 1
            if let request = assemble(slots, chosen, members: members) { results.append(request) }
            return
        }
        for uuid in slots[i].viable {
            if query.isolate && !slots[i].group.isUnsuffixed {
                let clash = zip(slots[..<i], chosen).contains { !$0.0.group.isUnsuffixed && $0.1 == uuid }
                if clash { continue }
            }
            chosen.append(uuid)
            search(slots, i + 1, &chosen, &results, &budget, root: root, members: members)
            chosen.removeLast()
            if budget <= 0 { return }
        }
    }

    /// Checks what depends on the whole combination (summed capacity, unsuffixed traits, same_subtree) and
    /// builds the request.
    private func assemble(_ slots: [Slot], _ chosen: [String], members: Set<String>) -> AllocationRequest? {
        // At least one provider of this tree: a request made only of sharing providers is found in their own tree.
        guard chosen.contains(where: { members.contains($0) }) else { return nil }
        var allocations: [String: [String: Int]] = [:]
        var mappings: [String: [String]] = [:]
        for (slot, uuid) in zip(slots, chosen) {
            for (resourceClass, amount) in slot.resources { allocations[uuid, default: [:]][resourceClass, default: 0] += amount }
            if !(mappings[slot.group.suffix]?.contains(uuid) ?? false) { mappings[slot.group.suffix, default: []].append(uuid) }
        }
        for (uuid, resources) in allocations {
            for (resourceClass, amount) in resources where !fits(resourceClass, amount, on: uuid, checkUnits: false) {
                return nil
            }
        }
        if let unsuffixed = query.groups.first(where: \.isUnsuffixed), !unsuffixed.resources.isEmpty {
            let providers = Set(zip(slots, chosen).filter { $0.0.group.isUnsuffixed }.map(\.1))
            var traits: Set<String> = []
            for uuid in providers {
                let own = state.providers[uuid]?.traits ?? []
                if !own.isDisjoint(with: unsuffixed.forbiddenTraits) { return nil }
                traits.formUnion(own)
            }
            if !unsuffixed.requiredTraits.allSatisfy({ !$0.isDisjoint(with: traits) }) { return nil }
        }
        for suffixes in query.sameSubtree {
            let providers = Set(suffixes.flatMap { mappings[$0] ?? [] })
            guard !providers.isEmpty else { return nil }
            let anchored = providers.contains { top in providers.allSatisfy { isAncestor(top, of: $0) } }
            if !anchored { return nil }
        }
        return AllocationRequest(allocations: allocations, mappings: mappings)
    }

    // MARK: Checks

    public func fits(_ resourceClass: String, _ amount: Int, on uuid: String, checkUnits: Bool = true) -> Bool {
        guard let snapshot = state.providers[uuid] else { return false }
        return Self.fits(resourceClass, amount, snapshot, checkUnits: checkUnits)
    }

    public static func fits(_ resourceClass: String, _ amount: Int, _ snapshot: ProviderSnapshot, checkUnits: Bool = true) -> Bool {
        guard let inventory = snapshot.inventories[resourceClass] else { return false }
        if checkUnits && !inventory.permits(amount) { return false }
        return snapshot.used(resourceClass) + amount <= inventory.capacity
    }

    public func satisfies(_ traits: Set<String>, required: [Set<String>], forbidden: Set<String>) -> Bool {
        traits.isDisjoint(with: forbidden) && required.allSatisfy { !$0.isDisjoint(with: traits) }
    }

    public func allowedByAggregates(_ uuid: String, _ group: RequestGroup) -> Bool {
        guard !group.memberOf.isEmpty || !group.forbiddenAggregates.isEmpty else { return true }
        guard let snapshot = state.providers[uuid] else { return false }
        return allowedByAggregates(snapshot, group)
    }

    func allowedByAggregates(_ snapshot: ProviderSnapshot, _ group: RequestGroup) -> Bool {
        guard !group.memberOf.isEmpty || !group.forbiddenAggregates.isEmpty else { return true }
        let aggregates = snapshot.aggregates
        return aggregates.isDisjoint(with: group.forbiddenAggregates)
            && group.memberOf.allSatisfy { !$0.isDisjoint(with: aggregates) }
    }

    func isAncestor(_ ancestor: String, of uuid: String) -> Bool {
        var current: String? = uuid
        var steps = 0
        while let node = current, steps < 64 {
            if node == ancestor { return true }
            current = state.providers[node]?.provider.parentUUID
            steps += 1
        }
        return false
    }
}
