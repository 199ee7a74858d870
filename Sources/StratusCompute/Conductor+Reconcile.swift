import Logging
import StratusQueue
import StratusCore
import StratusMessages

/// Reconciliation: what the hosts report against what the database says, and workflows that stopped moving.
extension Conductor {
    /// A host's periodic report of its guests (uuid → powered on). Guests that stopped behind our back become
    /// SHUTOFF with an action saying so; guests of deleted servers are destroyed.
    func powerSync(_ sync: PowerSync) async throws {
        let host = sync.host
        let reported = sync.guests
        let known = try await instances.list(host: host)
        // A guest on its way between hosts is on both for a while (and stays on the source until confirmed).
        let moving = Set(try await migrations.unfinished(host: host).map(\.instanceUUID))
        let knownIDs = Set(known.map(\.uuid)).union(moving)
        // Changed after the listing (plus a margin for the host's clock): the listing may predate the guest.
        let changedSince = sync.listedAt.map { $0 - Self.powerSyncClockMargin }
        for instance in known where instance.taskState == nil {
            let poweredOn = reported[instance.uuid] ?? false
            guard [.active, .paused, .suspended].contains(instance.vmState), !poweredOn else { continue }
            if let changedSince, instance.updatedAt >= changedSince { continue }
            try await queue.storage.transaction { tx in
                guard var current = try await instances.instance(instance.uuid, in: tx), !current.deleted, current.taskState == nil,
                      current.host == host, changedSince.map({ current.updatedAt < $0 }) ?? true else { return }
                current.vmState = .stopped
                current.powerState = .shutdown
                try await instances.save(current, in: tx)
                _ = try await instances.startAction(
                    "stop", instance: current, requestID: Identifier.requestID(), userID: current.userID, projectID: current.projectID, in: tx)
                try await instances.recordEvent(
                    instanceUUID: current.uuid, action: "stop", event: "compute_sync_power_state", start: Clock.now(), result: "Success",
                    host: host, details: reported[instance.uuid] == nil
                        ? "the guest was not found on \(host); marked SHUTOFF" : "the guest was found powered off on \(host); marked SHUTOFF",
                    finishAction: true, in: tx)
            }
            logger.warning("instance \(instance.uuid) found powered off on \(host): now SHUTOFF")
        }
        for uuid in reported.keys where !knownIDs.contains(uuid) {
            // Nova's running_deleted_instance_action=reap: a guest whose server is gone is removed.
            if let record = try await instances.instance(uuid), !record.deleted {
                if record.vmState == .building { continue }  // being placed now
                // A server in ERROR is the operator's to judge: its guest here may be the half of a move that could
                // not finish (a post-copy failure) — Nova reaps only guests of deleted servers in ERROR too.
                if record.vmState == .error { continue }
            }
            logger.warning("destroying guest \(uuid) on \(host): its server is deleted or lives elsewhere")
            try await queue.send(.destroyOrphan(InstanceRef(instanceUUID: uuid)), to: host)
        }
    }

    /// How far a host's clock may be ahead of the control plane's before a power report judges an instance it
    /// listed too early to see (NTP keeps hosts well within it).
    static let powerSyncClockMargin = 2.0

    /// One pass over in-flight workflows: builds past `buildTimeout` go to ERROR; builds waiting on a host that
    /// is down are rescheduled; power tasks stuck past the timeout are cleared, as Nova's compute does at restart.
    public func reconcile(now: Double = Clock.now()) async throws {
        do {
            let fixed = try await ComputeStatusTrait(hosts: hosts, placement: placement).reconcile()
            if fixed > 0 { logger.info("COMPUTE_STATUS_DISABLED put right on \(fixed) compute node(s)") }
        } catch {
            // The traits wait for the next pass; the workflows below must not.
            logger.warning("syncing COMPUTE_STATUS_DISABLED failed, retried next pass: \(error)")
        }
        try await confirmExpiredResizes(now: now)
        guard settings.buildTimeout > 0 else { return }
        let states = Dictionary(try await hostStates().map { ($0.host, $0.up) }, uniquingKeysWith: { a, _ in a })
        for instance in try await instances.inFlight() {
            let age = now - instance.updatedAt
            if instance.taskState == .deleting {
                // A delete wins over everything, a build too: a stuck one is sent again, never turned into ERROR.
                if age > settings.buildTimeout { try await delete(instance.uuid, requestID: Identifier.requestID()) }
            } else if instance.vmState == .building {
                if instance.taskState == .spawning, let host = instance.host, states[host] == false, age > settings.serviceDownTime {
                    try await spawnFailed(
                        SpawnOutcome(host: host, instanceUUID: instance.uuid, started: instance.updatedAt, error: "compute host \(host) is down"),
                        requestID: Identifier.requestID())
                } else if age > settings.buildTimeout {
                    let failed = try await fail(
                        instance.uuid, message: "Build of instance \(instance.uuid) aborted: timed out after \(Int(settings.buildTimeout)) seconds",
                        details: "instance_build_timeout (\(Int(settings.buildTimeout)) s) passed in task state \(instance.taskState?.rawValue ?? "none")",
                        event: "conductor_build_timeout", start: instance.updatedAt, host: instance.host, unchangedSince: instance.updatedAt)
                    if failed, let host = instance.host {
                        try await queue.send(.destroyOrphan(InstanceRef(instanceUUID: instance.uuid)), to: host)
                    }
                }
            } else if let task = instance.taskState, TaskState.resizing.contains(task) || task == .resizeReverting || task == .migrating {
                // A move's steps are queued messages that are redelivered until done: never cleared by age.
                continue
            } else if age > settings.buildTimeout {
                try await queue.storage.transaction { tx in
                    guard var current = try await instances.instance(instance.uuid, in: tx), current.updatedAt == instance.updatedAt else { return }
                    logger.warning("clearing task state \(current.taskState?.rawValue ?? "") of \(current.uuid): no progress for \(Int(age)) s")
                    current.taskState = nil
                    try await instances.save(current, in: tx)
                }
            }
        }
    }

    /// `resize_confirm_window`: resizes finished longer ago than the window are confirmed as if the user had.
    func confirmExpiredResizes(now: Double) async throws {
        guard settings.resizeConfirmWindow > 0 else { return }
        for migration in try await migrations.unfinished() where migration.status == .finished
            && now - migration.updatedAt > settings.resizeConfirmWindow {
            let ref = MigrationRef(instanceUUID: migration.instanceUUID, migrationUUID: migration.uuid)
            let requestID = Identifier.requestID()
            let started = try await queue.storage.transaction { tx -> Bool in
                guard let instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                      instance.vmState == .resized, instance.taskState == nil,
                      var record = try await migrations.migration(migration.uuid, in: tx), record.status == .finished else { return false }
                record.status = .confirming
                try await migrations.save(record, in: tx)
                try await groups.endMove(of: record.instanceUUID, in: tx)
                _ = try await instances.startAction("confirmResize", instance: instance, requestID: requestID,
                                                     userID: instance.userID, projectID: instance.projectID, in: tx)
                try await queue.request(.confirmResize(ref), requestID: requestID, in: tx)
                return true
            }
            if started { logger.info("confirming the resize of \(migration.instanceUUID): resize_confirm_window passed") }
        }
    }

    /// The periodic reconciliation as a service.
    public func reconciler(interval: Duration) -> PeriodicService {
        PeriodicService(every: interval) {
            do { try await reconcile() } catch { logger.warning("reconciliation failed: \(error)") }
        }
    }
}
