import Foundation
import SQLKit
import StratusCore
import StratusStorage

/// A host aggregate (`os-aggregates`); its `availability_zone` metadata makes it an availability zone.
public struct Aggregate: Sendable, Equatable {
    public var id: Int
    public var uuid: String
    public var name: String
    public var metadata: [String: String]
    public var hosts: [String]
    public var createdAt: Double
    public var updatedAt: Double?

    public var availabilityZone: String? { metadata["availability_zone"] }
}

/// Host aggregates. The API mirrors each host's aggregate uuids into placement, as Nova does.
public struct AggregateStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    public func create(name: String, availabilityZone: String?) async throws -> Aggregate {
        do {
            return try await storage.transaction { tx in
                let next = try await tx.sql.raw("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) AS n FROM compute_aggregates")
                    .first()?.decode(column: "n", as: Int.self) ?? 1
                let metadata = availabilityZone.map { ["availability_zone": $0] } ?? [:]
                let aggregate = Aggregate(id: next, uuid: Identifier.uuid(), name: name, metadata: metadata, hosts: [], createdAt: Clock.now())
                try await tx.sql.raw(
                    """
                    INSERT INTO compute_aggregates (id, uuid, name, metadata, created_at)
                    VALUES (\(bind: aggregate.id), \(bind: aggregate.uuid), \(bind: name), \(bind: JSON.text(metadata)), \(bind: aggregate.createdAt))
                    """
                ).run()
                return aggregate
            }
        } catch where Storage.isUniqueViolation(error) {
            throw StratusError.conflict("Aggregate \(name) already exists.")
        }
    }

    public func all() async throws -> [Aggregate] {
        try await storage.read { sql in
            var hosts: [Int: [String]] = [:]
            for row in try await sql.raw("SELECT aggregate_id, host FROM compute_aggregate_hosts ORDER BY host").all() {
                hosts[try row.decode(column: "aggregate_id", as: Int.self), default: []].append(try row.decode(column: "host", as: String.self))
            }
            return try await sql.raw("SELECT * FROM compute_aggregates ORDER BY id").all().map { row in
                let id = try row.decode(column: "id", as: Int.self)
                return Aggregate(
                    id: id, uuid: try row.decode(column: "uuid", as: String.self), name: try row.decode(column: "name", as: String.self),
                    metadata: JSON.stringMap(fromText: try row.decode(column: "metadata", as: String.self)), hosts: hosts[id] ?? [],
                    createdAt: try row.decode(column: "created_at", as: Double.self),
                    updatedAt: try row.decode(column: "updated_at", as: Double?.self))
            }
        }
    }

    public func aggregate(_ id: Int) async throws -> Aggregate {
        guard let found = try await all().first(where: { $0.id == id }) else {
            throw StratusError.notFound("Aggregate \(id) could not be found.")
        }
        return found
    }

    /// Renames and/or re-zones; a zone change is refused while a host would end up in two zones.
    public func update(_ id: Int, name: String?, availabilityZone: String?) async throws -> Aggregate {
        let aggregate = try await aggregate(id)
        var metadata = aggregate.metadata
        if let availabilityZone {
            try await checkZone(availabilityZone, hosts: aggregate.hosts, except: id)
            metadata["availability_zone"] = availabilityZone
        }
        do {
            let newName = name ?? aggregate.name
            try await storage.autocommit { [metadata] sql in
                try await sql.raw(
                    """
                    UPDATE compute_aggregates SET name = \(bind: newName), metadata = \(bind: JSON.text(metadata)),
                        updated_at = \(bind: Clock.now()) WHERE id = \(bind: id)
                    """
                ).run()
            }
        } catch where Storage.isUniqueViolation(error) {
            throw StratusError.conflict("Aggregate \(name ?? "") already exists.")
        }
        try await HostStore.announceChange(storage)
        return try await self.aggregate(id)
    }

    /// Merges metadata; a null value removes the key.
    public func setMetadata(_ id: Int, _ changes: [String: String?]) async throws -> Aggregate {
        let aggregate = try await aggregate(id)
        var metadata = aggregate.metadata
        for (key, value) in changes { metadata[key] = value }
        if let zone = metadata["availability_zone"], zone != aggregate.availabilityZone {
            try await checkZone(zone, hosts: aggregate.hosts, except: id)
        }
        try await storage.autocommit { [metadata] sql in
            try await sql.raw(
                "UPDATE compute_aggregates SET metadata = \(bind: JSON.text(metadata)), updated_at = \(bind: Clock.now()) WHERE id = \(bind: id)"
            ).run()
        }
        try await HostStore.announceChange(storage)
        return try await self.aggregate(id)
    }

    public func delete(_ id: Int) async throws {
        let aggregate = try await aggregate(id)
        guard aggregate.hosts.isEmpty else {
            throw StratusError.badRequest("Cannot remove aggregate \(id): it still has hosts \(aggregate.hosts.joined(separator: ", ")).")
        }
        try await storage.autocommit { sql in try await sql.raw("DELETE FROM compute_aggregates WHERE id = \(bind: id)").run() }
        try await HostStore.announceChange(storage)
    }

    public func addHost(_ id: Int, host: String) async throws -> Aggregate {
        let aggregate = try await aggregate(id)
        guard !aggregate.hosts.contains(host) else {
            throw StratusError.conflict("Aggregate \(id) already has host \(host).")
        }
        if let zone = aggregate.availabilityZone { try await checkZone(zone, hosts: [host], except: id) }
        try await storage.autocommit { sql in
            try await sql.raw("INSERT INTO compute_aggregate_hosts (aggregate_id, host) VALUES (\(bind: id), \(bind: host))").run()
        }
        try await HostStore.announceChange(storage)
        return try await self.aggregate(id)
    }

    public func removeHost(_ id: Int, host: String) async throws -> Aggregate {
        let aggregate = try await aggregate(id)
        guard aggregate.hosts.contains(host) else {
            throw StratusError.notFound("Cannot remove host \(host) in aggregate \(id): not found")
        }
        try await storage.autocommit { sql in
            try await sql.raw("DELETE FROM compute_aggregate_hosts WHERE aggregate_id = \(bind: id) AND host = \(bind: host)").run()
        }
        try await HostStore.announceChange(storage)
        return try await self.aggregate(id)
    }

    /// A host may be in one availability zone only (Nova refuses the change that would put it in two).
    func checkZone(_ zone: String, hosts: [String], except id: Int) async throws {
        for other in try await all() where other.id != id {
            guard let otherZone = other.availabilityZone, otherZone != zone else { continue }
            if let host = hosts.first(where: other.hosts.contains) {
                throw StratusError.badRequest(
                    "Cannot add host \(host) to aggregate \(id) in availability zone \(zone): it is already in zone \(otherZone) through aggregate \(other.id).")
            }
        }
    }
}
