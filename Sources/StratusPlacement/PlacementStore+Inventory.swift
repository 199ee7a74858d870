import SQLKit
import StratusCore
import StratusStorage

extension PlacementStore {
    public func inventories(uuid: String) async throws -> (generation: Int, inventories: [String: Inventory]) {
        try await storage.read { sql in
            guard let row = try await sql.raw("SELECT generation FROM placement_providers WHERE uuid = \(bind: uuid)").first() else {
                throw PlacementFault.notFound("No resource provider with uuid \(uuid) found", code: "placement.resource_provider.not_found")
            }
            var result: [String: Inventory] = [:]
            for row in try await sql.raw("SELECT * FROM placement_inventories WHERE provider_uuid = \(bind: uuid)").all() {
                result[try row.decode(column: "resource_class", as: String.self)] = try Self.inventory(row)
            }
            return (try row.decode(column: "generation", as: Int.self), result)
        }
    }

    /// Replaces a provider's whole inventory (`PUT …/inventories`, `DELETE …/inventories` with `[:]`).
    /// Refuses to remove a class in use or to shrink below current usage (409 `placement.inventory.inuse`).
    public func setInventories(uuid: String, generation: Int?, _ inventories: [String: Inventory],
                               reservedMayEqualTotal: Bool) async throws -> Int {
        try await validate(inventories, provider: uuid, reservedMayEqualTotal: reservedMayEqualTotal)
        return try await write { tx in
            let current = try await provider(uuid, in: tx)
            if let generation, generation != current.generation { throw generationConflict(uuid) }
            let usage = try await self.usage(of: uuid, in: tx)
            let removedInUse = usage.filter { $0.value > 0 && inventories[$0.key] == nil }.keys.sorted()
            if !removedInUse.isEmpty {
                throw PlacementFault.conflict(
                    "update conflict: Inventory for '\(removedInUse.joined(separator: ", "))' on resource provider '\(uuid)' in use.",
                    code: "placement.inventory.inuse")
            }
            try checkNotBelowUsage(inventories, usage: usage, provider: uuid)
            try await tx.sql.raw("DELETE FROM placement_inventories WHERE provider_uuid = \(bind: uuid)").run()
            for (resourceClass, inventory) in inventories.sorted(by: { $0.key < $1.key }) {
                try await insertInventory(uuid, resourceClass, inventory, in: tx)
            }
            return (try await bump(uuid, expected: current.generation, in: tx), [uuid])
        }
    }

    /// Creates or updates one class's inventory. `mustExist` for PUT of one class; `mustBeNew` for POST.
    public func setInventory(uuid: String, resourceClass: String, generation: Int?, _ inventory: Inventory,
                             mustExist: Bool, mustBeNew: Bool, reservedMayEqualTotal: Bool) async throws -> Int {
        try await validate([resourceClass: inventory], provider: uuid, reservedMayEqualTotal: reservedMayEqualTotal)
        return try await write { tx in
            let current = try await provider(uuid, in: tx)
            if let generation, generation != current.generation { throw generationConflict(uuid) }
            let exists = try await tx.sql.raw(
                "SELECT 1 AS x FROM placement_inventories WHERE provider_uuid = \(bind: uuid) AND resource_class = \(bind: resourceClass)"
            ).first() != nil
            if mustExist && !exists {
                throw PlacementFault.badRequest(
                    "No inventory record with resource class for resource provider \(uuid): No inventory of class \(resourceClass) found.")
            }
            if mustBeNew && exists {
                throw PlacementFault.concurrentUpdate(
                    "Update conflict: inventory of class \(resourceClass) already exists on resource provider \(uuid).")
            }
            try checkNotBelowUsage([resourceClass: inventory], usage: try await usage(of: uuid, in: tx), provider: uuid)
            try await tx.sql.raw(
                "DELETE FROM placement_inventories WHERE provider_uuid = \(bind: uuid) AND resource_class = \(bind: resourceClass)"
            ).run()
            try await insertInventory(uuid, resourceClass, inventory, in: tx)
            return (try await bump(uuid, expected: current.generation, in: tx), [uuid])
        }
    }

    public func deleteInventory(uuid: String, resourceClass: String) async throws {
        try await write { tx in
            let current = try await provider(uuid, in: tx)
            guard try await tx.sql.raw(
                "SELECT 1 AS x FROM placement_inventories WHERE provider_uuid = \(bind: uuid) AND resource_class = \(bind: resourceClass)"
            ).first() != nil else {
                throw PlacementFault.notFound("No inventory of class \(resourceClass) found for delete: No inventory of class \(resourceClass) found.")
            }
            if (try await usage(of: uuid, in: tx)[resourceClass] ?? 0) > 0 {
                // Placement reports this one with the concurrent-update code.
                throw PlacementFault.concurrentUpdate(
                    "Unable to delete inventory of class \(resourceClass): Inventory for '\(resourceClass)' on resource provider '\(uuid)' in use.")
            }
            try await tx.sql.raw(
                "DELETE FROM placement_inventories WHERE provider_uuid = \(bind: uuid) AND resource_class = \(bind: resourceClass)"
            ).run()
            _ = try await bump(uuid, expected: current.generation, in: tx)
            return ((), [uuid])
        }
    }

    private func insertInventory(_ uuid: String, _ resourceClass: String, _ inventory: Inventory, in tx: Transaction) async throws {
        try await tx.sql.raw(
            """
            INSERT INTO placement_inventories (provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size,
                allocation_ratio, updated_at)
            VALUES (\(bind: uuid), \(bind: resourceClass), \(bind: inventory.total), \(bind: inventory.reserved),
                \(bind: inventory.minUnit), \(bind: inventory.maxUnit), \(bind: inventory.stepSize),
                \(bind: inventory.allocationRatio), \(bind: Clock.now()))
            """
        ).run()
    }

    /// Unknown classes are 400; so is reserved ≥ total (reserved > total from 1.26).
    private func validate(_ inventories: [String: Inventory], provider uuid: String, reservedMayEqualTotal: Bool) async throws {
        for (resourceClass, inventory) in inventories.sorted(by: { $0.key < $1.key }) {
            guard try await resourceClassExists(resourceClass) else {
                throw PlacementFault.badRequest(
                    "Unknown resource class in inventory for resource provider \(uuid): No such resource class \(resourceClass).")
            }
            let bad = reservedMayEqualTotal ? inventory.capacity < 0 || inventory.reserved > inventory.total
                                            : inventory.capacity <= 0 || inventory.reserved >= inventory.total
            if bad {
                let relation = reservedMayEqualTotal ? "greater than" : "greater than or equal to"
                throw PlacementFault.badRequest(
                    "Unable to update inventory for resource provider \(uuid): Invalid inventory for '\(resourceClass)' on resource provider '\(uuid)'. The reserved value is \(relation) total.")
            }
        }
    }

    private func checkNotBelowUsage(_ inventories: [String: Inventory], usage: [String: Int], provider uuid: String) throws {
        for (resourceClass, inventory) in inventories.sorted(by: { $0.key < $1.key }) {
            let used = usage[resourceClass] ?? 0
            if used > inventory.capacity {
                throw PlacementFault.conflict(
                    "update conflict: Inventory for '\(resourceClass)' on resource provider '\(uuid)' in use: \(used) allocated exceeds the new capacity \(inventory.capacity).",
                    code: "placement.inventory.inuse")
            }
        }
    }

    func usage(of uuid: String, in tx: Transaction) async throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try await tx.sql.raw(
            "SELECT resource_class, CAST(SUM(used) AS BIGINT) AS used FROM placement_allocations WHERE provider_uuid = \(bind: uuid) GROUP BY resource_class"
        ).all() {
            result[try row.decode(column: "resource_class", as: String.self)] = try row.decode(column: "used", as: Int.self)
        }
        return result
    }
}
