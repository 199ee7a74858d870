import Hummingbird
import StratusCompute
import StratusCore

/// `GET /os-migrations` (admin) with Nova's filters and microversions (2.23 type and links, 2.59 uuid and
/// paging, 2.66 changes-before, 2.80 user and project), and a server's in-progress live migrations.
extension ComputeAPI {
    func registerMigrations(on router: PolicedRouter) {
        router.get("compute/v2.1/os-migrations", .rule("os_compute_api:os-migrations:index")) { request, context in
            let version = context.microversion
            var allowed: Set<String> = ["status", "host", "source_compute", "migration_type", "instance_uuid", "hidden"]
            if version.atLeast(2, 59) { allowed.formUnion(["limit", "marker", "changes-since"]) }
            if version.atLeast(2, 66) { allowed.insert("changes-before") }
            if version.atLeast(2, 80) { allowed.formUnion(["user_id", "project_id"]) }
            if version.atLeast(2, 59), let unknown = request.uri.queryParameters.map({ String($0.key) }).sorted().first(where: { !allowed.contains($0) }) {
                throw StratusError.badRequest("Invalid input for query parameters \(unknown). Additional properties are not allowed ('\(unknown)' was unexpected)")
            }
            var filter = MigrationStore.Filter()
            filter.status = query(request, "status")
            filter.host = query(request, "host")
            filter.sourceCompute = query(request, "source_compute")
            filter.kind = query(request, "migration_type")
            filter.instanceUUID = query(request, "instance_uuid")
            if version.atLeast(2, 80) {
                filter.userID = query(request, "user_id")
                filter.projectID = query(request, "project_id")
            }
            if version.atLeast(2, 59) {
                filter.changesSince = try time(request, "changes-since")
                filter.changesBefore = version.atLeast(2, 66) ? try time(request, "changes-before") : nil
                if let since = filter.changesSince, let before = filter.changesBefore, since > before {
                    throw StratusError.badRequest("The value of changes-since must be less than or equal to changes-before.")
                }
            }
            var list = try await migrations.list(filter)
            var body: [String: JSON] = [:]
            if version.atLeast(2, 59) {
                let limit = try Paging.limit(request, fallback: 1000, maximum: 1000)
                let page = try Paging.page(list, request: request, limit: limit, id: \.uuid) { marker in
                    StratusError.badRequest("Marker \(marker) could not be found.")
                }
                list = page.items
                if let next = page.next {
                    body["migrations_links"] = [["rel": "next", "href": .string(root + "/os-migrations?" + next)]]
                }
            }
            body["migrations"] = .array(list.map { migrationJSON($0, version) })
            return JSONResponse.make(status: .ok, .object(body))
        }
        router.get("compute/v2.1/servers/:id/migrations", .rule("os_compute_api:servers:migrations:index")) { _, context in
            guard context.microversion.atLeast(2, 23) else { throw StratusError.notFound("The resource could not be found.") }
            let instance = try await ownedInstance(context)
            let live = try await migrations.list(inProgressLive(of: instance.uuid)).filter { !$0.status.isFinal }
            return JSONResponse.make(status: .ok, ["migrations": .array(live.map { liveMigrationJSON($0, context.microversion) })])
        }
        router.get("compute/v2.1/servers/:id/migrations/:migration_id", .rule("os_compute_api:servers:migrations:show")) { _, context in
            guard context.microversion.atLeast(2, 23) else { throw StratusError.notFound("The resource could not be found.") }
            let instance = try await ownedInstance(context)
            let id = try context.parameters.require("migration_id")
            guard let migration = try await liveMigration(id, of: instance.uuid), !migration.status.isFinal else {
                throw StratusError.notFound("In-progress live migration \(id) is not found for server \(instance.uuid).")
            }
            return JSONResponse.make(status: .ok, ["migration": liveMigrationJSON(migration, context.microversion)])
        }
        registerLiveMigrationControl(on: router)
    }

    /// The server's live migration with Nova's integer id `id`, if there is one.
    func liveMigration(_ id: String, of uuid: String) async throws -> MigrationRecord? {
        try await migrations.list(inProgressLive(of: uuid)).first { String($0.id) == id }
    }

    func inProgressLive(of uuid: String) -> MigrationStore.Filter {
        var filter = MigrationStore.Filter()
        filter.instanceUUID = uuid
        filter.kind = MigrationRecord.Kind.liveMigration.rawValue
        return filter
    }

    /// A time filter of the query, 400 when it is not a time.
    func time(_ request: Request, _ name: String) throws -> Double? {
        guard let text = query(request, name) else { return nil }
        guard let time = Clock.parseISO8601(text) else { throw StratusError.badRequest("Invalid input for query parameters \(name). Value: \(text). '\(text)' is not a 'date-time'") }
        return time
    }

    /// Nova's timestamps in migration records: naive UTC with microseconds.
    static func migrationTime(_ seconds: Double) -> JSON {
        .string(String(Clock.iso8601Micro(seconds).dropLast()))
    }

    /// The fields `os-migrations` and `GET /servers/{id}/migrations` share, with each microversion's additions
    /// (2.59 `uuid`, 2.80 `user_id`/`project_id`); the instance is named `instanceKey`.
    func migrationFields(_ migration: MigrationRecord, _ version: Microversion, instanceKey: String) -> [String: JSON] {
        var body: [String: JSON] = [
            "id": .int(migration.id), instanceKey: .string(migration.instanceUUID), "status": .string(migration.status.rawValue),
            "source_compute": .string(migration.sourceCompute), "source_node": .string(migration.sourceNode),
            "dest_compute": .optional(migration.destCompute), "dest_node": .optional(migration.destNode),
            "dest_host": .optional(migration.destHost),
            "created_at": Self.migrationTime(migration.createdAt), "updated_at": Self.migrationTime(migration.updatedAt),
        ]
        if version.atLeast(2, 59) { body["uuid"] = .string(migration.uuid) }
        if version.atLeast(2, 80) {
            body["user_id"] = .string(migration.userID)
            body["project_id"] = .string(migration.projectID)
        }
        return body
    }

    /// One entry of `os-migrations`.
    func migrationJSON(_ migration: MigrationRecord, _ version: Microversion) -> JSON {
        var body = migrationFields(migration, version, instanceKey: "instance_uuid")
        body["old_instance_type_id"] = .int(Int(migration.oldFlavor.id) ?? 0)
        body["new_instance_type_id"] = .int(Int(migration.newFlavor.id) ?? 0)
        if version.atLeast(2, 23) {
            body["migration_type"] = .string(migration.kind.rawValue)
            if migration.kind == .liveMigration, !migration.status.isFinal {
                body["links"] = links("servers/\(migration.instanceUUID)/migrations/\(migration.id)")
            }
        }
        return .object(body)
    }

    /// One entry of `GET /servers/{id}/migrations`, with the source's latest progress (null before it copies).
    func liveMigrationJSON(_ migration: MigrationRecord, _ version: Microversion) -> JSON {
        var body = migrationFields(migration, version, instanceKey: "server_uuid")
        let progress = migration.live?.progress
        for (name, value) in [("memory_total_bytes", progress?.memoryTotal), ("memory_processed_bytes", progress?.memoryProcessed),
                              ("memory_remaining_bytes", progress?.memoryRemaining), ("disk_total_bytes", progress?.diskTotal),
                              ("disk_processed_bytes", progress?.diskProcessed), ("disk_remaining_bytes", progress?.diskRemaining)] {
            body[name] = value.map { .int($0) } ?? .null
        }
        return .object(body)
    }
}
