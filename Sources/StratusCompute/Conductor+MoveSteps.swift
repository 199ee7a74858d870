import StratusCore
import StratusMessages
import StratusNetwork

/// Cold migration and resize, second part: what follows each host's step, and confirm or revert. Each handler
/// checks the migration's status under its row lock first, so a report delivered twice finds its step taken.
///
///     source resize_instance → dest finish_resize → VERIFY_RESIZE ─ confirm → source confirm_resize → done
///                                                                 └ revert → dest revert_resize → source finish_revert_resize
extension Conductor {
    func moved(_ outcome: MoveOutcome, requestID: String) async throws {
        guard let migration = try await migrations.migration(outcome.migrationUUID), migration.instanceUUID == outcome.instanceUUID,
              let instance = try await instances.instance(outcome.instanceUUID), !instance.deleted else { return }
        if let error = outcome.error {
            try await stepFailed(outcome.step, migration, instance, error: error, outcome: outcome, requestID: requestID)
            return
        }
        switch outcome.step {
        case .resizeInstance: try await handedOver(migration, outcome: outcome, requestID: requestID)
        case .finishResize: try await finishedOnDestination(migration, outcome: outcome)
        case .confirmResize: try await confirmed(migration, outcome: outcome)
        case .revertResize: try await removedFromDestination(migration, outcome: outcome, requestID: requestID)
        case .finishRevertResize: try await backOnSource(migration, outcome: outcome)
        }
    }

    /// The source powered the guest off and handed its disk over: the destination starts it.
    func handedOver(_ migration: MigrationRecord, outcome: MoveOutcome, requestID: String) async throws {
        let ports = try await network.ports(device: migration.instanceUUID)
        try await queue.storage.transaction { tx in
            // Instance first, then migration, everywhere: one lock order, so two steps never deadlock.
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .resizeMigrating,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == .migrating,
                  let dest = record.destCompute else { return }
            record.status = .postMigrating
            try await migrations.save(record, in: tx)
            instance.taskState = .resizeFinish
            instance.powerState = .shutdown
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: instance.uuid, action: record.actionName, event: outcome.step.event, start: outcome.started,
                result: "Success", host: outcome.host, in: tx)
            var finish = moveRequest(instance, record, flavor: record.newFlavor, ports: ports)
            finish.diskSource = outcome.diskSource
            try await queue.send(.move(.finishResize, finish), to: dest, requestID: requestID, in: tx)
        }
    }

    /// The guest runs on the destination with its new flavor: VERIFY_RESIZE, waiting for confirm or revert (or
    /// `resize_confirm_window`).
    func finishedOnDestination(_ migration: MigrationRecord, outcome: MoveOutcome) async throws {
        guard let dest = migration.destCompute else { return }
        try await rebindPorts(migration.instanceUUID, to: dest)
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .resizeFinish,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == .postMigrating else { return }
            record.status = .finished
            try await migrations.save(record, in: tx)
            instance.host = dest
            instance.node = record.destNode ?? dest
            instance.flavor = record.newFlavor
            instance.vmState = .resized
            instance.taskState = nil
            instance.powerState = record.powerOn ? .running : .shutdown
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: instance.uuid, action: record.actionName, event: outcome.step.event, start: outcome.started,
                result: "Success", host: outcome.host, finishAction: true, in: tx)
        }
    }

    /// `confirmResize`, from the API (which set the migration `confirming`) or `resize_confirm_window`: the source
    /// removes what it kept of the guest.
    func confirmResize(_ ref: MigrationRef, requestID: String) async throws {
        guard let migration = try await migrations.migration(ref.migrationUUID), migration.status == .confirming,
              let instance = try await instances.instance(ref.instanceUUID), !instance.deleted else { return }
        let ports = try await network.ports(device: instance.uuid)
        try await queue.send(.move(.confirmResize, moveRequest(instance, migration, flavor: migration.oldFlavor, ports: ports)),
                             to: migration.sourceCompute, requestID: requestID)
    }

    /// The source is clean: the move is kept, and the migration's hold on the source is dropped.
    func confirmed(_ migration: MigrationRecord, outcome: MoveOutcome) async throws {
        let done = try await queue.storage.transaction { tx -> Bool in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  var record = try await migrations.migration(migration.uuid, in: tx) else { return false }
            // Confirmed by an earlier delivery of this report that stopped before its release (a conductor killed):
            // the release is done again, as it holds nothing once done.
            if record.status == .confirmed { return true }
            guard record.status == .confirming else { return false }
            record.status = .confirmed
            try await migrations.save(record, in: tx)
            try await groups.endMove(of: record.instanceUUID, in: tx)
            if instance.vmState == .resized {
                instance.vmState = record.powerOn ? .active : .stopped
                instance.taskState = nil
                try await instances.save(instance, in: tx)
            }
            try await instances.recordEvent(
                instanceUUID: instance.uuid, action: "confirmResize", event: outcome.step.event, start: outcome.started,
                result: "Success", host: outcome.host, finishAction: true, in: tx)
            return true
        }
        // Retried through the queue if placement cannot be reached now: never left behind.
        if done { await release(migration.uuid, ports: false) }
    }

    /// `revertResize` (the API set the migration `reverting` and the task `resize_reverting`): the destination
    /// removes its guest first.
    func revertResize(_ ref: MigrationRef, requestID: String) async throws {
        guard let migration = try await migrations.migration(ref.migrationUUID), migration.status == .reverting,
              let dest = migration.destCompute,
              let instance = try await instances.instance(ref.instanceUUID), !instance.deleted else { return }
        let ports = try await network.ports(device: instance.uuid)
        try await queue.send(.move(.revertResize, moveRequest(instance, migration, flavor: migration.newFlavor, ports: ports)),
                             to: dest, requestID: requestID)
    }

    /// The destination is clean: the source's resources go back to the instance and the source restarts the guest.
    func removedFromDestination(_ migration: MigrationRecord, outcome: MoveOutcome, requestID: String) async throws {
        guard migration.status == .reverting else { return }
        try await moveAllocationsBack(migration)
        try await sendBackToSource(migration, event: outcome.step.event, outcome: outcome, action: "revertResize", requestID: requestID)
    }

    /// Asks the source to bring the guest back with its old flavor, recording the step that led here.
    /// With `failing`, the migration (still post-migrating) ends in error with that reason in the same transaction.
    func sendBackToSource(_ migration: MigrationRecord, event: String, outcome: MoveOutcome, action: String, result: String = "Success",
                          failing: String? = nil, requestID: String) async throws {
        let ports = try await network.ports(device: migration.instanceUUID)
        try await queue.storage.transaction { tx in
            guard let instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  var record = try await migrations.migration(migration.uuid, in: tx),
                  record.status == (failing == nil ? .reverting : .postMigrating) else { return }
            if let failing {
                record.status = .error
                record.error = failing
                try await migrations.save(record, in: tx)
            }
            try await instances.recordEvent(
                instanceUUID: instance.uuid, action: action, event: event, start: outcome.started, result: result,
                host: outcome.host, details: outcome.error, in: tx)
            try await queue.send(.move(.finishRevertResize, moveRequest(instance, migration, flavor: migration.oldFlavor, ports: ports)),
                                 to: migration.sourceCompute, requestID: requestID, in: tx)
        }
    }

    /// The guest runs on its source again, as before the move: a revert is done, or a failed move rolled back.
    func backOnSource(_ migration: MigrationRecord, outcome: MoveOutcome) async throws {
        try await rebindPorts(migration.instanceUUID, to: migration.sourceCompute)
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(migration.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .resizeReverting || instance.taskState == .resizeFinish,
                  var record = try await migrations.migration(migration.uuid, in: tx),
                  record.status == .reverting || record.status == .error else { return }
            let reverted = record.status == .reverting
            if reverted {
                record.status = .reverted
                try await migrations.save(record, in: tx)
            }
            instance.host = record.sourceCompute
            instance.node = record.sourceNode
            instance.flavor = record.oldFlavor
            instance.vmState = record.oldVMState
            instance.taskState = nil
            instance.powerState = record.powerOn ? .running : .shutdown
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: instance.uuid, action: reverted ? "revertResize" : record.actionName, event: outcome.step.event,
                start: outcome.started, result: reverted ? "Success" : "Error", host: outcome.host,
                details: reverted ? nil : record.error, finishAction: true, in: tx)
        }
    }

    /// A host could not do its step (and undid its own part). Before the destination runs the guest, the move is
    /// rolled back: allocations to the source, the guest restarted there, the migration in error with the reason.
    func stepFailed(_ step: MoveStep, _ migration: MigrationRecord, _ instance: Instance, error: String, outcome: MoveOutcome,
                    requestID: String) async throws {
        switch step {
        case .resizeInstance:
            // The source kept the guest as it was: only the claim and the states go back.
            try await endMove(migration, instance: instance, reason: error, details: error, event: step.event, start: outcome.started,
                              host: outcome.host, expected: .migrating)
        case .finishResize:
            guard migration.status == .postMigrating else { return }
            // Idempotent: a redelivery after this finds the migration holding nothing.
            try await moveAllocationsBack(migration)
            // The error and the request to restart the guest on its source commit together: no crash in between
            // can leave the guest powered off there with nobody to start it.
            try await sendBackToSource(migration, event: step.event, outcome: outcome, action: migration.actionName, result: "Error",
                                       failing: error, requestID: requestID)
        case .confirmResize, .revertResize, .finishRevertResize:
            // The server is somewhere definite but a host could not finish tidying up: ERROR with the reason, for an
            // operator (Nova does the same); the migration keeps its status so the allocations stay as they are.
            try await queue.storage.transaction { tx in
                guard var current = try await instances.instance(instance.uuid, in: tx), !current.deleted else { return }
                current.vmState = .error
                current.taskState = nil
                current.fault = Instance.Fault(code: 500, message: error, details: "\(step.rawValue) failed on \(outcome.host): \(error)")
                try await instances.save(current, in: tx)
                let action = step == .confirmResize ? "confirmResize" : "revertResize"
                try await instances.recordEvent(
                    instanceUUID: current.uuid, action: action, event: step.event, start: outcome.started, result: "Error",
                    host: outcome.host, details: error, finishAction: true, in: tx)
            }
        }
    }

    /// A server deleted during a move, or in VERIFY_RESIZE (Nova confirms on delete): each unfinished migration
    /// ends, its hold on the source is given back, and the guest is removed from the move's other host too.
    func endMoves(ofDeleted uuid: String) async throws {
        var filter = MigrationStore.Filter()
        filter.instanceUUID = uuid
        for migration in try await migrations.list(filter) {
            // A move that failed past the point of return (the server in ERROR) left both hosts as they were and still
            // holds its allocation: deleting the server ends that too.
            let stranded = migration.status == .error ? try await placement.consumerGeneration(migration.uuid) != nil : false
            guard !migration.status.isFinal || stranded else { continue }
            try await queue.storage.transaction { tx in
                guard var record = try await migrations.migration(migration.uuid, in: tx), !record.status.isFinal || stranded else { return }
                if !record.status.isFinal {
                    record.status = record.status == .finished || record.status == .confirming ? .confirmed : .error
                    if record.status == .error { record.error = "the server was deleted during the move" }
                    try await migrations.save(record, in: tx)
                }
                // Both hosts: whichever the guest was destroyed on, the other may still hold a copy (idempotent there).
                for other in Set([record.sourceCompute, record.destCompute].compactMap { $0 }) {
                    try await queue.send(.destroyOrphan(InstanceRef(instanceUUID: uuid)), to: other, requestID: nil, in: tx)
                }
            }
            await release(migration.uuid, ports: false)
        }
    }

    /// Points the instance's ports at the host its guest now runs on (Neutron's `binding:host_id`).
    func rebindPorts(_ uuid: String, to host: String) async throws {
        for var port in try await network.ports(device: uuid) where port.bindingHostID != host {
            port.bindingHostID = host
            try await network.save(port)
        }
    }
}
