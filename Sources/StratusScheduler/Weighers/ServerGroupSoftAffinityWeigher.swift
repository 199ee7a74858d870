/// For `soft-affinity` groups: prefers hosts already running more members (Nova's ServerGroupSoftAffinityWeigher).
public struct ServerGroupSoftAffinityWeigher: HostWeigher {
    public static let name = "ServerGroupSoftAffinityWeigher"
    public let multiplier: Double
    public init(multiplier: Double = 1.0) { self.multiplier = multiplier }
    public func applies(to spec: RequestSpec) -> Bool { spec.group?.policy == .softAffinity }
    public func weigh(_ host: HostState, _ spec: RequestSpec) -> Double {
        guard let group = spec.group, group.policy == .softAffinity else { return 0 }
        return Double(group.membersByHost[host.host] ?? 0)
    }
}
