import SQLKit
import StratusCore
import StratusStorage

/// Flavors, their extra specs and, for private flavors, the projects allowed to use them.
public struct FlavorStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    public func create(_ flavor: Flavor) async throws -> Flavor {
        do {
            try await storage.transaction { tx in
                try await tx.sql.raw(
                    """
                    INSERT INTO compute_flavors (id, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, rxtx_factor,
                        is_public, disabled, description, created_at)
                    VALUES (\(bind: flavor.id), \(bind: flavor.name), \(bind: flavor.memoryMB), \(bind: flavor.vcpus),
                        \(bind: flavor.rootGB), \(bind: flavor.ephemeralGB), \(bind: flavor.swapMB), \(bind: flavor.rxtxFactor),
                        \(bind: flavor.isPublic), \(bind: flavor.disabled), \(bind: flavor.description), \(bind: Clock.now()))
                    """
                ).run()
                for (key, value) in flavor.extraSpecs.sorted(by: { $0.key < $1.key }) {
                    try await tx.sql.raw(
                        "INSERT INTO compute_flavor_extra_specs (flavor_id, key, value) VALUES (\(bind: flavor.id), \(bind: key), \(bind: value))"
                    ).run()
                }
            }
        } catch where Storage.isUniqueViolation(error) {
            let sameID = try await storage.read { sql in
                try await sql.raw("SELECT id FROM compute_flavors WHERE id = \(bind: flavor.id)").first() != nil
            }
            throw StratusError.conflict(sameID ? "Flavor with ID \(flavor.id) already exists." : "Flavor with name \(flavor.name) already exists.")
        }
        return flavor
    }

    /// Creates the default flavors that do not exist yet (by id or name).
    public func ensureDefaults() async throws {
        let existing = try await all()
        for flavor in Flavor.defaults where !existing.contains(where: { $0.id == flavor.id || $0.name == flavor.name }) {
            _ = try await create(flavor)
        }
    }

    public func all() async throws -> [Flavor] {
        try await storage.read { sql in
            let specs = try await Self.specs(sql, flavorID: nil)
            return try await sql.raw("SELECT * FROM compute_flavors").all().map { row in
                var flavor = try Self.flavor(row)
                flavor.extraSpecs = specs[flavor.id] ?? [:]
                return flavor
            }
        }
    }

    public func flavor(id: String) async throws -> Flavor {
        let found = try await storage.read { sql -> Flavor? in
            guard let row = try await sql.raw("SELECT * FROM compute_flavors WHERE id = \(bind: id)").first() else { return nil }
            var flavor = try Self.flavor(row)
            flavor.extraSpecs = try await Self.specs(sql, flavorID: id)[id] ?? [:]
            return flavor
        }
        guard let found else { throw StratusError.notFound("Flavor \(id) could not be found.") }
        return found
    }

    public func delete(id: String) async throws {
        let deleted = try await storage.transaction { tx in
            try await tx.sql.raw("DELETE FROM compute_flavors WHERE id = \(bind: id) RETURNING id").first() != nil
        }
        if !deleted { throw StratusError.notFound("Flavor \(id) could not be found.") }
    }

    public func update(id: String, description: String?) async throws -> Flavor {
        let updated = try await storage.transaction { tx in
            try await tx.sql.raw(
                "UPDATE compute_flavors SET description = \(bind: description) WHERE id = \(bind: id) RETURNING id"
            ).first() != nil
        }
        if !updated { throw StratusError.notFound("Flavor \(id) could not be found.") }
        return try await flavor(id: id)
    }

    /// Adds or replaces extra specs.
    public func setExtraSpecs(id: String, _ specs: [String: String]) async throws {
        _ = try await flavor(id: id)
        try await storage.transaction { tx in
            for (key, value) in specs.sorted(by: { $0.key < $1.key }) {
                try await tx.sql.raw(
                    "DELETE FROM compute_flavor_extra_specs WHERE flavor_id = \(bind: id) AND key = \(bind: key)"
                ).run()
                try await tx.sql.raw(
                    "INSERT INTO compute_flavor_extra_specs (flavor_id, key, value) VALUES (\(bind: id), \(bind: key), \(bind: value))"
                ).run()
            }
        }
    }

    public func deleteExtraSpec(id: String, key: String) async throws {
        let deleted = try await storage.transaction { tx in
            try await tx.sql.raw(
                "DELETE FROM compute_flavor_extra_specs WHERE flavor_id = \(bind: id) AND key = \(bind: key) RETURNING key"
            ).first() != nil
        }
        if !deleted { throw StratusError.notFound("Flavor \(id) has no extra specs with key \(key).") }
    }

    public func projects(flavorID: String) async throws -> [String] {
        try await storage.read { sql in
            try await sql.raw("SELECT project_id FROM compute_flavor_projects WHERE flavor_id = \(bind: flavorID) ORDER BY project_id")
                .all().map { try $0.decode(column: "project_id", as: String.self) }
        }
    }

    public func addAccess(flavorID: String, projectID: String) async throws {
        let flavor = try await flavor(id: flavorID)
        guard !flavor.isPublic else { throw StratusError.conflict("Can not add access to a public flavor.") }
        do {
            try await storage.transaction { tx in
                try await tx.sql.raw(
                    "INSERT INTO compute_flavor_projects (flavor_id, project_id) VALUES (\(bind: flavorID), \(bind: projectID))"
                ).run()
            }
        } catch where Storage.isUniqueViolation(error) {
            throw StratusError.conflict("Flavor access already exists for flavor \(flavorID) and project \(projectID) combination.")
        }
    }

    public func removeAccess(flavorID: String, projectID: String) async throws {
        let removed = try await storage.transaction { tx in
            try await tx.sql.raw(
                "DELETE FROM compute_flavor_projects WHERE flavor_id = \(bind: flavorID) AND project_id = \(bind: projectID) RETURNING flavor_id"
            ).first() != nil
        }
        if !removed { throw StratusError.notFound("Flavor access not found for \(flavorID) / \(projectID) combination.") }
    }

    static func flavor(_ row: any SQLRow) throws -> Flavor {
        var flavor = Flavor(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            memoryMB: try row.decode(column: "memory_mb", as: Int.self), vcpus: try row.decode(column: "vcpus", as: Int.self),
            rootGB: try row.decode(column: "root_gb", as: Int.self))
        flavor.ephemeralGB = try row.decode(column: "ephemeral_gb", as: Int.self)
        flavor.swapMB = try row.decode(column: "swap", as: Int.self)
        flavor.rxtxFactor = try row.decode(column: "rxtx_factor", as: Double.self)
        flavor.isPublic = try row.decode(column: "is_public", as: Bool.self)
        flavor.disabled = try row.decode(column: "disabled", as: Bool.self)
        flavor.description = try row.decode(column: "description", as: String?.self)
        return flavor
    }

    static func specs(_ sql: any SQLDatabase, flavorID: String?) async throws -> [String: [String: String]] {
        let rows = try await (flavorID.map {
            sql.raw("SELECT * FROM compute_flavor_extra_specs WHERE flavor_id = \(bind: $0)")
        } ?? sql.raw("SELECT * FROM compute_flavor_extra_specs")).all()
        var result: [String: [String: String]] = [:]
        for row in rows {
            result[try row.decode(column: "flavor_id", as: String.self), default: [:]][
                try row.decode(column: "key", as: String.self)] = try row.decode(column: "value", as: String.self)
        }
        return result
    }
}
