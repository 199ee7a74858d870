/// What does not change between decisions about one host: names, zone, service status, aggregates. Shared by
/// reference so the per-decision `HostState` copies one pointer, not a dozen strings and dictionaries.
public final class HostInfo: Sendable, Equatable {
    public let host: String
    /// The host's resource provider (its compute node).
    public let nodeUUID: String
    public let zone: String
    public let enabled: Bool
    public let hypervisorType: String
    public let architecture: String
    /// Metadata of the host's aggregates: key → every value any of them sets.
    public let aggregateMetadata: [String: Set<String>]

    public init(host: String, nodeUUID: String, zone: String, enabled: Bool, hypervisorType: String = "fake",
                architecture: String = "x86_64", aggregateMetadata: [String: Set<String>] = [:]) {
        self.host = host
        self.nodeUUID = nodeUUID
        self.zone = zone
        self.enabled = enabled
        self.hypervisorType = hypervisorType
        self.architecture = architecture
        self.aggregateMetadata = aggregateMetadata
    }

    public static func == (a: HostInfo, b: HostInfo) -> Bool {
        a === b || (a.host == b.host && a.nodeUUID == b.nodeUUID && a.zone == b.zone && a.enabled == b.enabled
            && a.hypervisorType == b.hypervisorType && a.architecture == b.architecture && a.aggregateMetadata == b.aggregateMetadata)
    }
}

/// What the scheduler knows about one compute host when it decides: the shared `HostInfo`, liveness and free
/// capacity at this moment.
public struct HostState: Sendable, Equatable {
    public let info: HostInfo
    public var up: Bool
    public var freeRAMMB: Int
    public var freeVCPUs: Int
    public var freeDiskGB: Int

    public init(info: HostInfo, up: Bool, freeRAMMB: Int, freeVCPUs: Int, freeDiskGB: Int) {
        self.info = info
        self.up = up
        self.freeRAMMB = freeRAMMB
        self.freeVCPUs = freeVCPUs
        self.freeDiskGB = freeDiskGB
    }

    public var host: String { info.host }
    public var nodeUUID: String { info.nodeUUID }
    public var zone: String { info.zone }
    public var enabled: Bool { info.enabled }
    public var hypervisorType: String { info.hypervisorType }
    public var architecture: String { info.architecture }
    public var aggregateMetadata: [String: Set<String>] { info.aggregateMetadata }
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
    public var flavorExtraSpecs: [String: String] = [:]
    public var imageProperties: [String: String] = [:]
    /// The server group the instance belongs to, with where its other members are.
    public var group: GroupPlacement?
    /// Hosts of the servers named by `same_host` (nil: no such hint).
    public var sameHosts: Set<String>?
    /// Hosts of the servers named by `different_host`.
    public var differentHosts: Set<String> = []

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
    /// Whether the weigher has anything to say about this request (false skips it: every host would score 0).
    func applies(to spec: RequestSpec) -> Bool
}

extension HostWeigher {
    public func applies(to spec: RequestSpec) -> Bool { true }
}

/// A server group policy, as Nova names them.
public enum ServerGroupPolicy: String, Sendable, CaseIterable, Codable {
    case affinity
    case antiAffinity = "anti-affinity"
    case softAffinity = "soft-affinity"
    case softAntiAffinity = "soft-anti-affinity"
}

/// Where a group's other members already are, and what its policy allows next.
public struct GroupPlacement: Sendable, Equatable {
    public var policy: ServerGroupPolicy
    /// host → members of the group placed there (the instance being placed excluded)
    public var membersByHost: [String: Int]
    /// The `max_server_per_host` rule of anti-affinity groups (microversion 2.64); 1 by default.
    public var maxServerPerHost: Int

    public init(policy: ServerGroupPolicy, membersByHost: [String: Int], maxServerPerHost: Int = 1) {
        self.policy = policy
        self.membersByHost = membersByHost
        self.maxServerPerHost = max(1, maxServerPerHost)
    }

    /// Whether the hard policies allow one more member on `host`; soft policies always allow.
    public func allows(_ host: String) -> Bool {
        switch policy {
        case .affinity: return membersByHost.isEmpty || membersByHost[host] != nil
        case .antiAffinity: return (membersByHost[host] ?? 0) < maxServerPerHost
        case .softAffinity, .softAntiAffinity: return true
        }
    }
}
