import StratusCore

/// What the control plane asks of one compute host (queue topic `compute.HOST`).
public enum ComputeCommand: Sendable, Equatable, Codable {
    case spawn(SpawnRequest)
    case power(PowerRequest)
    case console(ConsoleRequest)
    /// Remove the guest and report `destroyed`.
    case destroy(InstanceRef)
    /// Reconciliation's clean-up: remove the guest, tell no one (its server is already settled).
    case destroyOrphan(InstanceRef)
    /// One host-side step of a cold migration or resize (`step` says which; the host reports `moved`).
    case move(MoveStep, MoveRequest)
    /// One host-side step of a live migration (`step` says which; the host reports `live_moved`).
    case liveMove(LiveStep, LiveMigrationRequest)
    /// Snapshot the guest's disk into an image and upload it (the host reports `snapshot` as it goes).
    case snapshot(SnapshotRequest)

    public var instanceUUID: String {
        switch self {
        case .spawn(let request): return request.instanceUUID
        case .power(let request): return request.instanceUUID
        case .console(let request): return request.instanceUUID
        case .destroy(let ref), .destroyOrphan(let ref): return ref.instanceUUID
        case .move(_, let request): return request.guest.instanceUUID
        case .liveMove(_, let request): return request.guest.instanceUUID
        case .snapshot(let request): return request.instanceUUID
        }
    }

    public init(from decoder: any Decoder) throws {
        switch try decoder.envelope() {
        case "spawn": self = .spawn(try SpawnRequest(from: decoder))
        case "power": self = .power(try PowerRequest(from: decoder))
        case "console": self = .console(try ConsoleRequest(from: decoder))
        case "destroy": self = .destroy(try InstanceRef(from: decoder))
        case "destroy_orphan": self = .destroyOrphan(try InstanceRef(from: decoder))
        case "snapshot": self = .snapshot(try SnapshotRequest(from: decoder))
        case let op:
            if let step = MoveStep(rawValue: op) {
                self = .move(step, try MoveRequest(from: decoder))
            } else if let step = LiveStep(rawValue: op) {
                self = .liveMove(step, try LiveMigrationRequest(from: decoder))
            } else {
                throw MessageError("unknown compute command '\(op)'")
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .spawn(let request): try encoder.envelope("spawn"); try request.encode(to: encoder)
        case .power(let request): try encoder.envelope("power"); try request.encode(to: encoder)
        case .console(let request): try encoder.envelope("console"); try request.encode(to: encoder)
        case .destroy(let ref): try encoder.envelope("destroy"); try ref.encode(to: encoder)
        case .destroyOrphan(let ref): try encoder.envelope("destroy_orphan"); try ref.encode(to: encoder)
        case .move(let step, let request): try encoder.envelope(step.rawValue); try request.encode(to: encoder)
        case .liveMove(let step, let request): try encoder.envelope(step.rawValue); try request.encode(to: encoder)
        case .snapshot(let request): try encoder.envelope("snapshot"); try request.encode(to: encoder)
        }
    }
}

/// Everything a driver needs to start one guest.
public struct SpawnRequest: Sendable, Equatable, Codable {
    public var instanceUUID: String
    public var instanceName: String
    public var vcpus: Int
    public var memoryMB: Int
    public var rootGB: Int
    public var imageRef: String
    /// The guest's hostname (from the server's name, as Nova's `hostname`).
    public var hostname: String
    /// The ports bound to the server, one NIC each, in order.
    public var ports: [SpawnPort]
    /// An evacuation's `onSharedStorage` (before microversion 2.14): whether the admin says the guest's disk is on
    /// storage this host shares with the failed one. The host refuses the spawn when it finds otherwise (Nova's
    /// InvalidSharedStorage). Absent: the host judges by itself.
    public var onSharedStorage: Bool?

    public init(instanceUUID: String, instanceName: String, vcpus: Int, memoryMB: Int, rootGB: Int, imageRef: String,
                hostname: String = "", ports: [SpawnPort] = [], onSharedStorage: Bool? = nil) {
        self.instanceUUID = instanceUUID
        self.instanceName = instanceName
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.rootGB = rootGB
        self.imageRef = imageRef
        self.hostname = hostname
        self.ports = ports
        self.onSharedStorage = onSharedStorage
    }

    enum CodingKeys: String, CodingKey {
        case instanceUUID = "instance", instanceName = "name", vcpus, memoryMB = "memory_mb", rootGB = "root_gb"
        case imageRef = "image_ref", hostname, ports, onSharedStorage = "on_shared_storage"
    }
}

/// A port as the driver sees it: which NIC, with which MAC.
public struct SpawnPort: Sendable, Equatable, Codable {
    public var id: String
    public var mac: String
    public init(id: String, mac: String) {
        self.id = id
        self.mac = mac
    }
}

/// A power change the conductor asks a host for.
public enum PowerAction: String, Sendable, Codable, CaseIterable {
    case stop, start
    case rebootSoft = "reboot_soft"
    case rebootHard = "reboot_hard"
    case pause, unpause, suspend, resume
}

/// One power change for one guest.
public struct PowerRequest: Sendable, Equatable, Codable {
    public var instanceUUID: String
    public var action: PowerAction

    public init(instanceUUID: String, action: PowerAction) {
        self.instanceUUID = instanceUUID
        self.action = action
    }

    enum CodingKeys: String, CodingKey { case instanceUUID = "instance", action }
}

/// The guest's serial console, at most the last `lines` lines (all when nil).
public struct ConsoleRequest: Sendable, Equatable, Codable {
    public var instanceUUID: String
    public var lines: Int?

    public init(instanceUUID: String, lines: Int?) {
        self.instanceUUID = instanceUUID
        self.lines = lines
    }

    enum CodingKeys: String, CodingKey { case instanceUUID = "instance", lines }
}

/// A message about one guest and nothing else.
public struct InstanceRef: Sendable, Equatable, Codable {
    public var instanceUUID: String
    public init(instanceUUID: String) { self.instanceUUID = instanceUUID }
    enum CodingKeys: String, CodingKey { case instanceUUID = "instance" }
}

/// A console call's answer.
public struct ConsoleReply: Sendable, Equatable, Codable {
    public var output: String?
    public var error: String?
    public init(output: String? = nil, error: String? = nil) {
        self.output = output
        self.error = error
    }
}
