import SQLKit
import StratusCore
import StratusStorage

extension PlacementStore {
    /// How often a claim is retried from a fresh read after losing a race, before 409 concurrent_update.
    static let claimRetries = 10

    /// Replaces the allocations of every consumer given, atomically: all or nothing. This is the claim.
    ///
    /// Inside one transaction: consumer generations are checked, the consumers' old allocations are removed,
    /// every provider involved is read (locked `FOR UPDATE` on PostgreSQL, in uuid order so claims never
    /// deadlock), capacity is checked as `used + requested <= (total - reserved) * allocation_ratio`, the new
    /// rows are written and every provider's generation is compare-and-swapped. A lost race rolls back and
    /// retries from a fresh read.
    public func replaceAllocations(_ consumers: [ConsumerAllocations]) async throws {
        if let batcher, try await batcher.submit(consumers) { return }
        try await replaceAllocationsDirectly(consumers)
    }

    /// The one-at-a-time claim, with retries.
    func replaceAllocationsDirectly(_ consumers: [ConsumerAllocations]) async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let outcome = try await storage.transaction { tx in try await claimOnce(consumers, in: tx) }
                for (uuid, state) in outcome.newUsage where !index.applyUsage(uuid, generation: state.generation, usage: state.usage) {
                    try await refresh([uuid])
                }
                if !outcome.refreshOnly.isEmpty { try await refresh(outcome.refreshOnly) }
                return
            } catch let error as StratusError where error.code.faultName == "placement.concurrent_update" && error.message.hasPrefix(Self.retryMarker) {
                if attempt >= Self.claimRetries {
                    throw PlacementFault.concurrentUpdate(
                        "Inventory and/or allocations changed while attempting to allocate: Another thread concurrently updated the resource provider data. Please retry your update")
                }
                try await Task.sleep(for: .microseconds(Int.random(in: 100...2000) * attempt))
            }
        }
    }

    static let retryMarker = "retry:"

    struct ClaimOutcome: Sendable {
        var newUsage: [String: (generation: Int, usage: [String: Int])] = [:]
        var refreshOnly: Set<String> = []
    }

    private func claimOnce(_ consumers: [ConsumerAllocations], in tx: Transaction) async throws -> ClaimOutcome {
        var existing: [String] = []
        for consumer in consumers where try await checkConsumerGeneration(consumer, in: tx) {
            existing.append(consumer.consumerUUID)
        }
        let consumerIDs = consumers.map(\.consumerUUID)
        var touched: Set<String> = []
        if !existing.isEmpty {
            // Allocations exist only for consumers with a row, so brand-new consumers skip this.
            for row in try await tx.sql.raw(
                "DELETE FROM placement_allocations WHERE consumer_uuid IN (" + Self.bindList(existing) + ") RETURNING provider_uuid"
            ).all() {
                touched.insert(try row.decode(column: "provider_uuid", as: String.self))
            }
        }

        // What each provider is asked for in total, and each single allocation for unit checks.
        var requested: [String: [String: Int]] = [:]
        for consumer in consumers {
            for allocation in consumer.allocations {
                for (resourceClass, amount) in allocation.resources {
                    requested[allocation.providerUUID, default: [:]][resourceClass, default: 0] += amount
                }
            }
        }
        touched.formUnion(requested.keys)

        var generations: [String: Int] = [:]
        var inventoriesByProvider: [String: [String: Inventory]] = [:]
        var usageByProvider: [String: [String: Int]] = [:]
        for uuid in touched.sorted() {
            if tx.engine == .sqlite, requested[uuid] != nil {
                // SQLite has one writer, so no row lock is needed: read generation, inventory and usage at once.
                let rows = try await tx.sql.raw(
                    """
                    SELECT p.generation, i.*, CAST(COALESCE((SELECT SUM(a.used) FROM placement_allocations a
                        WHERE a.provider_uuid = p.uuid AND a.resource_class = i.resource_class), 0) AS BIGINT) AS used_now
                    FROM placement_providers p LEFT JOIN placement_inventories i ON i.provider_uuid = p.uuid
                    WHERE p.uuid = \(bind: uuid)
                    """
                ).all()
                guard let first = rows.first else { throw missingProvider(uuid, consumerIDs) }
                generations[uuid] = try first.decode(column: "generation", as: Int.self)
                try readInventories(rows, into: &inventoriesByProvider[uuid, default: [:]], usage: &usageByProvider[uuid, default: [:]])
                continue
            }
            // PostgreSQL: lock the provider rows in uuid order, so concurrent claims queue instead of deadlocking.
            let lock: SQLQueryString = tx.engine == .postgresql ? " FOR UPDATE" : ""
            guard let row = try await tx.sql.raw("SELECT generation FROM placement_providers WHERE uuid = \(bind: uuid)" + lock).first() else {
                throw missingProvider(uuid, consumerIDs)
            }
            generations[uuid] = try row.decode(column: "generation", as: Int.self)
            if requested[uuid] != nil {
                let rows = try await tx.sql.raw(
                    """
                    SELECT i.*, CAST(COALESCE((SELECT SUM(a.used) FROM placement_allocations a
                        WHERE a.provider_uuid = i.provider_uuid AND a.resource_class = i.resource_class), 0) AS BIGINT) AS used_now
                    FROM placement_inventories i WHERE i.provider_uuid = \(bind: uuid)
                    """
                ).all()
                try readInventories(rows, into: &inventoriesByProvider[uuid, default: [:]], usage: &usageByProvider[uuid, default: [:]])
            }
        }

        var outcome = ClaimOutcome()
        for (uuid, resources) in requested.sorted(by: { $0.key < $1.key }) {
            let inventories = inventoriesByProvider[uuid] ?? [:]
            var usage = usageByProvider[uuid] ?? [:]
            for (resourceClass, amount) in resources.sorted(by: { $0.key < $1.key }) {
                guard let inventory = inventories[resourceClass] else {
                    throw PlacementFault.conflict(
                        "Unable to allocate inventory: Inventory for '\(resourceClass)' on resource provider '\(uuid)' invalid.")
                }
                for consumer in consumers {
                    for allocation in consumer.allocations where allocation.providerUUID == uuid {
                        if let single = allocation.resources[resourceClass], !inventory.permits(single) {
                            throw PlacementFault.conflict(
                                "Unable to allocate inventory: Unable to create allocation for '\(resourceClass)' on resource provider '\(uuid)'. The requested amount would violate inventory constraints.")
                        }
                    }
                }
                let used = usage[resourceClass] ?? 0
                if used + amount > inventory.capacity {
                    throw PlacementFault.conflict(
                        "Unable to allocate inventory: Unable to create allocation for '\(resourceClass)' on resource provider '\(uuid)'. The requested amount would exceed the capacity.")
                }
                usage[resourceClass] = used + amount
            }
            outcome.newUsage[uuid] = (0, usage)
        }

        let now = Clock.now()
        var rows: [SQLQueryString] = []
        for consumer in consumers {
            for allocation in consumer.allocations {
                for (resourceClass, amount) in allocation.resources.sorted(by: { $0.key < $1.key }) {
                    rows.append("(\(bind: consumer.consumerUUID), \(bind: allocation.providerUUID), \(bind: resourceClass), \(bind: amount), \(bind: now))")
                }
            }
        }
        if !rows.isEmpty {
            var insert: SQLQueryString = "INSERT INTO placement_allocations (consumer_uuid, provider_uuid, resource_class, used, created_at) VALUES "
            for (i, row) in rows.enumerated() { insert = insert + (i == 0 ? "" : ", ") + row }
            do {
                try await tx.sql.raw(insert).run()
            } catch where Storage.isUniqueViolation(error) {
                // Only possible when a consumer said "new" but already holds allocations.
                throw PlacementFault.concurrentUpdate("consumer generation conflict - expected null but the consumer exists")
            }
        }
        for consumer in consumers { try await saveConsumer(consumer, exists: existing.contains(consumer.consumerUUID), in: tx) }
        for uuid in touched.sorted() {
            guard let new = try await tx.bumpGeneration(table: "placement_providers", keyColumn: "uuid", key: uuid, expected: generations[uuid]!) else {
                throw PlacementFault.concurrentUpdate(Self.retryMarker + uuid)
            }
            if outcome.newUsage[uuid] != nil { outcome.newUsage[uuid]!.generation = new } else { outcome.refreshOnly.insert(uuid) }
        }
        return outcome
    }

    private func missingProvider(_ uuid: String, _ consumers: [String]) -> StratusError {
        PlacementFault.badRequest(
            "Unable to allocate inventory for consumer \(consumers.joined(separator: ", ")): Allocation for resource provider '\(uuid)' that does not exist.")
    }

    private func readInventories(_ rows: [any SQLRow], into inventories: inout [String: Inventory], usage: inout [String: Int]) throws {
        for row in rows {
            guard let resourceClass = try row.decode(column: "resource_class", as: String?.self) else { continue }
            inventories[resourceClass] = try Self.inventory(row)
            let used = try row.decode(column: "used_now", as: Int.self)
            if used > 0 { usage[resourceClass] = used }
        }
    }

    /// Checks the caller's idea of the consumer generation; returns whether the consumer exists.
    private func checkConsumerGeneration(_ consumer: ConsumerAllocations, in tx: Transaction) async throws -> Bool {
        // A new consumer needs no read: inserting its row fails if it exists after all (see saveConsumer).
        if consumer.expectedGeneration == .newConsumer { return false }
        let row = try await tx.sql.raw("SELECT generation FROM placement_consumers WHERE uuid = \(bind: consumer.consumerUUID)").first()
        let current = try row?.decode(column: "generation", as: Int.self)
        switch consumer.expectedGeneration {
        case .skip: return current != nil
        case .newConsumer:
            if let current {
                throw PlacementFault.concurrentUpdate(
                    "consumer generation conflict - expected null but got \(current)")
            }
        case .equals(let expected):
            guard let current else {
                throw PlacementFault.concurrentUpdate(
                    "consumer generation conflict - expected \(expected) but got null")
            }
            if current != expected {
                throw PlacementFault.concurrentUpdate(
                    "consumer generation conflict - expected \(expected) but got \(current)")
            }
        }
        return current != nil
    }

    /// Writes the consumer row (generation + 1), or removes it when it holds nothing any more.
    private func saveConsumer(_ consumer: ConsumerAllocations, exists: Bool, in tx: Transaction) async throws {
        let holdsSomething = consumer.allocations.contains { !$0.resources.isEmpty }
        if !holdsSomething {
            try await tx.sql.raw("DELETE FROM placement_consumers WHERE uuid = \(bind: consumer.consumerUUID)").run()
            return
        }
        let now = Clock.now()
        let updated = !exists ? nil : try await tx.sql.raw(
            """
            UPDATE placement_consumers SET generation = generation + 1, project_id = \(bind: consumer.projectID),
                user_id = \(bind: consumer.userID), consumer_type = \(bind: consumer.consumerType), updated_at = \(bind: now)
            WHERE uuid = \(bind: consumer.consumerUUID) RETURNING generation
            """
        ).first()
        if updated == nil {
            do {
                try await tx.sql.raw(
                    """
                    INSERT INTO placement_consumers (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at)
                    VALUES (\(bind: consumer.consumerUUID), \(bind: consumer.projectID), \(bind: consumer.userID),
                        \(bind: consumer.consumerType), 1, \(bind: now), \(bind: now))
                    """
                ).run()
            } catch where Storage.isUniqueViolation(error) {
                if consumer.expectedGeneration == .newConsumer {
                    throw PlacementFault.concurrentUpdate("consumer generation conflict - expected null but the consumer exists")
                }
                throw PlacementFault.concurrentUpdate(Self.retryMarker + "consumer \(consumer.consumerUUID)")
            }
        }
    }

    /// Removes all of a consumer's allocations (`DELETE /allocations/{consumer}`); 404 if it has none.
    public func deleteAllocations(consumerUUID: String) async throws {
        let exists = try await storage.read { sql in
            try await sql.raw("SELECT 1 AS x FROM placement_allocations WHERE consumer_uuid = \(bind: consumerUUID) LIMIT 1").first() != nil
        }
        guard exists else {
            throw PlacementFault.notFound("No allocations for consumer '\(consumerUUID)'")
        }
        try await replaceAllocations([ConsumerAllocations(consumerUUID: consumerUUID, allocations: [], projectID: "", userID: "")])
    }

    // MARK: Reading

    public func consumer(_ uuid: String) async throws -> ConsumerRecord? {
        try await storage.read { sql in
            guard let row = try await sql.raw("SELECT * FROM placement_consumers WHERE uuid = \(bind: uuid)").first() else { return nil }
            var record = ConsumerRecord(
                uuid: uuid, projectID: try row.decode(column: "project_id", as: String.self),
                userID: try row.decode(column: "user_id", as: String.self),
                consumerType: try row.decode(column: "consumer_type", as: String?.self),
                generation: try row.decode(column: "generation", as: Int.self), allocations: [:])
            for row in try await sql.raw(
                """
                SELECT a.provider_uuid, a.resource_class, a.used, p.generation FROM placement_allocations a
                JOIN placement_providers p ON p.uuid = a.provider_uuid WHERE a.consumer_uuid = \(bind: uuid)
                """
            ).all() {
                let provider = try row.decode(column: "provider_uuid", as: String.self)
                let generation = try row.decode(column: "generation", as: Int.self)
                var entry = record.allocations[provider] ?? (generation, [:])
                entry.resources[try row.decode(column: "resource_class", as: String.self)] = try row.decode(column: "used", as: Int.self)
                record.allocations[provider] = entry
            }
            return record
        }
    }

    /// consumer → resources on one provider.
    public func allocations(onProvider uuid: String) async throws -> (generation: Int, consumers: [String: [String: Int]]) {
        let provider = try await provider(uuid)
        let consumers = try await storage.read { sql in
            var result: [String: [String: Int]] = [:]
            for row in try await sql.raw("SELECT * FROM placement_allocations WHERE provider_uuid = \(bind: uuid)").all() {
                result[try row.decode(column: "consumer_uuid", as: String.self), default: [:]][
                    try row.decode(column: "resource_class", as: String.self)] = try row.decode(column: "used", as: Int.self)
            }
            return result
        }
        return (provider.generation, consumers)
    }

    public func usages(ofProvider uuid: String) async throws -> (generation: Int, usage: [String: Int]) {
        let provider = try await provider(uuid)
        let usage = try await storage.transaction { tx in try await self.usage(of: uuid, in: tx) }
        let classes = try await inventories(uuid: uuid).inventories.keys
        var result = usage
        for resourceClass in classes where result[resourceClass] == nil { result[resourceClass] = 0 }
        return (provider.generation, result)
    }

    /// Usage summed over a project's (and optionally a user's) consumers, grouped by consumer type when asked.
    public func usages(projectID: String, userID: String?, consumerType: String?) async throws -> [String: [String: Int]] {
        try await storage.read { sql in
            var query: SQLQueryString = """
                SELECT c.consumer_type, a.resource_class, CAST(SUM(a.used) AS BIGINT) AS used, COUNT(DISTINCT c.uuid) AS consumers
                FROM placement_allocations a JOIN placement_consumers c ON c.uuid = a.consumer_uuid
                WHERE c.project_id = \(bind: projectID)
                """
            if let userID { query = query + " AND c.user_id = \(bind: userID)" }
            query = query + " GROUP BY c.consumer_type, a.resource_class"
            var result: [String: [String: Int]] = [:]
            for row in try await sql.raw(query).all() {
                let type = try row.decode(column: "consumer_type", as: String?.self) ?? "unknown"
                if let consumerType, consumerType != "all", consumerType != type { continue }
                result[type, default: [:]][try row.decode(column: "resource_class", as: String.self), default: 0]
                    += try row.decode(column: "used", as: Int.self)
            }
            return result
        }
    }

    /// Consumer counts per consumer type for a project (1.38 `consumer_count`).
    public func consumerCounts(projectID: String, userID: String?) async throws -> [String: Int] {
        try await storage.read { sql in
            var query: SQLQueryString = "SELECT consumer_type, COUNT(*) AS n FROM placement_consumers WHERE project_id = \(bind: projectID)"
            if let userID { query = query + " AND user_id = \(bind: userID)" }
            query = query + " GROUP BY consumer_type"
            var result: [String: Int] = [:]
            for row in try await sql.raw(query).all() {
                result[try row.decode(column: "consumer_type", as: String?.self) ?? "unknown"] = try row.decode(column: "n", as: Int.self)
            }
            return result
        }
    }

    static func bindList(_ values: [String]) -> SQLQueryString {
        var list = SQLQueryString("")
        for (i, value) in values.enumerated() {
            if i > 0 { list.appendLiteral(", ") }
            list.appendInterpolation(bind: value)
        }
        return list
    }
}
