import StratusCore

/// What a compute host tells the control plane (queue topic `conductor-reports`). Every report names its host,
/// and the channel refuses a report for a host its sender does not serve or for an instance on another host.
public enum HostReport: Sendable, Equatable, Codable {
    case registerHost(HostRegistration)
    case heartbeat(HostRef)
    case spawned(SpawnOutcome)
    case spawnFailed(SpawnOutcome)
    case powerDone(PowerOutcome)
    case powerSync(PowerSync)
    case destroyed(HostInstance)
    /// A step of a cold migration or resize ended (on the migration's source or destination).
    case moved(MoveOutcome)
    /// A step of a live migration ended (on the migration's source or destination).
    case liveMoved(LiveOutcome)
    /// A live migration's progress, from its source while the memory is copied.
    case liveProgress(LiveProgress)
    /// A snapshot's progress or end.
    case snapshot(SnapshotOutcome)

    public var host: String {
        switch self {
        case .registerHost(let registration): return registration.host
        case .heartbeat(let ref): return ref.host
        case .spawned(let outcome), .spawnFailed(let outcome): return outcome.host
        case .powerDone(let outcome): return outcome.host
        case .powerSync(let sync): return sync.host
        case .destroyed(let ref): return ref.host
        case .moved(let outcome): return outcome.host
        case .liveMoved(let outcome): return outcome.host
        case .liveProgress(let progress): return progress.host
        case .snapshot(let outcome): return outcome.host
        }
    }

    /// The migration the report is about: such a report may come from either of its hosts.
    public var migrationUUID: String? {
        switch self {
        case .moved(let outcome): return outcome.migrationUUID
        case .liveMoved(let outcome): return outcome.migrationUUID
        case .liveProgress(let progress): return progress.migrationUUID
        default: return nil
        }
    }

    /// The instance the report is about, if it is about one on the sender's host (a move's report is judged by
    /// its migration instead).
    public var instanceUUID: String? {
        switch self {
        case .spawned(let outcome), .spawnFailed(let outcome): return outcome.instanceUUID
        case .powerDone(let outcome): return outcome.instanceUUID
        case .destroyed(let ref): return ref.instanceUUID
        case .snapshot(let outcome): return outcome.instanceUUID
        case .registerHost, .heartbeat, .powerSync, .moved, .liveMoved, .liveProgress: return nil
        }
    }

    public init(from decoder: any Decoder) throws {
        switch try decoder.envelope() {
        case "register_host": self = .registerHost(try HostRegistration(from: decoder))
        case "heartbeat": self = .heartbeat(try HostRef(from: decoder))
        case "spawned": self = .spawned(try SpawnOutcome(from: decoder))
        case "spawn_failed": self = .spawnFailed(try SpawnOutcome(from: decoder))
        case "power_done": self = .powerDone(try PowerOutcome(from: decoder))
        case "power_sync": self = .powerSync(try PowerSync(from: decoder))
        case "destroyed": self = .destroyed(try HostInstance(from: decoder))
        case "moved": self = .moved(try MoveOutcome(from: decoder))
        case "live_moved": self = .liveMoved(try LiveOutcome(from: decoder))
        case "live_progress": self = .liveProgress(try LiveProgress(from: decoder))
        case "snapshot": self = .snapshot(try SnapshotOutcome(from: decoder))
        case let op: throw MessageError("unknown host report '\(op)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .registerHost(let body): try encoder.envelope("register_host"); try body.encode(to: encoder)
        case .heartbeat(let body): try encoder.envelope("heartbeat"); try body.encode(to: encoder)
        case .spawned(let body): try encoder.envelope("spawned"); try body.encode(to: encoder)
        case .spawnFailed(let body): try encoder.envelope("spawn_failed"); try body.encode(to: encoder)
        case .powerDone(let body): try encoder.envelope("power_done"); try body.encode(to: encoder)
        case .powerSync(let body): try encoder.envelope("power_sync"); try body.encode(to: encoder)
        case .destroyed(let body): try encoder.envelope("destroyed"); try body.encode(to: encoder)
        case .moved(let body): try encoder.envelope("moved"); try body.encode(to: encoder)
        case .liveMoved(let body): try encoder.envelope("live_moved"); try body.encode(to: encoder)
        case .liveProgress(let body): try encoder.envelope("live_progress"); try body.encode(to: encoder)
        case .snapshot(let body): try encoder.envelope("snapshot"); try body.encode(to: encoder)
        }
    }
}

/// A host's size as the driver sees it.
public struct HostResources: Sendable, Equatable, Codable {
    public var vcpus: Int
    public var memoryMB: Int
    public var localGB: Int

    public init(vcpus: Int, memoryMB: Int, localGB: Int) {
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.localGB = localGB
    }

    enum CodingKeys: String, CodingKey { case vcpus, memoryMB = "memory_mb", localGB = "local_gb" }
}

/// A host announcing itself and what it offers (Nova's compute service and compute node records).
public struct HostRegistration: Sendable, Equatable, Codable {
    public var host: String
    public var zone: String
    public var resources: HostResources
    public var hypervisorType: String
    public var hypervisorVersion: Int
    public var cpuInfo: JSON

    public init(host: String, zone: String, resources: HostResources, hypervisorType: String, hypervisorVersion: Int, cpuInfo: JSON) {
        self.host = host
        self.zone = zone
        self.resources = resources
        self.hypervisorType = hypervisorType
        self.hypervisorVersion = hypervisorVersion
        self.cpuInfo = cpuInfo
    }

    enum CodingKeys: String, CodingKey {
        case host, zone, resources, hypervisorType = "hypervisor_type", hypervisorVersion = "hypervisor_version", cpuInfo = "cpu_info"
    }
}

/// A report about a host alone.
public struct HostRef: Sendable, Equatable, Codable {
    public var host: String
    public init(host: String) { self.host = host }
}

/// A report about one guest on one host.
public struct HostInstance: Sendable, Equatable, Codable {
    public var host: String
    public var instanceUUID: String
    public init(host: String, instanceUUID: String) {
        self.host = host
        self.instanceUUID = instanceUUID
    }
    enum CodingKeys: String, CodingKey { case host, instanceUUID = "instance" }
}

/// How a spawn ended; `error` set when it failed.
public struct SpawnOutcome: Sendable, Equatable, Codable {
    public var host: String
    public var instanceUUID: String
    /// When the host started the spawn (seconds since 1970), for the action event.
    public var started: Double
    public var error: String?

    public init(host: String, instanceUUID: String, started: Double, error: String? = nil) {
        self.host = host
        self.instanceUUID = instanceUUID
        self.started = started
        self.error = error
    }
    enum CodingKeys: String, CodingKey { case host, instanceUUID = "instance", started, error }
}

/// How a power change ended; `error` set when it failed.
public struct PowerOutcome: Sendable, Equatable, Codable {
    public var host: String
    public var instanceUUID: String
    public var action: PowerAction
    public var started: Double
    public var error: String?

    public init(host: String, instanceUUID: String, action: PowerAction, started: Double, error: String? = nil) {
        self.host = host
        self.instanceUUID = instanceUUID
        self.action = action
        self.started = started
        self.error = error
    }
    enum CodingKeys: String, CodingKey { case host, instanceUUID = "instance", action, started, error }
}

/// The periodic report of which guests a host runs (uuid → powered on).
public struct PowerSync: Sendable, Equatable, Codable {
    public var host: String
    public var guests: [String: Bool]
    /// When the host listed its guests (its clock, epoch seconds). The report reaches a conductor later, after
    /// other reports perhaps (a spawn's ack is applied at once): an instance changed since is judged by the next one.
    /// Absent from agents older than this field: those reports judge every instance, as before.
    public var listedAt: Double?
    public init(host: String, guests: [String: Bool], listedAt: Double?) {
        self.host = host
        self.guests = guests
        self.listedAt = listedAt
    }
}
