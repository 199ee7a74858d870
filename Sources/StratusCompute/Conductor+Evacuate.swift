import StratusCore
import StratusMessages
import StratusNetwork

/// Evacuate (Nova's rebuild on another host, for a server whose host is down): a destination chosen and claimed as a
/// cold move's (the dead source's allocation held by the migration), the guest spawned there from its image, then the
/// source's hold dropped. The source's old guest, should the host come back, is a stray for power sync to remove.
///
///     accepted → pre-migrating (claimed, spawn sent to the destination) → done | failed, or error (no host)
extension Conductor {
    func evacuate(_ ref: MigrationRef, requestID: String) async throws {
        guard let instance = try await instances.instance(ref.instanceUUID), !instance.deleted, instance.taskState == .rebuilding,
              let migration = try await migrations.migration(ref.migrationUUID), migration.status == .accepted,
              migration.destCompute == nil else { return }
        let started = Clock.now()
        try await chooseDestination(instance, migration, ignoring: [migration.sourceCompute]) { host, summary in
            try await rebuildOnDestination(instance, migration, on: host, started: started, summary: summary,
                                           onSharedStorage: ref.onSharedStorage, requestID: requestID)
        } noHost: { details in
            // Nova: the server keeps its vm_state, the task is cleared, the migration is in error.
            let reason = "No valid host was found. No valid host found for evacuate" + details
            try await queue.storage.transaction { tx in
                guard var current = try await instances.instance(instance.uuid, in: tx), !current.deleted, current.taskState == .rebuilding,
                      var record = try await migrations.migration(migration.uuid, in: tx), record.status == .accepted else { return }
                record.status = .error
                record.error = reason
                try await migrations.save(record, in: tx)
                current.taskState = nil
                try await instances.save(current, in: tx)
                try await instances.recordEvent(instanceUUID: current.uuid, action: "evacuate", event: "conductor_rebuild_server",
                                                start: started, result: "Error", host: nil, details: reason, finishAction: true, in: tx)
            }
        }
    }

    /// The destination is claimed: the server is its now, and it spawns the guest from the image.
    func rebuildOnDestination(_ instance: Instance, _ migration: MigrationRecord, on dest: String, started: Double, summary: String,
                              onSharedStorage: Bool?, requestID: String) async throws {
        try await rebindPorts(instance.uuid, to: dest)
        let ports = try await network.ports(device: instance.uuid)
        try await queue.storage.transaction { tx in
            guard var current = try await instances.instance(instance.uuid, in: tx), !current.deleted, current.taskState == .rebuilding,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == .accepted else { return }
            record.status = .preMigrating
            record.destCompute = dest
            record.destNode = dest
            record.destHost = dest
            try await migrations.save(record, in: tx)
            current.host = dest
            current.node = dest
            current.taskState = .rebuildSpawning
            try await instances.save(current, in: tx)
            try await instances.recordEvent(instanceUUID: current.uuid, action: "evacuate", event: "conductor_rebuild_server",
                                            start: started, result: "Success", host: dest, details: summary, in: tx)
            var spawn = Self.guest(current, flavor: current.flavor, ports: ports)
            spawn.onSharedStorage = onSharedStorage
            try await queue.send(.spawn(spawn), to: dest, requestID: requestID, in: tx)
        }
    }

    /// The migration of an evacuation spawning on `host` now, if the spawn report is about one.
    func evacuation(of uuid: String, on host: String) async throws -> MigrationRecord? {
        guard let migration = try await migrations.latest(instanceUUID: uuid, statuses: [.preMigrating]),
              migration.kind == .evacuation, migration.destCompute == host else { return nil }
        return migration
    }

    /// The guest runs on the destination: the evacuation is done, and the dead source's hold goes. A server that
    /// was stopped (or evacuated at 2.95) is stopped there.
    func evacuated(_ migration: MigrationRecord, outcome: SpawnOutcome, requestID: String) async throws {
        let stop = migration.targetState == .stopped
        // The source's hold is released by a request queued with the state: no crash in between can leave it behind
        // (a redelivered spawn report finds the evacuation done and does nothing more).
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .rebuildSpawning, instance.host == outcome.host,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == .preMigrating else { return }
            record.status = .done
            try await migrations.save(record, in: tx)
            try await groups.endMove(of: record.instanceUUID, in: tx)
            instance.vmState = .active
            instance.powerState = .running
            instance.taskState = stop ? .poweringOff : nil
            instance.fault = nil
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(instanceUUID: instance.uuid, action: "evacuate", event: "compute_rebuild_instance",
                                            start: outcome.started, result: "Success", host: outcome.host, finishAction: true, in: tx)
            if stop {
                try await queue.send(.power(PowerRequest(instanceUUID: instance.uuid, action: .stop)), to: outcome.host,
                                     requestID: requestID, in: tx)
            }
            try await queue.request(.release(ReleaseRequest(instanceUUID: migration.uuid, ports: false)), requestID: requestID, in: tx)
        }
    }

    /// The destination could not spawn the guest: Nova leaves the server in ERROR; the claim goes back to the
    /// (dead) source, so a later evacuation starts from where the server is.
    func evacuationFailed(_ migration: MigrationRecord, outcome: SpawnOutcome) async throws {
        try await moveAllocationsBack(migration)
        try await rebindPorts(migration.instanceUUID, to: migration.sourceCompute)
        let error = outcome.error ?? "the host gave no reason"
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .rebuildSpawning,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == .preMigrating else { return }
            record.status = .failed
            record.error = error
            try await migrations.save(record, in: tx)
            instance.host = record.sourceCompute
            instance.node = record.sourceNode
            instance.vmState = .error
            instance.taskState = nil
            instance.fault = Instance.Fault(code: 500, message: error, details: "rebuilding on \(outcome.host) failed: \(error)")
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(instanceUUID: instance.uuid, action: "evacuate", event: "compute_rebuild_instance",
                                            start: outcome.started, result: "Error", host: outcome.host, details: error,
                                            finishAction: true, in: tx)
        }
    }
}
