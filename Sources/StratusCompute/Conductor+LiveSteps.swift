import StratusCore
import StratusMessages
import StratusNetwork

/// Live migration, second part: what follows each host's step. Every handler checks the migration's status under
/// its row lock (instance first, then migration), so a report delivered twice finds its step taken. Until the
/// destination runs the guest, any failure ends the migration with the guest running on its source, the claim
/// moved back and the destination told to remove what it prepared.
extension Conductor {
    func liveMoved(_ outcome: LiveOutcome, requestID: String) async throws {
        guard let migration = try await migrations.migration(outcome.migrationUUID), migration.instanceUUID == outcome.instanceUUID,
              migration.kind == .liveMigration,
              let instance = try await instances.instance(outcome.instanceUUID), !instance.deleted else { return }
        if let error = outcome.error {
            try await liveStepFailed(outcome.step, migration, error: error, outcome: outcome)
            return
        }
        switch outcome.step {
        case .checkDestination:
            try await sendLive(.checkSource, migration, to: migration.sourceCompute, expected: [.accepted], outcome: outcome, requestID: requestID)
        case .checkSource:
            try await storageChecked(migration, shared: outcome.sharedInstancePath ?? false, outcome: outcome, requestID: requestID)
        case .preLiveMigration:
            try await destinationReady(migration, incoming: outcome.incoming, outcome: outcome, requestID: requestID)
        case .liveMigration:
            guard let dest = migration.destCompute else { return }
            try await sendLive(.postAtDestination, migration, to: dest, expected: [.running, .runningPostCopy], outcome: outcome, requestID: requestID)
        case .postAtDestination:
            try await runsOnDestination(migration, outcome: outcome, requestID: requestID)
        case .cleanupSource:
            try await liveCompleted(migration, outcome: outcome, requestID: requestID)
        case .rollbackAtDestination, .abort, .forceComplete:
            return
        }
    }

    /// Records the step that ended and sends the next one, if the migration is still where it was.
    func sendLive(_ step: LiveStep, _ migration: MigrationRecord, to host: String, expected: Set<MigrationRecord.Status>,
                  outcome: LiveOutcome, requestID: String, change: @Sendable (inout MigrationRecord) -> Void = { _ in }) async throws {
        let ports = try await network.ports(device: migration.instanceUUID)
        try await queue.storage.transaction { tx in
            guard let instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .migrating,
                  var record = try await migrations.migration(migration.uuid, in: tx), expected.contains(record.status) else { return }
            let before = record
            change(&record)
            if record != before { try await migrations.save(record, in: tx) }
            try await instances.recordEvent(instanceUUID: instance.uuid, action: record.actionName, event: outcome.step.event,
                                            start: outcome.started, result: "Success", host: outcome.host, in: tx)
            try await queue.send(.liveMove(step, liveRequest(instance, record, ports: ports)), to: host, requestID: requestID, in: tx)
        }
    }

    /// The destination's QEMU waits for the guest: the source starts copying. A migration aborted while the
    /// destination prepared is rolled back there instead.
    func destinationReady(_ migration: MigrationRecord, incoming: LiveIncoming?, outcome: LiveOutcome, requestID: String) async throws {
        guard let dest = migration.destCompute else { return }
        if migration.status.isFinal {
            let ports = try await network.ports(device: migration.instanceUUID)
            guard let instance = try await instances.instance(migration.instanceUUID) else { return }
            try await queue.send(.liveMove(.rollbackAtDestination, liveRequest(instance, migration, ports: ports)), to: dest, requestID: requestID)
            return
        }
        guard let incoming else {
            return try await liveStepFailed(.preLiveMigration, migration, error: "the destination did not say where it waits", outcome: outcome)
        }
        try await sendLive(.liveMigration, migration, to: migration.sourceCompute, expected: [.preparing], outcome: outcome,
                           requestID: requestID) { record in
            record.status = .running
            record.live?.incoming = incoming
        }
    }

    /// The guest runs on the destination: the server is there now (host, ports), and the source removes its copy.
    func runsOnDestination(_ migration: MigrationRecord, outcome: LiveOutcome, requestID: String) async throws {
        guard let dest = migration.destCompute else { return }
        try await rebindPorts(migration.instanceUUID, to: dest)
        let ports = try await network.ports(device: migration.instanceUUID)
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .migrating,
                  let record = try await migrations.migration(migration.uuid, in: tx), record.status.isCopying else { return }
            instance.host = dest
            instance.node = record.destNode ?? dest
            instance.taskState = nil
            instance.powerState = instance.vmState == .paused ? .paused : .running
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(instanceUUID: instance.uuid, action: record.actionName, event: outcome.step.event,
                                            start: outcome.started, result: "Success", host: outcome.host, in: tx)
            try await queue.send(.liveMove(.cleanupSource, liveRequest(instance, record, ports: ports)), to: record.sourceCompute,
                                 requestID: requestID, in: tx)
        }
    }

    /// The source is clean: the migration is complete, its hold on the source goes, and the next queued one starts.
    func liveCompleted(_ migration: MigrationRecord, outcome: LiveOutcome, requestID: String) async throws {
        let done = try await queue.storage.transaction { tx -> Bool in
            guard var record = try await migrations.migration(migration.uuid, in: tx), record.status.isCopying else { return false }
            record.status = .completed
            try await migrations.save(record, in: tx)
            try await groups.endMove(of: record.instanceUUID, in: tx)
            try await instances.recordEvent(instanceUUID: record.instanceUUID, action: record.actionName, event: outcome.step.event,
                                            start: outcome.started, result: "Success", host: outcome.host, finishAction: true, in: tx)
            return true
        }
        guard done else { return }
        // Retried through the queue if placement cannot be reached now: never left behind.
        await release(migration.uuid, ports: false)
        try await admitNextQueued(from: migration.sourceCompute, requestID: requestID)
    }

    /// A host could not do its step. Before the destination runs the guest, the migration ends with the guest on
    /// its source; a destination that cannot take over a guest already copied leaves the server in ERROR.
    func liveStepFailed(_ step: LiveStep, _ migration: MigrationRecord, error: String, outcome: LiveOutcome) async throws {
        switch step {
        case .checkDestination, .checkSource, .preLiveMigration:
            try await endLive(migration, status: .error, reason: error, event: step.event, start: outcome.started, host: outcome.host)
        case .liveMigration where outcome.postCopyFailed == true:
            // The guest started on the destination with memory still on the source: neither is rolled back or
            // freed (both hold part of it), the server is ERROR for the operator.
            try await liveGuestStranded(step, migration, error: error, outcome: outcome)
        case .liveMigration:
            try await endLive(migration, status: outcome.cancelled == true ? .cancelled : .failed, reason: error, event: step.event,
                              start: outcome.started, host: outcome.host)
        case .postAtDestination:
            try await liveGuestStranded(step, migration, error: error, outcome: outcome)
        case .cleanupSource, .rollbackAtDestination, .abort, .forceComplete:
            return  // never reported as failed: the agent retries these until they are done
        }
    }

    /// A failure past the point where the guest could go back to its source: the migration is `error`, the server
    /// ERROR with the reason, and what both hosts hold stays (allocations included) for the operator to judge.
    func liveGuestStranded(_ step: LiveStep, _ migration: MigrationRecord, error: String, outcome: LiveOutcome) async throws {
        let stranded = try await queue.storage.transaction { tx -> Bool in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .migrating,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status.isCopying else { return false }
            record.status = .error
            record.error = error
            try await migrations.save(record, in: tx)
            instance.vmState = .error
            instance.taskState = nil
            instance.fault = Instance.Fault(code: 500, message: error, details: "\(step.rawValue) failed on \(outcome.host): \(error)")
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(instanceUUID: instance.uuid, action: record.actionName, event: step.event,
                                            start: outcome.started, result: "Error", host: outcome.host, details: error,
                                            finishAction: true, in: tx)
            return true
        }
        guard stranded else { return }
        logger.error("live migration of \(migration.instanceUUID) (migration \(migration.uuid)) failed past the switch: \(error)")
        // The move is over: the next one queued on the source may start.
        try await admitNextQueued(from: migration.sourceCompute, requestID: Identifier.requestID())
    }

    /// A live migration that did not happen: the claim goes back to the source, the migration ends with `status`
    /// and `reason`, the server runs on its source with no task, and (unless nothing was sent there yet) the
    /// destination removes what it prepared — its request committed with the migration's end.
    func endLive(_ migration: MigrationRecord, status: MigrationRecord.Status, reason: String, event: String, start: Double,
                 host: String?, rollBackDestination: Bool = true) async throws {
        guard let current = try await migrations.migration(migration.uuid), !current.status.isFinal,
              current.status != .completed else { return }
        try await moveAllocationsBack(current)
        let ports = try await network.ports(device: migration.instanceUUID)
        let ended = try await queue.storage.transaction { tx -> Bool in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx),
                  var record = try await migrations.migration(migration.uuid, in: tx), !record.status.isFinal else { return false }
            record.status = status
            record.error = reason
            try await migrations.save(record, in: tx)
            if !instance.deleted, instance.taskState == .migrating {
                instance.taskState = nil
                instance.host = record.sourceCompute
                instance.node = record.sourceNode
                try await instances.save(instance, in: tx)
                try await instances.recordEvent(instanceUUID: instance.uuid, action: record.actionName, event: event, start: start,
                                                result: "Error", host: host, details: reason, finishAction: true, in: tx)
            }
            if rollBackDestination, let dest = record.destCompute {
                try await queue.send(.liveMove(.rollbackAtDestination, liveRequest(instance, record, ports: ports)), to: dest,
                                     requestID: nil, in: tx)
            }
            return true
        }
        guard ended else { return }
        logger.warning("live migration of \(migration.instanceUUID) (migration \(migration.uuid)) ended \(status.rawValue): \(reason)")
        try await admitNextQueued(from: migration.sourceCompute, requestID: Identifier.requestID())
    }
}
