/// Nova's filter scheduler as a pure function: filters, then weighers (each normalised to 0…1 over the hosts
/// and multiplied), then the best `hostSubsetSize` shuffled so concurrent requests spread instead of all
/// choosing the same "best" host. The caller claims in placement in the order returned.
public struct FilterScheduler: Sendable {
    public var filters: [any HostFilter]
    public var weighers: [any HostWeigher]
    public var hostSubsetSize: Int

    /// Filters by name, as `[filter_scheduler] enabled_filters` lists them; an unknown name is an error.
    public static let availableFilters: [String: any HostFilter] = [
        ComputeFilter.name: ComputeFilter(), AvailabilityZoneFilter.name: AvailabilityZoneFilter(),
        IgnoreTriedHostsFilter.name: IgnoreTriedHostsFilter(),
    ]

    public init(filters: [any HostFilter] = [ComputeFilter(), AvailabilityZoneFilter(), IgnoreTriedHostsFilter()],
                weighers: [any HostWeigher] = [RAMWeigher(), CPUWeigher()], hostSubsetSize: Int = 1) {
        self.filters = filters
        self.weighers = weighers
        self.hostSubsetSize = max(1, hostSubsetSize)
    }

    /// What happened to the candidate hosts, for the request's record (why not host X).
    public struct Decision: Sendable, Equatable {
        public var ordered: [HostState]
        /// filter name → hosts it removed
        public var rejected: [String: Int]
    }

    public func select(_ hosts: [HostState], _ spec: RequestSpec) -> Decision {
        var remaining = hosts
        var rejected: [String: Int] = [:]
        for filter in filters {
            let before = remaining.count
            remaining = remaining.filter { filter.passes($0, spec) }
            rejected[type(of: filter).name] = before - remaining.count
        }
        var scores = [Double](repeating: 0, count: remaining.count)
        for weigher in weighers {
            let raw = remaining.map { weigher.weigh($0, spec) }
            guard let low = raw.min(), let high = raw.max() else { continue }
            let span = high - low
            for i in raw.indices { scores[i] += weigher.multiplier * (span == 0 ? 0 : (raw[i] - low) / span) }
        }
        var ordered = zip(remaining, scores).sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0.host < $1.0.host) }.map(\.0)
        let subset = min(hostSubsetSize, ordered.count)
        if subset > 1 { ordered[0..<subset].shuffle() }
        return Decision(ordered: ordered, rejected: rejected)
    }
}
