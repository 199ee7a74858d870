@_exported import StratusMessages
import Foundation
import StratusCore

/// What a compute agent asks of a hypervisor. `FakeDriver` for tests and scale runs, `QEMUDriver` for real guests.
public protocol VirtDriver: Sendable {
    /// The host's capacity, reported to placement as inventory.
    func hostResources() async -> HostResources
    /// Creates and starts a guest; returns when it runs.
    func spawn(_ request: SpawnRequest) async throws
    /// Stops and removes a guest; succeeds if it is already gone (idempotent).
    func destroy(instanceUUID: String) async throws
    /// Changes a guest's power: stop, start, soft/hard reboot, pause/unpause, suspend/resume. Idempotent where it can be.
    func power(instanceUUID: String, action: PowerAction) async throws
    /// The guest's serial console output, at most the last `lines` lines when given.
    func consoleOutput(instanceUUID: String, lines: Int?) async throws -> String
    /// Guests the driver knows on this host and whether each runs, for the periodic power-state sync.
    func listGuests() async -> [String: Bool]
    var hypervisorType: String { get }
    /// Nova's `hypervisor_version` (QEMU 7.2.22 → 7002022).
    var hypervisorVersion: Int { get }
    /// Nova's `cpu_info`; QEMU adds which accelerator (kvm or tcg) runs the guests.
    var cpuInfo: JSON { get }
    /// Periodic housekeeping (the image cache manager), every `[image_cache] manager_interval`.
    func maintain() async
    /// Nova's `capabilities_as_traits`: each trait the driver knows, and whether this host supports it.
    var capabilityTraits: [String: Bool] { get }

    // Cold migration and resize. Each step is idempotent (a redelivered step finds it done) and, when it
    // fails, leaves the guest as it was before the step.

    /// Source: powers the guest off and makes its disk available to `request.destHost`; returns where the
    /// destination copies it from (nil: nothing to copy that way).
    func migrateDiskAndPowerOff(_ request: MoveRequest) async throws -> String?
    /// Destination: starts the guest (`request.guest`, the new flavor) from the disk the source handed over,
    /// running if `request.powerOn`.
    func finishMigration(_ request: MoveRequest) async throws
    /// Source: the move is kept; removes what the source still holds of the guest (on a resize to the same host,
    /// only what the old flavor's guest left).
    func confirmMigration(_ request: MoveRequest) async throws
    /// Destination: the move is undone; removes the guest `finishMigration` started (on a resize to the same host,
    /// keeping what the source holds for the revert).
    func revertMigration(_ request: MoveRequest) async throws
    /// Source: the move is undone; brings the guest back as `request.guest` (the old flavor), running if `request.powerOn`.
    func finishRevertMigration(_ request: MoveRequest) async throws

    // Live migration. The guest keeps running on the source until the destination runs it; every failure before
    // that leaves it there, and the destination removes what it prepared.

    /// Destination: leaves a marker for the migration in instances_path (Nova's shared-storage check).
    func createSharedPathMarker(migrationUUID: String) async throws
    /// Source: whether the destination's marker is visible here, i.e. both hosts see one instances_path.
    func seesSharedPathMarker(migrationUUID: String) async -> Bool
    /// Destination: removes the marker (idempotent).
    func removeSharedPathMarker(migrationUUID: String) async throws
    /// Destination: prepares the instance directory, image cache and (block migration) an empty disk, and starts
    /// the guest's QEMU waiting for it. Returns where it waits. Idempotent: a redelivery returns the same.
    func preLiveMigration(_ request: LiveMigrationRequest) async throws -> LiveIncoming
    /// Source: copies the disk (block migration) and memory to `request.incoming` until the destination runs the
    /// guest, calling `progress` on the way. Throws `LiveMigrationCancelled` after an abort, and
    /// `LiveMigrationPostCopyFailed` for a failure once the copy had switched to post-copy.
    func liveMigration(_ request: LiveMigrationRequest, progress: @escaping @Sendable (LiveProgress) async -> Void) async throws
    /// Destination: the guest runs here; what served the copy goes.
    func postLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws
    /// Source: removes the guest's QEMU and, unless the instances_path is shared, its directory.
    func cleanupLiveMigrationSource(_ request: LiveMigrationRequest) async throws
    /// Destination: removes the QEMU and, unless the instances_path is shared, the directory prepared here.
    func rollbackLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws
    /// Whether the guest's disk is already here on storage this host shares with others (Nova's `instance_on_disk`):
    /// what an evacuation's `onSharedStorage` is checked against.
    func instanceOnSharedStorage(_ instanceUUID: String) async -> Bool
    /// Source: cancels the migration `request.migrationUUID` — now, or as soon as its copy is in hand again (an
    /// agent restarted mid-copy gets the abort before the redelivered copy).
    func abortLiveMigration(_ request: LiveMigrationRequest) async throws
    /// Source: makes the migration `request.migrationUUID` converge now (or once its copy is in hand again).
    func forceCompleteLiveMigration(_ request: LiveMigrationRequest) async throws

    /// Writes the guest's disk, flattened, as the bits of the queued image `request.imageID`, calling `progress`
    /// when the copy is taken and when its upload starts. The guest is as it was afterwards.
    func snapshot(_ request: SnapshotRequest, progress: @escaping @Sendable (SnapshotOutcome.Phase) async -> Void) async throws
}

/// A live migration ended by an abort: the guest runs on where it was.
public struct LiveMigrationCancelled: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "the live migration was cancelled" }
}

/// A live migration that failed after switching to post-copy: the guest had started on the destination while part
/// of its memory was still on the source, so it can run on neither. Nothing is resumed or removed on either host.
public struct LiveMigrationPostCopyFailed: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String {
        "the live migration failed in post-copy (\(reason)); the guest's memory is split between both hosts, and neither copy was resumed or removed"
    }
}

extension VirtDriver {
    public var hypervisorVersion: Int { 1 }
    public var cpuInfo: JSON { [:] }
    public func maintain() async {}
    public var capabilityTraits: [String: Bool] { [:] }
    public func migrateDiskAndPowerOff(_ request: MoveRequest) async throws -> String? {
        throw DriverError("the \(hypervisorType) driver cannot move guests between hosts")
    }
    public func finishMigration(_ request: MoveRequest) async throws {
        throw DriverError("the \(hypervisorType) driver cannot move guests between hosts")
    }
    // A resize on its own host (allow_resize_to_same_host) has one guest here: confirm and revert keep it.
    public func confirmMigration(_ request: MoveRequest) async throws {
        if request.sourceHost != request.destHost { try await destroy(instanceUUID: request.guest.instanceUUID) }
    }
    public func revertMigration(_ request: MoveRequest) async throws {
        if request.sourceHost != request.destHost { try await destroy(instanceUUID: request.guest.instanceUUID) }
    }
    public func finishRevertMigration(_ request: MoveRequest) async throws {
        throw DriverError("the \(hypervisorType) driver cannot move guests between hosts")
    }
    public func createSharedPathMarker(migrationUUID: String) async throws {
        throw DriverError("the \(hypervisorType) driver cannot live-migrate guests")
    }
    public func seesSharedPathMarker(migrationUUID: String) async -> Bool { false }
    public func removeSharedPathMarker(migrationUUID: String) async throws {}
    public func preLiveMigration(_ request: LiveMigrationRequest) async throws -> LiveIncoming {
        throw DriverError("the \(hypervisorType) driver cannot live-migrate guests")
    }
    public func liveMigration(_ request: LiveMigrationRequest, progress: @escaping @Sendable (LiveProgress) async -> Void) async throws {
        throw DriverError("the \(hypervisorType) driver cannot live-migrate guests")
    }
    public func postLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws {}
    public func cleanupLiveMigrationSource(_ request: LiveMigrationRequest) async throws {
        try await destroy(instanceUUID: request.guest.instanceUUID)
    }
    public func rollbackLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws {
        try await destroy(instanceUUID: request.guest.instanceUUID)
    }
    public func instanceOnSharedStorage(_ instanceUUID: String) async -> Bool { false }
    public func abortLiveMigration(_ request: LiveMigrationRequest) async throws {}
    public func forceCompleteLiveMigration(_ request: LiveMigrationRequest) async throws {}
    public func snapshot(_ request: SnapshotRequest, progress: @escaping @Sendable (SnapshotOutcome.Phase) async -> Void) async throws {
        throw DriverError("the \(hypervisorType) driver cannot snapshot guests")
    }
}

/// Removes the file or directory at `path`; nothing there is success, a failure to remove it is thrown.
func removeIfPresent(_ path: String) throws {
    if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
}

/// Runs `body` with a temporary file at `path` and removes the file afterwards, whatever `body` did; a removal that
/// fails is said (with `body`'s own error, if it failed too), never dropped.
func withTemporaryFile<T>(_ path: String, _ body: () async throws -> T) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        do { try removeIfPresent(path) } catch let cleanup { throw DriverError("\(error); removing \(path) also failed: \(cleanup)") }
        throw error
    }
    try removeIfPresent(path)
    return result
}

/// A driver failure, with the message the instance fault will carry.
public struct DriverError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
