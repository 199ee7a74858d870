import StratusCore

/// One host-side step of a live migration, as the conductor asks a host for it. The same shape serves every
/// step; what a step needs that an earlier one learnt (the storage check, where the destination listens) rides
/// along once it is known.
public struct LiveMigrationRequest: Sendable, Equatable, Codable {
    public var migrationUUID: String
    public var sourceHost: String
    public var destHost: String
    /// The guest as it runs (its flavor does not change).
    public var guest: SpawnRequest
    /// Whether the disk is copied to the destination (decided once the storage check is done).
    public var blockMigration: Bool
    /// Whether both hosts see one instances_path (Nova's shared-storage check): the disk then stays where it is.
    public var sharedInstancePath: Bool
    /// Where the destination's QEMU waits for the guest; set from `live_migration` on.
    public var incoming: LiveIncoming?
    /// The guest was paused (by its user) before the move, and stays paused on the destination.
    public var paused: Bool

    public init(migrationUUID: String, sourceHost: String, destHost: String, guest: SpawnRequest, blockMigration: Bool = false,
                sharedInstancePath: Bool = false, incoming: LiveIncoming? = nil, paused: Bool = false) {
        self.migrationUUID = migrationUUID
        self.sourceHost = sourceHost
        self.destHost = destHost
        self.guest = guest
        self.blockMigration = blockMigration
        self.sharedInstancePath = sharedInstancePath
        self.incoming = incoming
        self.paused = paused
    }

    enum CodingKeys: String, CodingKey {
        case migrationUUID = "migration", sourceHost = "source_host", destHost = "dest_host", guest
        case blockMigration = "block_migration", sharedInstancePath = "shared_instance_path", incoming, paused
    }
}

/// Where a destination's QEMU listens for the incoming guest: its migration stream and, for a block migration,
/// the NBD export its disk is written through.
public struct LiveIncoming: Sendable, Equatable, Codable {
    /// `tcp:ADDRESS:PORT`
    public var uri: String
    /// `nbd:ADDRESS:PORT:exportname=NAME`, for a block migration.
    public var nbd: String?

    public init(uri: String, nbd: String? = nil) {
        self.uri = uri
        self.nbd = nbd
    }
}

/// The host-side steps of a live migration, named as Nova's compute manager methods (and its action events).
///
///     dest check → source check → dest pre_live_migration → source live_migration
///         → dest post_live_migration_at_destination → source post_live_migration (clean-up)
///     any failure before the destination runs the guest → dest rollback_live_migration_at_destination
public enum LiveStep: String, Sendable, Codable, CaseIterable, HostStepName {
    /// Destination: leave a marker in its instances_path for the source to look for (the shared-storage check).
    case checkDestination = "check_can_live_migrate_destination"
    /// Source: the guest runs here; is the destination's marker visible (shared instances_path)?
    case checkSource = "check_can_live_migrate_source"
    /// Destination: the instance directory, the image cache, the disk (block migration) and QEMU waiting for the guest.
    case preLiveMigration = "pre_live_migration"
    /// Source: copy the disk (block migration) and the memory, until the guest runs on the destination.
    case liveMigration = "live_migration"
    /// Destination: the guest runs here now; stop serving the disk copy.
    case postAtDestination = "post_live_migration_at_destination"
    /// Source: remove the guest's QEMU and (unless the path is shared) its directory.
    case cleanupSource = "post_live_migration"
    /// Destination: the move failed; remove whatever was prepared here.
    case rollbackAtDestination = "rollback_live_migration_at_destination"
    /// Source: cancel the migration in progress (the API's abort).
    case abort = "live_migration_abort"
    /// Source: make the migration converge now (post-copy if permitted, else pause the guest).
    case forceComplete = "live_migration_force_complete"
}

/// How a host's step of a live migration ended. `error` set when it failed (the host undid its own part).
public struct LiveOutcome: Sendable, Equatable, Codable {
    public var host: String
    public var migrationUUID: String
    public var instanceUUID: String
    public var step: LiveStep
    public var started: Double
    public var error: String?
    /// `check_can_live_migrate_source`: whether the destination's marker was visible.
    public var sharedInstancePath: Bool?
    /// `pre_live_migration`: where the destination waits.
    public var incoming: LiveIncoming?
    /// `live_migration`: the failure was an abort asked for (the migration is `cancelled`, not `failed`).
    public var cancelled: Bool?
    /// `live_migration`: the copy failed after it had switched to post-copy. The guest ran on the destination with
    /// part of its memory still on the source, so neither side may be resumed or removed: the server goes to ERROR.
    public var postCopyFailed: Bool?

    public init(host: String, migrationUUID: String, instanceUUID: String, step: LiveStep, started: Double, error: String? = nil,
                sharedInstancePath: Bool? = nil, incoming: LiveIncoming? = nil, cancelled: Bool? = nil, postCopyFailed: Bool? = nil) {
        self.host = host
        self.migrationUUID = migrationUUID
        self.instanceUUID = instanceUUID
        self.step = step
        self.started = started
        self.error = error
        self.sharedInstancePath = sharedInstancePath
        self.incoming = incoming
        self.cancelled = cancelled
        self.postCopyFailed = postCopyFailed
    }

    enum CodingKeys: String, CodingKey {
        case host, migrationUUID = "migration", instanceUUID = "instance", step, started, error
        case sharedInstancePath = "shared_instance_path", incoming, cancelled, postCopyFailed = "post_copy_failed"
    }
}

/// Where a live migration in progress stands, as QEMU counts it (`query-migrate`, the mirror job): Nova's
/// `memory_*_bytes` and `disk_*_bytes` of `GET /servers/{id}/migrations`.
public struct LiveProgress: Sendable, Equatable, Codable {
    public var host: String
    public var migrationUUID: String
    public var memoryTotal: Int
    public var memoryProcessed: Int
    public var memoryRemaining: Int
    public var diskTotal: Int
    public var diskProcessed: Int
    public var diskRemaining: Int
    /// True once the source switched the copy to post-copy: the guest runs on the destination, and the migration can
    /// no longer be aborted or forced (Nova's `running (post-copy)`). Absent in reports of older agents.
    public var postCopy: Bool?

    public init(host: String, migrationUUID: String, memoryTotal: Int = 0, memoryProcessed: Int = 0, memoryRemaining: Int = 0,
                diskTotal: Int = 0, diskProcessed: Int = 0, diskRemaining: Int = 0, postCopy: Bool? = nil) {
        self.host = host
        self.migrationUUID = migrationUUID
        self.memoryTotal = memoryTotal
        self.memoryProcessed = memoryProcessed
        self.memoryRemaining = memoryRemaining
        self.diskTotal = diskTotal
        self.diskProcessed = diskProcessed
        self.diskRemaining = diskRemaining
        self.postCopy = postCopy
    }

    enum CodingKeys: String, CodingKey {
        case host, migrationUUID = "migration", memoryTotal = "memory_total", memoryProcessed = "memory_processed"
        case memoryRemaining = "memory_remaining", diskTotal = "disk_total", diskProcessed = "disk_processed"
        case diskRemaining = "disk_remaining", postCopy = "post_copy"
    }
}
