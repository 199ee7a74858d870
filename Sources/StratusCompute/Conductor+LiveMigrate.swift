import StratusCore
import StratusMessages
import StratusNetwork

/// Live migration, first part: choose and claim a destination (as a cold move does: the source's allocation moves
/// to the migration, the destination is claimed for the instance, in one placement write), run the storage check
/// both hosts take part in, and admit the migration under `max_concurrent_live_migrations`.
///
///     accepted → dest check → source check → (queued →) preparing: dest pre_live_migration
///         → running: source live_migration → dest post_live_migration_at_destination → source clean-up → completed
extension Conductor {
    /// Schedules the live migration of `ref`'s instance. No host with room: the migration ends in error with
    /// Nova's NoValidHost reason, and the server runs on where it was.
    func liveMigrate(_ ref: MigrationRef, requestID: String) async throws {
        guard let instance = try await instances.instance(ref.instanceUUID), !instance.deleted, instance.taskState == .migrating,
              let migration = try await migrations.migration(ref.migrationUUID), migration.status == .accepted,
              migration.destCompute == nil else { return }
        let started = Clock.now()
        try await chooseDestination(instance, migration, ignoring: [migration.sourceCompute]) { host, summary in
            try await startLive(instance, migration, to: host, started: started, summary: summary, requestID: requestID)
        } noHost: { details in
            try await endLive(migration, status: .error, reason: "No valid host was found. No valid host found for live migration" + details,
                              event: "conductor_live_migrate_instance", start: started, host: nil, rollBackDestination: false)
        }
    }

    /// The claim is made: record the destination and ask it for its half of the storage check.
    func startLive(_ instance: Instance, _ migration: MigrationRecord, to dest: String, started: Double, summary: String,
                   requestID: String) async throws {
        let ports = try await network.ports(device: instance.uuid)
        try await queue.storage.transaction { tx in
            guard let current = try await instances.instance(instance.uuid, in: tx), !current.deleted, current.taskState == .migrating,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == .accepted,
                  record.destCompute == nil else { return }
            record.destCompute = dest
            record.destNode = dest
            record.destHost = dest
            try await migrations.save(record, in: tx)
            try await instances.recordEvent(
                instanceUUID: current.uuid, action: record.actionName, event: "conductor_live_migrate_instance", start: started,
                result: "Success", host: dest, details: summary, in: tx)
            try await queue.send(.liveMove(.checkDestination, liveRequest(current, record, ports: ports)), to: dest,
                                 requestID: requestID, in: tx)
        }
    }

    /// The request every host-side step of `migration` gets, with what earlier steps found.
    func liveRequest(_ instance: Instance, _ migration: MigrationRecord, ports: [Port]) -> LiveMigrationRequest {
        LiveMigrationRequest(
            migrationUUID: migration.uuid, sourceHost: migration.sourceCompute, destHost: migration.destCompute ?? "",
            guest: Self.guest(instance, flavor: instance.flavor, ports: ports), blockMigration: migration.live?.blockMigration ?? false,
            sharedInstancePath: migration.live?.sharedInstancePath ?? false, incoming: migration.live?.incoming,
            paused: instance.vmState == .paused)
    }

    /// The source answered the storage check: decide whether the disk is copied (Nova's rules for `block_migration`),
    /// then admit the migration or queue it.
    func storageChecked(_ migration: MigrationRecord, shared: Bool, outcome: LiveOutcome, requestID: String) async throws {
        guard migration.status == .accepted, var live = migration.live else { return }
        let block: Bool
        switch live.requestedBlockMigration {
        case "true":
            guard !shared else {
                return try await endLive(migration, status: .error,
                                         reason: "\(migration.sourceCompute) is not on local storage: Block migration can not be used with shared storage.",
                                         event: outcome.step.event, start: outcome.started, host: outcome.host)
            }
            block = true
        case "false":
            guard shared else {
                return try await endLive(migration, status: .error,
                                         reason: "\(migration.sourceCompute) is not on shared storage: Shared storage live-migration requires either shared storage or boot-from-volume with no local disks.",
                                         event: outcome.step.event, start: outcome.started, host: outcome.host)
            }
            block = false
        default:
            block = !shared
        }
        live.sharedInstancePath = shared
        live.blockMigration = block
        try await admit(migration, live: live, event: outcome.step.event, start: outcome.started, host: outcome.host, requestID: requestID)
    }

    /// Starts preparing on the destination if the source has a free slot (`max_concurrent_live_migrations`), or
    /// leaves the migration `queued` until one ends.
    func admit(_ migration: MigrationRecord, live: LiveDetails?, event: String?, start: Double, host: String?, requestID: String) async throws {
        let ports = try await network.ports(device: migration.instanceUUID)
        try await queue.storage.transaction { tx in
            guard let instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .migrating,
                  var record = try await migrations.migration(migration.uuid, in: tx),
                  record.status == (live == nil ? .queued : .accepted), let dest = record.destCompute else { return }
            if let live { record.live = live }
            let limit = settings.maxConcurrentLiveMigrations
            let busy = try await migrations.liveInProgress(from: record.sourceCompute, in: tx)
            record.status = limit > 0 && busy >= limit ? .queued : .preparing
            try await migrations.save(record, in: tx)
            if let event {
                try await instances.recordEvent(instanceUUID: instance.uuid, action: record.actionName, event: event, start: start,
                                                result: "Success", host: host, in: tx)
            }
            if record.status == .preparing {
                try await queue.send(.liveMove(.preLiveMigration, liveRequest(instance, record, ports: ports)), to: dest,
                                     requestID: requestID, in: tx)
            }
        }
    }

    /// A live migration from `source` ended: the oldest one waiting there goes next.
    func admitNextQueued(from source: String, requestID: String) async throws {
        guard let next = try await migrations.oldestQueued(from: source) else { return }
        try await admit(next, live: nil, event: nil, start: Clock.now(), host: nil, requestID: requestID)
    }

    /// The API's abort: a migration still copying is cancelled by its source (its `live_migration` step then ends
    /// `cancelled`); one not copying yet ends here.
    func abortLiveMigration(_ ref: MigrationRef, requestID: String) async throws {
        guard let migration = try await migrations.migration(ref.migrationUUID), migration.kind == .liveMigration,
              let instance = try await instances.instance(ref.instanceUUID), !instance.deleted else { return }
        switch migration.status {
        case .running:
            let ports = try await network.ports(device: instance.uuid)
            try await queue.send(.liveMove(.abort, liveRequest(instance, migration, ports: ports)), to: migration.sourceCompute,
                                 requestID: requestID)
        case .accepted, .queued, .preparing:
            try await endLive(migration, status: .cancelled, reason: "the live migration was aborted before it started copying",
                              event: "live_migration_abort", start: Clock.now(), host: nil, rollBackDestination: migration.destCompute != nil)
        default:
            return
        }
    }

    /// The API's force-complete: the source makes a running migration converge now.
    func forceCompleteLiveMigration(_ ref: MigrationRef, requestID: String) async throws {
        guard let migration = try await migrations.migration(ref.migrationUUID), migration.status == .running,
              let instance = try await instances.instance(ref.instanceUUID), !instance.deleted else { return }
        let ports = try await network.ports(device: instance.uuid)
        try await queue.send(.liveMove(.forceComplete, liveRequest(instance, migration, ports: ports)), to: migration.sourceCompute,
                             requestID: requestID)
    }
}
