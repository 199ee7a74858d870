/// Passes hosts whose compute service is enabled and up (Nova's ComputeFilter).
public struct ComputeFilter: HostFilter {
    public static let name = "ComputeFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool { host.enabled && host.up }
}
