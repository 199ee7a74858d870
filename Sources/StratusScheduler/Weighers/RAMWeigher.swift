/// Prefers hosts with more free RAM (multiplier > 0 spreads, < 0 stacks), as Nova's RAMWeigher.
public struct RAMWeigher: HostWeigher {
    public static let name = "RAMWeigher"
    public let multiplier: Double
    public init(multiplier: Double = 1.0) { self.multiplier = multiplier }
    public func weigh(_ host: HostState, _ spec: RequestSpec) -> Double { Double(host.freeRAMMB) }
}
