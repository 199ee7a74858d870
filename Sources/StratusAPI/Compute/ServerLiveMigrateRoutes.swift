import Hummingbird
import StratusCompute
import StratusCore
import StratusMessages
import StratusQueue
import StratusStorage

/// Live migration: the `os-migrateLive` action with each microversion's body (2.25 `"auto"`, 2.30–2.67 `force`),
/// and the abort (2.24) and force-complete (2.22) of a migration in progress. Nova's checks and messages; the
/// migration record (`accepted`), task `migrating`, the action and the conductor's request commit together.
extension ComputeAPI {
    func liveMigrate(_ instance: Instance, _ body: JSONFields, _ context: StratusRequestContext, path: String) async throws {
        let version = context.microversion
        let options = try body.fields("os-migrateLive", required: true)!
        var allowed: Set<String> = ["host", "block_migration"]
        if !version.atLeast(2, 25) { allowed.insert("disk_over_commit") }
        if version.atLeast(2, 30) && !version.atLeast(2, 68) { allowed.insert("force") }
        try options.rejectUnknown(allowed)
        guard options.has("host") else { throw JSONFields.invalid("os-migrateLive/host", "'host' is a required property") }
        let host = try options.string("host", nullable: true)
        let block: String
        switch options.object["block_migration"] {
        case .bool(let flag)?: block = flag ? "true" : "false"
        case .string("auto")? where version.atLeast(2, 25): block = "auto"
        case nil: throw JSONFields.invalid("os-migrateLive/block_migration", "'block_migration' is a required property")
        case let value?:
            throw StratusError.badRequest("Invalid input for field/attribute block_migration. Value: \(value.encodedString()). "
                + (version.atLeast(2, 25) ? "\(value.encodedString()) is not one of [True, False, 'auto']" : "\(value.encodedString()) is not of type 'boolean'"))
        }
        if !version.atLeast(2, 25) {
            guard options.has("disk_over_commit") else {
                throw JSONFields.invalid("os-migrateLive/disk_over_commit", "'disk_over_commit' is a required property")
            }
            _ = try options.bool("disk_over_commit")
        }
        let force = try options.bool("force") ?? false
        guard instance.taskState == nil, instance.vmState == .active || instance.vmState == .paused, instance.host != nil else {
            throw Self.invalidState("os-migrateLive", instance)
        }
        let services = try await hostStore.services()
        if let host {
            try context.authorize("os_compute_api:os-migrate-server:migrate_live:host", target: ["project_id": instance.projectID], path: path)
            guard let service = services.first(where: { $0.host == host }) else {
                throw StratusError.badRequest("Compute host \(host) could not be found.")
            }
            guard host != instance.host else {
                throw StratusError.badRequest("Unable to migrate instance (\(instance.uuid)) to current host (\(host)).")
            }
            if !isUp(service) {
                throw StratusError.badRequest("Compute service of \(host) is unavailable at this time.")
            }
        }
        try requireSourceUp(instance, services: services)
        let auth = try context.requireAuth()
        try await recordMove(instance, action: "live-migration", method: "os-migrateLive", task: .migrating, context) { current in
            current.taskState == nil && (current.vmState == .active || current.vmState == .paused) && current.host != nil
        } migration: { current in
            var record = MigrationRecord(instance: current, kind: .liveMigration, newFlavor: current.flavor, requestedHost: host,
                                         userID: auth.userID, projectID: current.projectID)
            record.status = .accepted
            record.live = LiveDetails(requestedBlockMigration: block, force: force)
            return record
        } request: { .liveMigrate($0) }
    }

    func registerLiveMigrationControl(on router: PolicedRouter) {
        router.delete("compute/v2.1/servers/:id/migrations/:migration_id", .rule("os_compute_api:servers:migrations:delete")) { _, context in
            guard context.microversion.atLeast(2, 24) else { throw StratusError.notFound("The resource could not be found.") }
            let (instance, migration) = try await migrationInProgress(context, method: "abort live migration")
            var allowed: Set<MigrationRecord.Status> = [.running]
            if context.microversion.atLeast(2, 65) { allowed.formUnion([.queued, .preparing]) }
            guard allowed.contains(migration.status) else { throw Self.invalidMigrationState(migration, instance, method: "abort live migration") }
            try await queue.request(.abortLiveMigration(MigrationRef(instanceUUID: instance.uuid, migrationUUID: migration.uuid)),
                                    requestID: context.requestID)
            return JSONResponse.empty(.accepted)
        }
        router.post("compute/v2.1/servers/:id/migrations/:migration_id/action",
                    .action(["force_complete": "os_compute_api:servers:migrations:force_complete"])) { request, context in
            guard context.microversion.atLeast(2, 22) else { throw StratusError.notFound("The resource could not be found.") }
            let body = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            guard body.object.count == 1, body.has("force_complete") else {
                throw StratusError.badRequest("The action body must name exactly one action.")
            }
            let (instance, migration) = try await migrationInProgress(context, method: "force complete")
            guard migration.status == .running else { throw Self.invalidMigrationState(migration, instance, method: "force complete") }
            try await queue.request(.forceCompleteLiveMigration(MigrationRef(instanceUUID: instance.uuid, migrationUUID: migration.uuid)),
                                    requestID: context.requestID)
            return JSONResponse.empty(.accepted)
        }
    }

    /// The server (in task `migrating`, else 409) and its live migration named in the path (else 404).
    func migrationInProgress(_ context: StratusRequestContext, method: String) async throws -> (Instance, MigrationRecord) {
        let instance = try await ownedInstance(context)
        let id = try context.parameters.require("migration_id")
        let found = try await liveMigration(id, of: instance.uuid)
        guard instance.taskState == .migrating else {
            throw StratusError.conflict("Cannot '\(method)' instance \(instance.uuid) while it is in task_state \(instance.taskState?.rawValue ?? "None")")
        }
        guard let found else { throw StratusError.notFound("Migration \(id) not found for instance \(instance.uuid)") }
        return (instance, found)
    }

    static func invalidMigrationState(_ migration: MigrationRecord, _ instance: Instance, method: String) -> StratusError {
        .badRequest("Migration \(migration.id) state of instance \(instance.uuid) is \(migration.status.rawValue). Cannot \(method) while the migration is in this state.")
    }
}
