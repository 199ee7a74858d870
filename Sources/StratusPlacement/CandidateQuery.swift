/// One request group of `GET /allocation_candidates`: the unsuffixed group (`resources`, `required`, …) or a
/// suffixed one (`resources1`, `required1`, … `resources_NET`, …).
public struct RequestGroup: Sendable, Equatable {
    public var suffix: String
    public var resources: [String: Int] = [:]
    /// AND of any-of sets: `required=A,B&required=in:C,D` is [{A}, {B}, {C, D}].
    public var requiredTraits: [Set<String>] = []
    public var forbiddenTraits: Set<String> = []
    /// AND of any-of sets of aggregate uuids.
    public var memberOf: [Set<String>] = []
    public var forbiddenAggregates: Set<String> = []
    public var inTree: String?

    public init(suffix: String) { self.suffix = suffix }

    public var isUnsuffixed: Bool { suffix.isEmpty }
}

/// Everything `GET /allocation_candidates` asks for.
public struct CandidateQuery: Sendable {
    public var groups: [RequestGroup] = []
    /// `group_policy=isolate`: suffixed groups must land on different providers.
    public var isolate = false
    public var limit: Int?
    public var rootRequired: [Set<String>] = []
    public var rootForbidden: Set<String> = []
    /// Each entry lists suffixes whose providers must share one subtree.
    public var sameSubtree: [[String]] = []
    public var randomize = false
    /// Before 1.29 nested providers are not considered: only trees of one provider qualify.
    public var nestedAware = true

    public init() {}
}

/// One way to satisfy the query: provider → resources, and which providers served which group (1.34 mappings).
public struct AllocationRequest: Sendable, Equatable, Hashable {
    public var allocations: [String: [String: Int]]
    public var mappings: [String: [String]]
}

/// The candidates and the providers to summarise.
public struct CandidateResult: Sendable {
    public var requests: [AllocationRequest]
    /// Providers for `provider_summaries`, in the trees the requests came from.
    public var summaryProviders: [String]
}
