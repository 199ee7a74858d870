/// Nova's filter scheduler as a pure function: filters, then weighers (each normalised to 0…1 over the hosts
/// and multiplied), then the best `hostSubsetSize` shuffled so concurrent requests spread instead of all
/// choosing the same "best" host. The caller claims in placement in the order returned.
public struct FilterScheduler: Sendable {
    public var filters: [any HostFilter]
    public var weighers: [any HostWeigher]
    public var hostSubsetSize: Int
    public var shuffleBestSameWeighedHosts: Bool

    /// Filters by name, as `[filter_scheduler] enabled_filters` lists them.
    public static let availableFilters: [String: any HostFilter] = Dictionary(uniqueKeysWithValues: ([
        ComputeFilter(), AvailabilityZoneFilter(), ImagePropertiesFilter(), ServerGroupAffinityFilter(),
        ServerGroupAntiAffinityFilter(), SameHostFilter(), DifferentHostFilter(), AggregateInstanceExtraSpecsFilter(),
    ] as [any HostFilter]).map { (type(of: $0).name, $0) })

    /// Stratus's default `enabled_filters`: Nova's, plus the availability zone and host-hint filters.
    public static let defaultFilterNames = [
        "AvailabilityZoneFilter", "ComputeFilter", "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter",
        "ServerGroupAffinityFilter", "SameHostFilter", "DifferentHostFilter", "AggregateInstanceExtraSpecsFilter",
    ]

    /// Weigher multipliers (`[filter_scheduler] *_weight_multiplier`).
    public struct Multipliers: Sendable {
        public var ram = 1.0, cpu = 1.0, disk = 1.0, softAffinity = 1.0, softAntiAffinity = 1.0
        public init() {}
    }

    /// An unknown filter name in the configuration.
    public struct UnknownFilter: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "[filter_scheduler] enabled_filters names unknown filter '\(name)'; known: "
                + FilterScheduler.availableFilters.keys.sorted().joined(separator: ", ")
        }
    }

    /// The scheduler the configuration describes; throws on an unknown filter name.
    public static func configured(enabledFilters: [String], multipliers: Multipliers = .init(), hostSubsetSize: Int = 1,
                                  shuffleBestSameWeighedHosts: Bool = false) throws -> FilterScheduler {
        let filters = try enabledFilters.map { name -> any HostFilter in
            guard let filter = availableFilters[name] else { throw UnknownFilter(name: name) }
            return filter
        }
        return FilterScheduler(
            filters: filters,
            weighers: [
                RAMWeigher(multiplier: multipliers.ram), CPUWeigher(multiplier: multipliers.cpu),
                DiskWeigher(multiplier: multipliers.disk),
                ServerGroupSoftAffinityWeigher(multiplier: multipliers.softAffinity),
                ServerGroupSoftAntiAffinityWeigher(multiplier: multipliers.softAntiAffinity),
            ],
            hostSubsetSize: hostSubsetSize, shuffleBestSameWeighedHosts: shuffleBestSameWeighedHosts)
    }

    public init(filters: [any HostFilter] = defaultFilterNames.compactMap { availableFilters[$0] },
                weighers: [any HostWeigher] = [RAMWeigher(), CPUWeigher(), DiskWeigher(), ServerGroupSoftAffinityWeigher(),
                                               ServerGroupSoftAntiAffinityWeigher()],
                hostSubsetSize: Int = 1, shuffleBestSameWeighedHosts: Bool = false) {
        self.filters = filters
        self.weighers = weighers
        self.hostSubsetSize = max(1, hostSubsetSize)
        self.shuffleBestSameWeighedHosts = shuffleBestSameWeighedHosts
    }

    /// What happened to the candidate hosts, for the request's record (why not host X).
    public struct Decision: Sendable, Equatable {
        public var ordered: [HostState]
        /// Each filter in the order it ran, with how many hosts it saw and how many it removed.
        public var steps: [FilterStep]

        public init(ordered: [HostState], steps: [FilterStep]) {
            self.ordered = ordered
            self.steps = steps
        }

        /// filter name → hosts it removed
        public var rejected: [String: Int] { Dictionary(steps.map { ($0.filter, $0.removed) }, uniquingKeysWith: +) }

        /// `ComputeFilter: 8 → 7, …`, for the action event.
        public var summary: String { steps.map { "\($0.filter): \($0.before) → \($0.before - $0.removed)" }.joined(separator: ", ") }
    }

    /// One filter's effect on one request.
    public struct FilterStep: Sendable, Equatable {
        public var filter: String
        public var before: Int
        public var removed: Int
    }

    /// Filters, weighs and orders `hosts`; `ordered` holds the best `keep` (the claim's fallbacks, as Nova's
    /// alternates). Works on indices so 10,000 hosts are not copied once per filter.
    public func select(_ hosts: [HostState], _ spec: RequestSpec, keep: Int = 100) -> Decision {
        // Hosts this build already failed on are never retried (Nova keeps them out through the request spec).
        var remaining = spec.ignoreHosts.isEmpty ? Array(hosts.indices) : hosts.indices.filter { !spec.ignoreHosts.contains(hosts[$0].host) }
        var steps: [FilterStep] = []
        if remaining.count < hosts.count { steps.append(FilterStep(filter: "RetriedHosts", before: hosts.count, removed: hosts.count - remaining.count)) }
        for filter in filters {
            let before = remaining.count
            remaining.removeAll { !filter.passes(hosts[$0], spec) }
            steps.append(FilterStep(filter: type(of: filter).name, before: before, removed: before - remaining.count))
        }
        var scores = [Double](repeating: 0, count: remaining.count)
        for weigher in weighers where weigher.multiplier != 0 && weigher.applies(to: spec) {
            let raw = remaining.map { weigher.weigh(hosts[$0], spec) }
            guard let low = raw.min(), let high = raw.max(), high > low else { continue }
            let span = high - low
            for i in raw.indices { scores[i] += weigher.multiplier * (raw[i] - low) / span }
        }
        var order = Array(remaining.indices)
        // Ties keep the input order (hosts come sorted by name): comparing integers, not 10,000 host names.
        order.sort { a, b in scores[a] > scores[b] || (scores[a] == scores[b] && a < b) }
        var ordered = order.prefix(max(keep, hostSubsetSize)).map { hosts[remaining[$0]] }
        if shuffleBestSameWeighedHosts, let best = order.first.map({ scores[$0] }) {
            let ties = min(ordered.count, order.prefix { scores[$0] == best }.count)
            if ties > 1 { ordered[0..<ties].shuffle() }
        }
        let subset = min(hostSubsetSize, ordered.count)
        if subset > 1 { ordered[0..<subset].shuffle() }
        return Decision(ordered: ordered, steps: steps)
    }
}
