import SQLKit
import StratusCore
import StratusStorage

extension PlacementStore {
    /// One provider's new inventory in a reshape, with the generation the caller last saw.
    public struct ReshapeInventory: Sendable {
        public var generation: Int
        public var inventories: [String: Inventory]

        public init(generation: Int, inventories: [String: Inventory]) {
            self.generation = generation
            self.inventories = inventories
        }
    }

    /// `POST /reshaper`: replaces the inventories of some providers and the allocations of some consumers in one
    /// transaction, as when a hypervisor moves VGPU inventory from the root to new child providers. Capacity is
    /// checked on the final state only, so inventory and allocations can move together.
    public func reshape(inventories: [String: ReshapeInventory], allocations: [ConsumerAllocations],
                        reservedMayEqualTotal: Bool) async throws {
        for (uuid, entry) in inventories {
            for (resourceClass, inventory) in entry.inventories {
                guard try await resourceClassExists(resourceClass) else {
                    throw PlacementFault.badRequest("No such resource class \(resourceClass).")
                }
                let bad = reservedMayEqualTotal ? inventory.reserved > inventory.total : inventory.reserved >= inventory.total
                if bad {
                    throw PlacementFault.badRequest(
                        "Invalid inventory for '\(resourceClass)' on resource provider '\(uuid)'. The reserved value is greater than total.")
                }
            }
        }
        let touched = try await storage.transaction { tx -> Set<String> in
            var touched = Set(inventories.keys)
            for (uuid, entry) in inventories.sorted(by: { $0.key < $1.key }) {
                let lock: SQLQueryString = tx.engine == .postgresql ? " FOR UPDATE" : ""
                guard let row = try await tx.sql.raw("SELECT generation FROM placement_providers WHERE uuid = \(bind: uuid)" + lock).first() else {
                    throw PlacementFault.badRequest("Resource provider \(uuid) in the reshape does not exist.")
                }
                guard try row.decode(column: "generation", as: Int.self) == entry.generation else { throw generationConflict(uuid) }
                try await tx.sql.raw("DELETE FROM placement_inventories WHERE provider_uuid = \(bind: uuid)").run()
                for (resourceClass, inventory) in entry.inventories.sorted(by: { $0.key < $1.key }) {
                    try await tx.sql.raw(
                        """
                        INSERT INTO placement_inventories (provider_uuid, resource_class, total, reserved, min_unit, max_unit,
                            step_size, allocation_ratio, updated_at)
                        VALUES (\(bind: uuid), \(bind: resourceClass), \(bind: inventory.total), \(bind: inventory.reserved),
                            \(bind: inventory.minUnit), \(bind: inventory.maxUnit), \(bind: inventory.stepSize),
                            \(bind: inventory.allocationRatio), \(bind: Clock.now()))
                        """
                    ).run()
                }
            }
            for consumer in allocations {
                for row in try await tx.sql.raw(
                    "DELETE FROM placement_allocations WHERE consumer_uuid = \(bind: consumer.consumerUUID) RETURNING provider_uuid"
                ).all() {
                    touched.insert(try row.decode(column: "provider_uuid", as: String.self))
                }
                for allocation in consumer.allocations {
                    touched.insert(allocation.providerUUID)
                    for (resourceClass, amount) in allocation.resources.sorted(by: { $0.key < $1.key }) {
                        try await tx.sql.raw(
                            """
                            INSERT INTO placement_allocations (consumer_uuid, provider_uuid, resource_class, used, created_at)
                            VALUES (\(bind: consumer.consumerUUID), \(bind: allocation.providerUUID), \(bind: resourceClass),
                                \(bind: amount), \(bind: Clock.now()))
                            """
                        ).run()
                    }
                }
                try await reshapeConsumer(consumer, in: tx)
            }
            // The final state must fit: every class used has inventory, within capacity.
            for uuid in touched.sorted() {
                guard let row = try await tx.sql.raw("SELECT generation FROM placement_providers WHERE uuid = \(bind: uuid)").first() else {
                    throw PlacementFault.badRequest("Resource provider \(uuid) in the reshape does not exist.")
                }
                var inventories: [String: Inventory] = [:]
                for row in try await tx.sql.raw("SELECT * FROM placement_inventories WHERE provider_uuid = \(bind: uuid)").all() {
                    inventories[try row.decode(column: "resource_class", as: String.self)] = try Self.inventory(row)
                }
                for (resourceClass, used) in try await usage(of: uuid, in: tx) where used > 0 {
                    guard let inventory = inventories[resourceClass], used <= inventory.capacity else {
                        throw PlacementFault.conflict(
                            "Unable to allocate inventory: Unable to create allocation for '\(resourceClass)' on resource provider '\(uuid)'. The requested amount would exceed the capacity.")
                    }
                }
                _ = try await bump(uuid, expected: try row.decode(column: "generation", as: Int.self), in: tx)
            }
            return touched
        }
        try await refresh(touched)
    }

    private func reshapeConsumer(_ consumer: ConsumerAllocations, in tx: Transaction) async throws {
        let row = try await tx.sql.raw("SELECT generation FROM placement_consumers WHERE uuid = \(bind: consumer.consumerUUID)").first()
        let current = try row?.decode(column: "generation", as: Int.self)
        switch consumer.expectedGeneration {
        case .skip: break
        case .newConsumer where current != nil, .equals where current == nil:
            throw PlacementFault.concurrentUpdate("consumer generation conflict for \(consumer.consumerUUID)")
        case .equals(let expected) where current != expected:
            throw PlacementFault.concurrentUpdate("consumer generation conflict - expected \(expected) but got \(current ?? 0)")
        default: break
        }
        if consumer.allocations.allSatisfy({ $0.resources.isEmpty }) {
            try await tx.sql.raw("DELETE FROM placement_consumers WHERE uuid = \(bind: consumer.consumerUUID)").run()
            return
        }
        let now = Clock.now()
        if current != nil {
            try await tx.sql.raw(
                """
                UPDATE placement_consumers SET generation = generation + 1, project_id = \(bind: consumer.projectID),
                    user_id = \(bind: consumer.userID), consumer_type = \(bind: consumer.consumerType), updated_at = \(bind: now)
                WHERE uuid = \(bind: consumer.consumerUUID)
                """
            ).run()
        } else {
            try await tx.sql.raw(
                """
                INSERT INTO placement_consumers (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at)
                VALUES (\(bind: consumer.consumerUUID), \(bind: consumer.projectID), \(bind: consumer.userID),
                    \(bind: consumer.consumerType), 1, \(bind: now), \(bind: now))
                """
            ).run()
        }
    }
}
