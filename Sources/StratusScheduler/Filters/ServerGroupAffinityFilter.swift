/// For a server in an `affinity` group: once a member has a host, only that host passes (Nova's
/// ServerGroupAffinityFilter). The conductor re-checks at claim time under the group's lock.
public struct ServerGroupAffinityFilter: HostFilter {
    public static let name = "ServerGroupAffinityFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool {
        guard let group = spec.group, group.policy == .affinity else { return true }
        return group.allows(host.host)
    }
}
