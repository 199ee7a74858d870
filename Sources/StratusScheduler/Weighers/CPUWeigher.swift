/// Prefers hosts with more free vCPUs, as Nova's CPUWeigher.
public struct CPUWeigher: HostWeigher {
    public static let name = "CPUWeigher"
    public let multiplier: Double
    public init(multiplier: Double = 1.0) { self.multiplier = multiplier }
    public func weigh(_ host: HostState, _ spec: RequestSpec) -> Double { Double(host.freeVCPUs) }
}
