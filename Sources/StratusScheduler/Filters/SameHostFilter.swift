/// With the `same_host` hint: only hosts running one of the named servers pass (Nova's SameHostFilter).
public struct SameHostFilter: HostFilter {
    public static let name = "SameHostFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool {
        guard let hosts = spec.sameHosts else { return true }
        return hosts.contains(host.host)
    }
}
