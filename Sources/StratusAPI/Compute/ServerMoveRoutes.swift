import Hummingbird
import StratusCompute
import StratusCore
import StratusMessages
import StratusQueue
import StratusStorage

/// Moving servers: the `migrate`, `resize`, `confirmResize` and `revertResize` actions, with Nova's checks,
/// states and messages. Each records its action, sets the task state and queues the conductor's request in one
/// transaction; everything after that happens in the conductor and on the hosts.
extension ComputeAPI {
    /// `migrate` (admin): a cold migration to a host the scheduler picks, or (2.56) the one named.
    func migrate(_ instance: Instance, _ body: JSONFields, _ context: StratusRequestContext, path: String) async throws {
        var host: String?
        if let value = body.object["migrate"], value != .null {
            // Nova's schema before 2.56 is `"migrate": null`; from 2.56 an object with an optional host.
            guard context.microversion.atLeast(2, 56) else {
                throw StratusError.badRequest("Invalid input for field/attribute migrate. Value: \(value.encodedString()). It is not of type 'null'.")
            }
            let options = try JSONFields(value, path: "migrate")
            try options.rejectUnknown(["host"])
            host = try options.string("host", nullable: true)
        }
        if let host {
            try context.authorize("os_compute_api:os-migrate-server:migrate:host", target: ["project_id": instance.projectID], path: path)
            guard try await hostStore.services().contains(where: { $0.host == host }) else {
                throw StratusError.badRequest("Compute host \(host) could not be found.")
            }
            guard host != instance.host else { throw StratusError.badRequest("Cannot migrate to the host where the server exists.") }
        }
        try await beginMove(.migration, instance, newFlavor: instance.flavor, requestedHost: host, action: "migrate", context)
    }

    /// `resize`: a cold move to a new flavor, on another host (or this one with `allow_resize_to_same_host`).
    func resize(_ instance: Instance, _ body: JSONFields, _ context: StratusRequestContext) async throws {
        let options = try body.fields("resize", required: true)!
        try options.rejectUnknown(["flavorRef", "OS-DCF:diskConfig"])
        // Nova takes a flavor id as a string or an integer (or a link ending in the id).
        let reference: String
        if let number = options.object["flavorRef"]?.intValue { reference = String(number) } else {
            reference = try options.requiredString("flavorRef")
        }
        if let disk = try options.string("OS-DCF:diskConfig"), !["AUTO", "MANUAL"].contains(disk) {
            throw StratusError.badRequest("Invalid input for field/attribute OS-DCF:diskConfig. Value: \(disk). It must be one of AUTO, MANUAL.")
        }
        let id = reference.split(separator: "/").last.map(String.init) ?? reference
        let flavor: Flavor
        do { flavor = try await flavors.flavor(id: id) } catch let error as StratusError where error.code.status == 404 {
            throw StratusError.badRequest("Unable to locate requested flavor.")
        }
        guard flavor.id != instance.flavor.id else { throw StratusError.badRequest("When resizing, instances must change flavor!") }
        if flavor.rootGB == 0, instance.flavor.rootGB > 0 {
            throw StratusError.badRequest("Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.")
        }
        try await beginMove(.resize, instance, newFlavor: flavor, requestedHost: nil, action: "resize", context)
    }

    /// The common start of a cold move: Nova's state and service checks, then the migration record (pre-migrating),
    /// task `resize_prep`, the action and the conductor's request, committed together.
    func beginMove(_ kind: MigrationRecord.Kind, _ instance: Instance, newFlavor: Flavor, requestedHost: String?, action: String,
                   _ context: StratusRequestContext) async throws {
        let auth = try context.requireAuth()
        // A move needs its source to hand the guest over.
        try requireSourceUp(instance, services: try await hostStore.services())
        try await recordMove(instance, action: action, task: .resizePrep, context) { current in
            current.taskState == nil && (current.vmState == .active || current.vmState == .stopped) && current.host != nil
        } check: { [quotas] current, tx in
            // A larger flavor must fit the project's cores and ram quota (Nova's upsize check).
            try await quotas.checkUpsize(project: current.projectID, cores: newFlavor.vcpus - current.flavor.vcpus,
                                         ram: newFlavor.memoryMB - current.flavor.memoryMB, in: tx)
        } migration: { current in
            MigrationRecord(instance: current, kind: kind, newFlavor: newFlavor, requestedHost: requestedHost,
                            userID: auth.userID, projectID: current.projectID)
        } request: { .migrate($0) }
    }

    /// Records a move in one transaction: under the instance's lock `allowed` is judged again (else Nova's 409 for
    /// `method`, the API's name, by default the action's), the migration is inserted, the task set, the instance action
    /// `action` started and the conductor's request queued.
    func recordMove(_ instance: Instance, action: String, method: String? = nil, task: TaskState, _ context: StratusRequestContext,
                    allowed: @escaping @Sendable (Instance) -> Bool,
                    check: @escaping @Sendable (Instance, Transaction) async throws -> Void = { _, _ in },
                    migration: @escaping @Sendable (Instance) -> MigrationRecord,
                    request: @escaping @Sendable (MigrationRef) -> ConductorRequest) async throws {
        let auth = try context.requireAuth()
        try await servers.storage.transaction { tx in
            guard var current = try await servers.instance(instance.uuid, in: tx), !current.deleted else {
                throw StratusError.notFound("Instance \(instance.uuid) could not be found.")
            }
            guard allowed(current) else { throw Self.invalidState(method ?? action, current) }
            try await check(current, tx)
            let record = try await migrations.insert(migration(current), in: tx)
            current.taskState = task
            try await servers.save(current, in: tx)
            _ = try await servers.startAction(action, instance: current, requestID: context.requestID, userID: auth.userID,
                                               projectID: auth.projectID ?? "", in: tx)
            try await queue.request(request(MigrationRef(instanceUUID: current.uuid, migrationUUID: record.uuid)),
                                    requestID: context.requestID, in: tx)
        }
    }

    /// `confirmResize` (204) and `revertResize` (202): only a server in VERIFY_RESIZE with a finished migration.
    func settleResize(_ instance: Instance, confirm: Bool, _ context: StratusRequestContext) async throws {
        let auth = try context.requireAuth()
        let action = confirm ? "confirmResize" : "revertResize"
        // Read before the transaction (on SQLite a read inside it would wait for the writer it is), judged again under the lock.
        let found = try await migrations.latest(instanceUUID: instance.uuid, statuses: [.finished])
        try await servers.storage.transaction { tx in
            guard var current = try await servers.instance(instance.uuid, in: tx), !current.deleted else {
                throw StratusError.notFound("Instance \(instance.uuid) could not be found.")
            }
            guard current.vmState == .resized, current.taskState == nil else { throw Self.invalidState(action, current) }
            guard let found, var migration = try await migrations.migration(found.uuid, in: tx), migration.status == .finished else {
                throw StratusError.badRequest("Instance has not been resized.")
            }
            migration.status = confirm ? .confirming : .reverting
            try await migrations.save(migration, in: tx)
            if confirm {
                // A confirm never goes back to the source: the server group counts the member only where it is now.
                try await groups.endMove(of: current.uuid, in: tx)
            } else {
                current.taskState = .resizeReverting
                try await servers.save(current, in: tx)
            }
            _ = try await servers.startAction(action, instance: current, requestID: context.requestID, userID: auth.userID,
                                               projectID: auth.projectID ?? "", in: tx)
            let ref = MigrationRef(instanceUUID: current.uuid, migrationUUID: migration.uuid)
            try await queue.request(confirm ? .confirmResize(ref) : .revertResize(ref), requestID: context.requestID, in: tx)
        }
    }
}
