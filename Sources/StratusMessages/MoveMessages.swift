import StratusCore

/// One step of a cold migration or resize, as the conductor asks a host for it. The same request shape serves
/// every step: the source hands the guest over, the destination starts it, and confirm or revert settle it.
public struct MoveRequest: Sendable, Equatable, Codable {
    public var migrationUUID: String
    public var sourceHost: String
    public var destHost: String
    /// The guest as it must be at the end of this step: the new flavor on the destination, the old one on a revert.
    public var guest: SpawnRequest
    /// The root disk before the move, so a host can refuse to shrink it (Nova's "Unable to resize disk down.").
    public var oldRootGB: Int
    /// Whether the guest runs at the end of the step (it ran before the move).
    public var powerOn: Bool
    /// `finish_resize`: where the source serves the guest's disk (what its `resize_instance` reported); nil when
    /// the source's driver hands nothing over that way.
    public var diskSource: String?

    public init(migrationUUID: String, sourceHost: String, destHost: String, guest: SpawnRequest, oldRootGB: Int, powerOn: Bool,
                diskSource: String? = nil) {
        self.migrationUUID = migrationUUID
        self.sourceHost = sourceHost
        self.destHost = destHost
        self.guest = guest
        self.oldRootGB = oldRootGB
        self.powerOn = powerOn
        self.diskSource = diskSource
    }

    enum CodingKeys: String, CodingKey {
        case migrationUUID = "migration", sourceHost = "source_host", destHost = "dest_host", guest
        case oldRootGB = "old_root_gb", powerOn = "power_on", diskSource = "disk_source"
    }
}

/// A host-side step named as Nova's compute manager method; its instance-action event is `compute_` + the name.
public protocol HostStepName: RawRepresentable where RawValue == String {}

extension HostStepName {
    /// Nova's action event for the step.
    public var event: String { "compute_" + rawValue }
}

/// The host-side steps of a cold move, named as Nova's compute manager methods (and its action events).
public enum MoveStep: String, Sendable, Codable, CaseIterable, HostStepName {
    /// Source: power the guest off and hand its disk over.
    case resizeInstance = "resize_instance"
    /// Destination: start the guest from the handed-over disk, with the new flavor.
    case finishResize = "finish_resize"
    /// Source: remove what is left of the guest there (the move is kept).
    case confirmResize = "confirm_resize"
    /// Destination: remove the guest there (the move is undone).
    case revertResize = "revert_resize"
    /// Source: bring the guest back with its old flavor.
    case finishRevertResize = "finish_revert_resize"
}

/// How a host's step of a move ended; `error` set when it failed (the host has undone its own part of the step).
public struct MoveOutcome: Sendable, Equatable, Codable {
    public var host: String
    public var migrationUUID: String
    public var instanceUUID: String
    public var step: MoveStep
    public var started: Double
    public var error: String?
    /// `resize_instance`: where the destination copies the guest's disk from (an NBD URI on the source).
    public var diskSource: String?

    public init(host: String, migrationUUID: String, instanceUUID: String, step: MoveStep, started: Double, error: String? = nil,
                diskSource: String? = nil) {
        self.host = host
        self.migrationUUID = migrationUUID
        self.instanceUUID = instanceUUID
        self.step = step
        self.started = started
        self.error = error
        self.diskSource = diskSource
    }

    enum CodingKeys: String, CodingKey {
        case host, migrationUUID = "migration", instanceUUID = "instance", step, started, error, diskSource = "disk_source"
    }
}

/// A request about one migration of one server.
public struct MigrationRef: Sendable, Equatable, Codable {
    public var instanceUUID: String
    public var migrationUUID: String
    /// Only an evacuation's, and only before microversion 2.14: the admin's `onSharedStorage` (see `SpawnRequest`).
    public var onSharedStorage: Bool?

    public init(instanceUUID: String, migrationUUID: String, onSharedStorage: Bool? = nil) {
        self.instanceUUID = instanceUUID
        self.migrationUUID = migrationUUID
        self.onSharedStorage = onSharedStorage
    }

    enum CodingKeys: String, CodingKey { case instanceUUID = "instance", migrationUUID = "migration", onSharedStorage = "on_shared_storage" }
}
