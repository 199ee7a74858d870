import Hummingbird
import StratusCompute
import StratusCore

/// `os-aggregates` (admin; mirrored into placement aggregates) and `os-availability-zone`.
extension ComputeAPI {
    func registerAggregates(on router: PolicedRouter) {
        router.get("compute/v2.1/os-aggregates", .rule("os_compute_api:os-aggregates:index")) { _, context in
            return JSONResponse.make(status: .ok, ["aggregates": .array(try await aggregates.all().map { aggregateJSON($0, context) })])
        }
        router.post("compute/v2.1/os-aggregates", .rule("os_compute_api:os-aggregates:create")) { request, context in
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "aggregate")
            try fields.rejectUnknown(["name", "availability_zone"])
            let name = try fields.requiredString("name").trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw StratusError.badRequest("Invalid input for field/attribute name: it must not be blank.") }
            let zone = try fields.string("availability_zone", nullable: true)
            let aggregate = try await aggregates.create(name: name, availabilityZone: zone)
            return JSONResponse.make(status: .ok, ["aggregate": aggregateJSON(aggregate, context)])
        }
        router.get("compute/v2.1/os-aggregates/:id", .rule("os_compute_api:os-aggregates:show")) { _, context in
            return JSONResponse.make(status: .ok, ["aggregate": aggregateJSON(try await aggregates.aggregate(try aggregateID(context)), context)])
        }
        router.put("compute/v2.1/os-aggregates/:id", .rule("os_compute_api:os-aggregates:update")) { request, context in
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "aggregate")
            try fields.rejectUnknown(["name", "availability_zone"])
            let updated = try await aggregates.update(
                try aggregateID(context), name: try fields.string("name"), availabilityZone: try fields.string("availability_zone"))
            return JSONResponse.make(status: .ok, ["aggregate": aggregateJSON(updated, context)])
        }
        router.delete("compute/v2.1/os-aggregates/:id", .rule("os_compute_api:os-aggregates:delete")) { _, context in
            try await aggregates.delete(try aggregateID(context))
            return JSONResponse.empty(.ok)
        }
        router.post("compute/v2.1/os-aggregates/:id/action", .action(["add_host": "os_compute_api:os-aggregates:add_host", "remove_host": "os_compute_api:os-aggregates:remove_host", "set_metadata": "os_compute_api:os-aggregates:set_metadata"])) { request, context in
            let id = try aggregateID(context)
            let body = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            guard body.object.count == 1, let name = body.object.keys.first else {
                throw StratusError.badRequest("The action body must name exactly one action.")
            }
            let result: Aggregate
            switch name {
            case "add_host", "remove_host":
                let host = try body.fields(name, required: true)!.requiredString("host")
                guard try await hostStore.services().contains(where: { $0.host == host }) else {
                    throw StratusError.notFound("Compute host \(host) could not be found.")
                }
                result = name == "add_host" ? try await aggregates.addHost(id, host: host) : try await aggregates.removeHost(id, host: host)
                try await mirrorIntoPlacement(host: host)
            case "set_metadata":
                let metadata = try body.fields(name, required: true)!.fields("metadata", required: true)!
                var changes: [String: String?] = [:]
                for (key, value) in metadata.object {
                    guard !key.isEmpty, key.count <= 255 else { throw StratusError.badRequest("Invalid input for field/attribute metadata: key \(key).") }
                    if value.isNull { changes[key] = .some(nil) } else if let text = value.stringValue, text.count <= 255 {
                        changes[key] = text
                    } else {
                        throw StratusError.badRequest("Invalid input for field/attribute metadata: the value of \(key) must be a string or null.")
                    }
                }
                result = try await aggregates.setMetadata(id, changes)
            default:
                throw StratusError.badRequest("Aggregate action \(name) is not supported.")
            }
            return JSONResponse.make(status: .ok, ["aggregate": aggregateJSON(result, context)])
        }

        router.get("compute/v2.1/os-availability-zone", .rule("os_compute_api:os-availability-zone:list")) { _, context in
            _ = try context.requireAuth()
            let zones = try await zoneHosts()
            return JSONResponse.make(status: .ok, ["availabilityZoneInfo": .array(zones.keys.sorted().map { zone in
                ["zoneName": .string(zone), "zoneState": ["available": .bool(zones[zone]!.contains { $0.up })], "hosts": nil]
            })])
        }
        router.get("compute/v2.1/os-availability-zone/detail", .rule("os_compute_api:os-availability-zone:detail")) { _, context in
            let zones = try await zoneHosts()
            var info: [JSON] = [["zoneName": "internal", "zoneState": ["available": true], "hosts": [
                "stratus": ["nova-conductor": ["available": true, "active": true, "updated_at": .string(Clock.iso8601Micro(Clock.now()))],
                            "nova-scheduler": ["available": true, "active": true, "updated_at": .string(Clock.iso8601Micro(Clock.now()))]],
            ]]]
            for zone in zones.keys.sorted() {
                var hosts: [String: JSON] = [:]
                for entry in zones[zone]! {
                    hosts[entry.host] = ["nova-compute": ["available": .bool(entry.up), "active": .bool(entry.enabled),
                                                          "updated_at": .string(Clock.iso8601Micro(entry.lastSeen))]]
                }
                info.append(["zoneName": .string(zone), "zoneState": ["available": .bool(zones[zone]!.contains { $0.up })], "hosts": .object(hosts)])
            }
            return JSONResponse.make(status: .ok, ["availabilityZoneInfo": .array(info)])
        }
    }

    func aggregateID(_ context: StratusRequestContext) throws -> Int {
        let text = try context.parameters.require("id")
        guard let id = Int(text) else { throw StratusError.badRequest("Invalid input for field/attribute id. Value: \(text). It must be an integer.") }
        return id
    }

    /// Placement sees the host's provider in the same aggregates (by uuid), as Nova keeps them in step.
    func mirrorIntoPlacement(host: String) async throws {
        guard let node = try await hostStore.nodes().first(where: { $0.host == host }) else { return }
        let uuids = Set(try await aggregates.all().filter { $0.hosts.contains(host) }.map(\.uuid))
        _ = try await placement.setAggregates(uuid: node.uuid, aggregates: uuids, generation: nil)
    }

    /// Compute services by zone: an aggregate's `availability_zone` wins over the service's own zone.
    func zoneHosts() async throws -> [String: [(host: String, up: Bool, enabled: Bool, lastSeen: Double)]] {
        var zoneOf: [String: String] = [:]
        for aggregate in try await aggregates.all() {
            if let zone = aggregate.availabilityZone { for host in aggregate.hosts { zoneOf[host] = zone } }
        }
        let now = Clock.now()
        var zones: [String: [(host: String, up: Bool, enabled: Bool, lastSeen: Double)]] = [:]
        for service in try await hostStore.services() {
            let up = isUp(service, now: now)
            zones[zoneOf[service.host] ?? service.zone, default: []].append((service.host, up && !service.disabled, !service.disabled, service.lastSeen))
        }
        return zones
    }

    func aggregateJSON(_ aggregate: Aggregate, _ context: StratusRequestContext) -> JSON {
        var body: [String: JSON] = [
            "id": .int(aggregate.id), "name": .string(aggregate.name), "availability_zone": .optional(aggregate.availabilityZone),
            "hosts": .array(aggregate.hosts.map { .string($0) }), "metadata": .object(aggregate.metadata.mapValues { .string($0) }),
            "created_at": .string(Clock.iso8601Micro(aggregate.createdAt).replacingOccurrences(of: "Z", with: "")),
            "updated_at": .optional(aggregate.updatedAt.map { Clock.iso8601Micro($0).replacingOccurrences(of: "Z", with: "") }),
            "deleted_at": nil, "deleted": false,
        ]
        if context.microversion.atLeast(2, 41) { body["uuid"] = .string(aggregate.uuid) }
        return .object(body)
    }
}
