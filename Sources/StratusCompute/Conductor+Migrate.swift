import StratusCore
import StratusMessages
import StratusNetwork
import StratusPlacement
import StratusScheduler

/// Cold migration and resize, first part: choose a destination and claim it while choosing. The source's
/// allocation moves to the migration's uuid and the destination is claimed for the instance in one placement
/// transaction (Nova's migration-owned allocations), so ten concurrent moves can never all pick the one host
/// with room for one: the database refuses the claims that do not fit and the move takes the next host.
extension Conductor {
    /// Schedules the move of `ref`'s instance. No host with room: the migration ends in error with Nova's
    /// NoValidHost reason, and the server stays where and as it was.
    func migrate(_ ref: MigrationRef, requestID: String) async throws {
        guard let instance = try await instances.instance(ref.instanceUUID), !instance.deleted, instance.taskState == .resizePrep,
              let migration = try await migrations.migration(ref.migrationUUID), migration.status == .preMigrating,
              migration.destCompute == nil else { return }
        let started = Clock.now()
        let ignore: Set<String> = migration.kind == .resize && settings.allowResizeToSameHost ? [] : [migration.sourceCompute]
        try await chooseDestination(instance, migration, ignoring: ignore) { host, summary in
            try await startMoving(instance, migration, to: host, started: started, summary: summary, requestID: requestID)
        } noHost: { details in
            let reason = "No valid host was found. No valid host found for \(migration.kind == .resize ? "resize" : "cold migrate")"
            try await endMove(migration, instance: instance, reason: reason, details: reason + details,
                              event: "conductor_migrate_server", start: started, host: nil, expected: .preMigrating, returnAllocations: false)
        }
    }

    /// The common start of every move: the destination claimed before a restart is taken up again, else one is
    /// chosen and claimed (`claimDestination`) and handed to `start` with how it was chosen; with no host, `noHost`
    /// gets the reason's details. A duplicate delivery that lost the race to claim does nothing.
    func chooseDestination(_ instance: Instance, _ migration: MigrationRecord, ignoring: Set<String>,
                           start: (_ host: String, _ summary: String) async throws -> Void,
                           noHost: (_ details: String) async throws -> Void) async throws {
        if let claimed = try await claimedDestination(of: migration) { return try await start(claimed, "claimed before a restart") }
        switch try await claimDestination(instance, migration, ignoring: ignoring) {
        case .claimed(let host, let summary): try await start(host, summary)
        case .claimedElsewhere: return
        case .noHost(let details): try await noHost(details)
        }
    }

    /// How choosing a move's destination ended.
    enum DestinationClaim {
        /// Claimed on `host`; `summary` says how it was chosen.
        case claimed(host: String, summary: String)
        /// Another delivery of the same request claimed first: that one carries on.
        case claimedElsewhere
        /// No host had room: `details` says which filters removed which hosts.
        case noHost(details: String)
    }

    /// Chooses the destination of `migration` (its instance with the migration's new flavor) and claims it while
    /// choosing: the source's allocation moves to the migration's uuid and the destination is claimed for the
    /// instance in one placement write; a claim refused (no room after all) takes the next host.
    func claimDestination(_ instance: Instance, _ migration: MigrationRecord, ignoring ignore: Set<String>) async throws -> DestinationClaim {
        var target = instance
        target.flavor = migration.newFlavor
        let source = try await placement.consumer(instance.uuid)
        let forced = migration.live?.force == true
        var scheduling = try await decide(target, tried: ignore, only: migration.requestedHost, forced: forced)
        for round in 1...Self.decisionRounds {
            var refused = 0
            for host in scheduling.decision.ordered {
                // A group member's destination is judged again under the group's lock, as a build's host is: two
                // members moving at once can never both take the last room an (anti-)affinity policy leaves. A forced
                // move skips the policy, as it skips the filters, but the group still learns where it went.
                let member = scheduling.membership?.group
                // (Refused there, it counts as a refused claim, as a build's: the next decision sees the members placed since.)
                if let member, !forced, !(try await groups.reserve(host: host.host, for: instance.uuid, group: member, movingFrom: instance.host)) {
                    refused += 1
                    continue
                }
                let claim = [
                    ConsumerAllocations(
                        consumerUUID: migration.uuid,
                        allocations: source?.allocations.map { ProviderAllocation(providerUUID: $0.key, resources: $0.value.resources) } ?? [],
                        projectID: instance.projectID, userID: instance.userID, consumerType: "MIGRATION", expectedGeneration: .newConsumer),
                    ConsumerAllocations(
                        consumerUUID: instance.uuid,
                        allocations: [ProviderAllocation(providerUUID: host.nodeUUID, resources: scheduling.resources)],
                        projectID: instance.projectID, userID: instance.userID, consumerType: "INSTANCE",
                        expectedGeneration: source.map { .equals($0.generation) } ?? .newConsumer),
                ]
                do {
                    try await placement.replaceAllocations(claim)
                } catch is StratusError {
                    // No room there after all (another move or build took it), or the consumer changed: the next host.
                    if member != nil {
                        // Our reservation may have replaced a duplicate delivery's that claimed: the group follows the claim.
                        if let claimed = try await claimedDestination(of: migration) {
                            try await groups.assign(host: claimed, to: instance.uuid, movingFrom: instance.host)
                        } else if let source = instance.host {
                            try await groups.assign(host: source, to: instance.uuid)
                        }
                    }
                    refused += 1
                    continue
                }
                if member != nil, forced { try await groups.assign(host: host.host, to: instance.uuid, movingFrom: instance.host) }
                return .claimed(host: host.host, summary: "chose \(host.host) of \(scheduling.decision.ordered.count) hosts; \(scheduling.decision.summary)")
            }
            guard refused > 0, round < Self.decisionRounds else { break }
            scheduling = try await decide(target, tried: ignore, only: migration.requestedHost, forced: forced)
        }
        // Every claim refused because another delivery of this message claimed first: that one carries on.
        if try await claimedDestination(of: migration) != nil { return .claimedElsewhere }
        let rejected = scheduling.decision.steps.filter { $0.removed > 0 }.map { "\($0.filter) removed \($0.removed)" }
        return .noHost(details: (rejected.isEmpty ? "" : " (" + rejected.joined(separator: ", ") + ")")
                       + "; \(scheduling.candidates) hosts with room in placement; " + scheduling.decision.summary)
    }

    /// The destination a claim already made for this migration points at, if one was made.
    func claimedDestination(of migration: MigrationRecord) async throws -> String? {
        guard let held = try await placement.consumer(migration.uuid), !held.allocations.isEmpty,
              let instance = try await placement.consumer(migration.instanceUUID),
              let provider = instance.allocations.keys.first else { return nil }
        return try await directory.hosts().first { $0.info.nodeUUID == provider }?.info.host
    }

    /// The claim is made: record the destination and ask the source to hand the guest over.
    func startMoving(_ instance: Instance, _ migration: MigrationRecord, to dest: String, started: Double, summary: String,
                     requestID: String) async throws {
        let ports = try await network.ports(device: instance.uuid)
        try await queue.storage.transaction { tx in
            guard var current = try await instances.instance(instance.uuid, in: tx), !current.deleted, current.taskState == .resizePrep,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == .preMigrating else { return }
            record.destCompute = dest
            record.destNode = dest
            record.destHost = dest
            record.status = .migrating
            try await migrations.save(record, in: tx)
            current.taskState = .resizeMigrating
            try await instances.save(current, in: tx)
            try await instances.recordEvent(
                instanceUUID: current.uuid, action: record.actionName, event: "conductor_migrate_server", start: started,
                result: "Success", host: dest, details: summary, in: tx)
            try await queue.send(.move(.resizeInstance, moveRequest(current, record, flavor: record.newFlavor, ports: ports)),
                                 to: record.sourceCompute, requestID: requestID, in: tx)
        }
    }

    /// The request every host-side step of `migration` gets: the guest with `flavor`, its ports, both hosts.
    func moveRequest(_ instance: Instance, _ migration: MigrationRecord, flavor: Flavor, ports: [Port]) -> MoveRequest {
        MoveRequest(
            migrationUUID: migration.uuid, sourceHost: migration.sourceCompute, destHost: migration.destCompute ?? "",
            guest: Self.guest(instance, flavor: flavor, ports: ports), oldRootGB: migration.oldFlavor.rootGB, powerOn: migration.powerOn)
    }

    /// A move that did not happen: the source's allocation goes back to the instance (if it had moved), the
    /// migration ends in error with `reason`, and the server is left as it was before the move, on its source.
    /// Only a migration still at `expected` is ended (a duplicate or late message finds it moved on and does
    /// nothing); `returnAllocations` is false when no claim was made.
    func endMove(_ migration: MigrationRecord, instance: Instance, reason: String, details: String, event: String, start: Double,
                 host: String?, expected: MigrationRecord.Status, returnAllocations: Bool = true) async throws {
        guard try await migrations.migration(migration.uuid)?.status == expected else { return }
        if returnAllocations { try await moveAllocationsBack(migration) }
        try await queue.storage.transaction { tx in
            guard var current = try await instances.instance(instance.uuid, in: tx), !current.deleted,
                  var record = try await migrations.migration(migration.uuid, in: tx), record.status == expected else { return }
            record.status = .error
            record.error = details
            try await migrations.save(record, in: tx)
            current.taskState = nil
            current.vmState = record.oldVMState
            current.host = record.sourceCompute
            current.node = record.sourceNode
            current.flavor = record.oldFlavor
            current.fault = Instance.Fault(code: 400, message: reason, details: details)
            try await instances.save(current, in: tx)
            try await instances.recordEvent(
                instanceUUID: current.uuid, action: record.actionName, event: event, start: start, result: "Error", host: host,
                details: details, finishAction: true, in: tx)
        }
        logger.warning("move of \(instance.uuid) (migration \(migration.uuid)) ended in error: \(details)")
    }

    /// Gives the source's resources back to the instance and drops the migration's, in one placement write;
    /// nothing to do when the migration holds nothing (never claimed, or already moved back).
    func moveAllocationsBack(_ migration: MigrationRecord) async throws {
        // Back on its source as far as its server group knows, too (the destination was reserved for it).
        try await groups.assign(host: migration.sourceCompute, to: migration.instanceUUID)
        guard let held = try await placement.consumer(migration.uuid), !held.allocations.isEmpty else { return }
        let drop = ConsumerAllocations(consumerUUID: migration.uuid, allocations: [], projectID: held.projectID, userID: held.userID,
                                       expectedGeneration: .equals(held.generation))
        // An instance whose allocations are gone was deleted meanwhile: nothing is given back to it.
        guard let instance = try await placement.consumer(migration.instanceUUID), !instance.allocations.isEmpty else {
            try await placement.replaceAllocations([drop])
            return
        }
        try await placement.replaceAllocations([
            ConsumerAllocations(
                consumerUUID: migration.instanceUUID,
                allocations: held.allocations.map { ProviderAllocation(providerUUID: $0.key, resources: $0.value.resources) },
                projectID: held.projectID, userID: held.userID, consumerType: "INSTANCE", expectedGeneration: .equals(instance.generation)),
            drop,
        ])
    }
}
