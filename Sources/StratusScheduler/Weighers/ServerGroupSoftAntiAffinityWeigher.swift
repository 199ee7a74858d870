/// For `soft-anti-affinity` groups: prefers hosts running fewer members (Nova's ServerGroupSoftAntiAffinityWeigher).
public struct ServerGroupSoftAntiAffinityWeigher: HostWeigher {
    public static let name = "ServerGroupSoftAntiAffinityWeigher"
    public let multiplier: Double
    public init(multiplier: Double = 1.0) { self.multiplier = multiplier }
    public func applies(to spec: RequestSpec) -> Bool { spec.group?.policy == .softAntiAffinity }
    public func weigh(_ host: HostState, _ spec: RequestSpec) -> Double {
        guard let group = spec.group, group.policy == .softAntiAffinity else { return 0 }
        return -Double(group.membersByHost[host.host] ?? 0)
    }
}
