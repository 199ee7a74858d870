/// Passes hosts in the availability zone the request asked for (Nova's AvailabilityZoneFilter).
public struct AvailabilityZoneFilter: HostFilter {
    public static let name = "AvailabilityZoneFilter"
    public init() {}
    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool {
        guard let zone = spec.availabilityZone else { return true }
        return host.zone == zone
    }
}
