/// What the scheduler knows about one compute host when it decides.
public struct HostState: Sendable, Equatable {
    public var host: String
    /// The host's resource provider (its compute node).
    public var nodeUUID: String
    public var zone: String
    public var enabled: Bool
    public var up: Bool
    public var freeRAMMB: Int
    public var freeVCPUs: Int
    public var freeDiskGB: Int

    public init(host: String, nodeUUID: String, zone: String, enabled: Bool, up: Bool, freeRAMMB: Int, freeVCPUs: Int,
                freeDiskGB: Int) {
        self.host = host
        self.nodeUUID = nodeUUID
        self.zone = zone
        self.enabled = enabled
        self.up = up
        self.freeRAMMB = freeRAMMB
        self.freeVCPUs = freeVCPUs
        self.freeDiskGB = freeDiskGB
    }
}

/// What is being scheduled (Nova's RequestSpec, the parts used so far).
public struct RequestSpec: Sendable, Equatable {
    public var instanceUUID: String
    public var vcpus: Int
    public var memoryMB: Int
    public var rootGB: Int
    public var availabilityZone: String?
    /// Hosts already tried for this build (rescheduling skips them).
    public var ignoreHosts: Set<String> = []

    public init(instanceUUID: String, vcpus: Int, memoryMB: Int, rootGB: Int, availabilityZone: String? = nil) {
        self.instanceUUID = instanceUUID
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.rootGB = rootGB
        self.availabilityZone = availabilityZone
    }
}

/// A pass/fail test of one host, pure and small, named as in Nova's `[filter_scheduler] enabled_filters`.
public protocol HostFilter: Sendable {
    static var name: String { get }
    func passes(_ host: HostState, _ spec: RequestSpec) -> Bool
}

/// A score for one host; higher is better. Weighers are normalised and multiplied as in Nova.
public protocol HostWeigher: Sendable {
    static var name: String { get }
    var multiplier: Double { get }
    func weigh(_ host: HostState, _ spec: RequestSpec) -> Double
}
