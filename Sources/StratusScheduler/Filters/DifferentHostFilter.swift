/// With the `different_host` hint: hosts running any of the named servers fail (Nova's DifferentHostFilter).
public struct DifferentHostFilter: HostFilter {
    public static let name = "DifferentHostFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool { !spec.differentHosts.contains(host.host) }
}
