/// For a server in an `anti-affinity` group: hosts already holding `max_server_per_host` members fail (Nova's
/// ServerGroupAntiAffinityFilter). The conductor re-checks at claim time under the group's lock.
public struct ServerGroupAntiAffinityFilter: HostFilter {
    public static let name = "ServerGroupAntiAffinityFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool {
        guard let group = spec.group, group.policy == .antiAffinity else { return true }
        return group.allows(host.host)
    }
}
