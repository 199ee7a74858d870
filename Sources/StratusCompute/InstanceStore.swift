import Foundation
import SQLKit
import StratusCore
import StratusMessages
import StratusStorage

/// Instances and their action records. Writes that announce work take a transaction from the caller, so the
/// state change and the queue message commit together.
public struct InstanceStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    public func insert(_ instance: Instance, in tx: Transaction) async throws {
        try await tx.sql.raw(
            """
            INSERT INTO compute_instances (uuid, name, project_id, user_id, flavor, image_ref, host, node, vm_state,
                task_state, power_state, availability_zone, key_name, metadata, user_data, instance_name, fault, locked,
                deleted, created_at, updated_at, launched_at, vcpus, memory_mb, tags, hints, description, image_meta, requested_networks, ports)
            VALUES (\(bind: instance.uuid), \(bind: instance.name), \(bind: instance.projectID), \(bind: instance.userID),
                \(bind: instance.flavor.stored.encodedString()), \(bind: instance.imageRef), \(bind: instance.host), \(bind: instance.node),
                \(bind: instance.vmState.rawValue), \(bind: instance.taskState?.rawValue), \(bind: instance.powerState.rawValue),
                \(bind: instance.availabilityZone), \(bind: instance.keyName), \(bind: JSON.text(instance.metadata)),
                \(bind: instance.userData), \(bind: instance.instanceName), NULL, \(bind: instance.locked), FALSE,
                \(bind: instance.createdAt), \(bind: instance.updatedAt), NULL, \(bind: instance.flavor.vcpus),
                \(bind: instance.flavor.memoryMB), \(bind: JSON.text(instance.tags)), \(bind: instance.hints.stored.encodedString()),
                \(bind: instance.description), \(bind: JSON.text(instance.imageProperties)),
                \(bind: JSON.array(instance.requestedNetworks.map(\.stored)).encodedString()), \(bind: Self.encode(ports: instance.ports)))
            """
        ).run()
    }

    /// Writes the mutable fields of an instance.
    public func save(_ instance: Instance, in tx: Transaction) async throws {
        try await tx.sql.raw(
            """
            UPDATE compute_instances SET name = \(bind: instance.name), host = \(bind: instance.host), node = \(bind: instance.node),
                vm_state = \(bind: instance.vmState.rawValue), task_state = \(bind: instance.taskState?.rawValue),
                power_state = \(bind: instance.powerState.rawValue), fault = \(bind: instance.fault.map(Self.encode)),
                locked = \(bind: instance.locked), deleted = \(bind: instance.deleted), updated_at = \(bind: Clock.now()),
                launched_at = \(bind: instance.launchedAt), metadata = \(bind: JSON.text(instance.metadata)),
                tags = \(bind: JSON.text(instance.tags)), description = \(bind: instance.description),
                locked_reason = \(bind: instance.lockedReason), ports = \(bind: Self.encode(ports: instance.ports)),
                flavor = \(bind: instance.flavor.stored.encodedString()), vcpus = \(bind: instance.flavor.vcpus),
                memory_mb = \(bind: instance.flavor.memoryMB)
            WHERE uuid = \(bind: instance.uuid)
            """
        ).run()
    }

    /// Builds' spawns as their hosts reported them, in the caller's transaction: ACTIVE and running, each create
    /// action finished with its event. Only an instance waiting for exactly this (building, spawning, on that host, not
    /// deleted) changes; the others (deleted meanwhile, an evacuation, a stale report) are left for the conductor to
    /// judge. Three statements for the whole batch, however large (the agents' acks carry many). Returns the uuids
    /// that changed.
    public func completeSpawns(_ spawns: [SpawnOutcome], in tx: Transaction) async throws -> Set<String> {
        guard !spawns.isEmpty else { return [] }
        let now = Clock.now()
        var hostOf: SQLQueryString = "CASE uuid"
        for spawn in spawns { hostOf = hostOf + " WHEN \(bind: spawn.instanceUUID) THEN \(bind: spawn.host)" }
        hostOf = hostOf + " END"
        // The conditions are in the UPDATE itself: PostgreSQL re-checks them on each row once it holds the row's lock.
        let activated = try await tx.sql.raw(
            """
            UPDATE compute_instances SET vm_state = \(bind: VMState.active.rawValue), task_state = NULL,
                power_state = \(bind: PowerState.running.rawValue), launched_at = \(bind: now), updated_at = \(bind: now)
            WHERE uuid IN (\(binds: spawns.map(\.instanceUUID))) AND deleted = FALSE AND vm_state = \(bind: VMState.building.rawValue)
                AND task_state = \(bind: TaskState.spawning.rawValue) AND host =
            """ + hostOf + " RETURNING uuid"
        ).all()
        let applied = Set(try activated.map { try $0.decode(column: "uuid", as: String.self) })
        guard !applied.isEmpty else { return [] }
        let finished = try await tx.sql.raw(
            """
            UPDATE compute_instance_actions SET finish_time = \(bind: now), message = NULL
            WHERE id IN (SELECT a.id FROM compute_instance_actions a WHERE a.instance_uuid IN (\(binds: Array(applied)))
                AND a.action = 'create' AND a.start_time = (SELECT MAX(b.start_time) FROM compute_instance_actions b
                    WHERE b.instance_uuid = a.instance_uuid AND b.action = 'create'))
            RETURNING id, instance_uuid
            """
        ).all()
        let spawnOf = Dictionary(spawns.map { ($0.instanceUUID, $0) }, uniquingKeysWith: { first, _ in first })
        var rows: [SQLQueryString] = []
        for row in finished {
            guard let spawn = spawnOf[try row.decode(column: "instance_uuid", as: String.self)] else { continue }
            rows.append(
                """
                (\(bind: Identifier.uuid()), \(bind: try row.decode(column: "id", as: String.self)), 'compute__do_build_and_run_instance',
                    \(bind: spawn.started), \(bind: now), 'Success', \(bind: spawn.host), NULL)
                """)
        }
        if !rows.isEmpty {
            var insert: SQLQueryString =
                "INSERT INTO compute_instance_action_events (id, action_id, event, start_time, finish_time, result, host, details) VALUES "
            for (i, row) in rows.enumerated() { insert = insert + (i == 0 ? "" : ", ") + row }
            try await tx.sql.raw(insert).run()
        }
        return applied
    }

    /// The instance, locked for the rest of the transaction: every caller reads it to write it back, and on
    /// PostgreSQL an unlocked read lets a concurrent writer's change be overwritten by this one's stale copy
    /// (a build's placement undoing the reconciler's ERROR). SQLite has one writer at a time already.
    public func instance(_ uuid: String, in tx: Transaction) async throws -> Instance? {
        let lock: SQLQueryString = tx.engine == .postgresql ? " FOR UPDATE" : ""
        return try await tx.sql.raw("SELECT * FROM compute_instances WHERE uuid = \(bind: uuid)" + lock).first().map(Self.instance)
    }

    /// The host of each of `uuids` that exists (nil while unplaced): one read for a batch of host reports.
    public func hosts(of uuids: [String]) async throws -> [String: String?] {
        guard !uuids.isEmpty else { return [:] }
        return try await storage.read { sql in
            var hosts: [String: String?] = [:]
            for row in try await sql.raw("SELECT uuid, host FROM compute_instances WHERE uuid IN (\(binds: uuids))").all() {
                hosts[try row.decode(column: "uuid", as: String.self)] = try row.decode(column: "host", as: String?.self)
            }
            return hosts
        }
    }

    public func instance(_ uuid: String) async throws -> Instance? {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_instances WHERE uuid = \(bind: uuid)").first().map(Self.instance)
        }
    }

    /// Live instances, optionally of one project, newest first (Nova's default sort).
    public func list(projectID: String?, includeDeleted: Bool = false) async throws -> [Instance] {
        try await storage.read { sql in
            let rows: [any SQLRow]
            if let projectID {
                rows = try await sql.raw("SELECT * FROM compute_instances WHERE project_id = \(bind: projectID) ORDER BY created_at DESC").all()
            } else {
                rows = try await sql.raw("SELECT * FROM compute_instances ORDER BY created_at DESC").all()
            }
            return try rows.map(Self.instance).filter { includeDeleted || !$0.deleted }
        }
    }

    /// Live instances on one host.
    public func list(host: String) async throws -> [Instance] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_instances WHERE host = \(bind: host) AND deleted = FALSE").all().map(Self.instance)
        }
    }

    /// Live instances with a task in progress (building, powering, deleting …): what reconciliation looks at.
    public func inFlight() async throws -> [Instance] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_instances WHERE deleted = FALSE AND task_state IS NOT NULL").all().map(Self.instance)
        }
    }

    public func countByHost() async throws -> [String: Int] {
        try await storage.read { sql in
            var result: [String: Int] = [:]
            for row in try await sql.raw(
                "SELECT host, COUNT(*) AS n FROM compute_instances WHERE deleted = FALSE AND host IS NOT NULL GROUP BY host"
            ).all() {
                result[try row.decode(column: "host", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return result
        }
    }

    // MARK: Actions

    /// Starts an action record (and returns its id) in the caller's transaction.
    public func startAction(_ action: String, instance: Instance, requestID: String, userID: String, projectID: String,
                            in tx: Transaction) async throws -> String {
        let id = Identifier.uuid()
        try await tx.sql.raw(
            """
            INSERT INTO compute_instance_actions (id, instance_uuid, action, request_id, user_id, project_id, start_time)
            VALUES (\(bind: id), \(bind: instance.uuid), \(bind: action), \(bind: requestID), \(bind: userID),
                \(bind: projectID), \(bind: Clock.now()))
            """
        ).run()
        return id
    }

    /// Appends a finished event to the newest action of `instance` named `action` (none: nothing is recorded).
    /// One statement, or two when the action finishes with it.
    public func recordEvent(instanceUUID: String, action: String, event: String, start: Double, result: String,
                            host: String?, details: String? = nil, finishAction: Bool = false, in tx: Transaction) async throws {
        let newest: SQLQueryString = """
            SELECT id FROM compute_instance_actions WHERE instance_uuid = \(bind: instanceUUID) AND action = \(bind: action)
            ORDER BY start_time DESC LIMIT 1
            """
        let now = Clock.now()
        let eventID = Identifier.uuid()
        guard finishAction else {
            // host and details are TEXT like the untyped NULLs PostgreSQL would take them for.
            try await tx.sql.raw(
                """
                INSERT INTO compute_instance_action_events (id, action_id, event, start_time, finish_time, result, host, details)
                SELECT \(bind: eventID), newest.id, \(bind: event), \(bind: start), \(bind: now), \(bind: result),
                    \(bind: host), \(bind: details) FROM (
                """ + newest + ") AS newest"
            ).run()
            return
        }
        guard let row = try await tx.sql.raw(
            """
            UPDATE compute_instance_actions SET finish_time = \(bind: now), message = \(bind: result == "Error" ? "Error" : nil)
            WHERE id = (
            """ + newest + ") RETURNING id"
        ).first() else { return }
        try await tx.sql.raw(
            """
            INSERT INTO compute_instance_action_events (id, action_id, event, start_time, finish_time, result, host, details)
            VALUES (\(bind: eventID), \(bind: try row.decode(column: "id", as: String.self)), \(bind: event), \(bind: start),
                \(bind: now), \(bind: result), \(bind: host), \(bind: details))
            """
        ).run()
    }

    public func actions(instanceUUID: String) async throws -> [InstanceActionRecord] {
        try await storage.read { sql in
            var actions: [InstanceActionRecord] = []
            for row in try await sql.raw(
                "SELECT * FROM compute_instance_actions WHERE instance_uuid = \(bind: instanceUUID) ORDER BY start_time DESC"
            ).all() {
                let id = try row.decode(column: "id", as: String.self)
                let events = try await sql.raw(
                    "SELECT * FROM compute_instance_action_events WHERE action_id = \(bind: id) ORDER BY start_time"
                ).all().map { event in
                    InstanceActionRecord.Event(
                        name: try event.decode(column: "event", as: String.self),
                        startTime: try event.decode(column: "start_time", as: Double.self),
                        finishTime: try event.decode(column: "finish_time", as: Double?.self),
                        result: try event.decode(column: "result", as: String?.self),
                        host: try event.decode(column: "host", as: String?.self),
                        details: try event.decode(column: "details", as: String?.self))
                }
                actions.append(InstanceActionRecord(
                    id: id, instanceUUID: instanceUUID, action: try row.decode(column: "action", as: String.self),
                    requestID: try row.decode(column: "request_id", as: String.self),
                    userID: try row.decode(column: "user_id", as: String.self),
                    projectID: try row.decode(column: "project_id", as: String.self),
                    startTime: try row.decode(column: "start_time", as: Double.self),
                    finishTime: try row.decode(column: "finish_time", as: Double?.self),
                    message: try row.decode(column: "message", as: String?.self), events: events))
            }
            return actions
        }
    }

    // MARK: Rows

    static func encode(ports: [AttachedPort]) -> String {
        JSON.array(ports.map { ["id": .string($0.id), "created": .bool($0.createdByBuild)] }).encodedString()
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "null"
    }

    static func instance(_ row: any SQLRow) throws -> Instance {
        let flavor = (try? JSON.parse(try row.decode(column: "flavor", as: String.self))).flatMap { Flavor(stored: $0) }
            ?? Flavor(id: "unknown", name: "unknown", memoryMB: 0, vcpus: 0, rootGB: 0)
        var instance = Instance(
            uuid: try row.decode(column: "uuid", as: String.self), name: try row.decode(column: "name", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self),
            userID: try row.decode(column: "user_id", as: String.self), flavor: flavor,
            imageRef: try row.decode(column: "image_ref", as: String.self),
            instanceName: try row.decode(column: "instance_name", as: String.self))
        instance.host = try row.decode(column: "host", as: String?.self)
        instance.node = try row.decode(column: "node", as: String?.self)
        instance.vmState = VMState(rawValue: try row.decode(column: "vm_state", as: String.self)) ?? .error
        instance.taskState = try row.decode(column: "task_state", as: String?.self).flatMap(TaskState.init(rawValue:))
        instance.powerState = PowerState(rawValue: try row.decode(column: "power_state", as: Int.self)) ?? .noState
        instance.availabilityZone = try row.decode(column: "availability_zone", as: String?.self)
        instance.keyName = try row.decode(column: "key_name", as: String?.self)
        instance.metadata = JSON.stringMap(fromText: try row.decode(column: "metadata", as: String.self))
        instance.userData = try row.decode(column: "user_data", as: String?.self)
        instance.fault = try row.decode(column: "fault", as: String?.self).flatMap { try? JSONDecoder().decode(Instance.Fault.self, from: Data($0.utf8)) }
        instance.locked = try row.decode(column: "locked", as: Bool.self)
        instance.deleted = try row.decode(column: "deleted", as: Bool.self)
        instance.createdAt = try row.decode(column: "created_at", as: Double.self)
        instance.updatedAt = try row.decode(column: "updated_at", as: Double.self)
        instance.launchedAt = try row.decode(column: "launched_at", as: Double?.self)
        instance.tags = JSON.stringList(fromText: try row.decode(column: "tags", as: String.self))
        instance.hints = (try? JSON.parse(try row.decode(column: "hints", as: String.self))).map { SchedulerHints(stored: $0) } ?? SchedulerHints()
        instance.description = try row.decode(column: "description", as: String?.self)
        instance.lockedReason = try row.decode(column: "locked_reason", as: String?.self)
        instance.requestedNetworks = (try? JSON.parse(try row.decode(column: "requested_networks", as: String.self)))?.arrayValue?
            .map(RequestedNetwork.init(stored:)) ?? []
        instance.ports = (try? JSON.parse(try row.decode(column: "ports", as: String.self)))?.arrayValue?.compactMap { entry in
            entry["id"]?.stringValue.map { AttachedPort(id: $0, createdByBuild: entry["created"]?.boolValue ?? false) }
        } ?? []
        instance.imageProperties = JSON.stringMap(fromText: try row.decode(column: "image_meta", as: String.self))
        return instance
    }
}
