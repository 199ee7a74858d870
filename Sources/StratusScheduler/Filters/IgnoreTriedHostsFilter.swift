/// Passes hosts this build has not failed on yet, so a reschedule goes elsewhere (Nova does this with the
/// request spec's ignore_hosts).
public struct IgnoreTriedHostsFilter: HostFilter {
    public static let name = "IgnoreTriedHostsFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool { !spec.ignoreHosts.contains(host.host) }
}
