/// Prefers hosts with more free disk (multiplier > 0 spreads, < 0 stacks), as Nova's DiskWeigher.
public struct DiskWeigher: HostWeigher {
    public static let name = "DiskWeigher"
    public let multiplier: Double
    public init(multiplier: Double = 1.0) { self.multiplier = multiplier }
    public func weigh(_ host: HostState, _ spec: RequestSpec) -> Double { Double(host.freeDiskGB) }
}
