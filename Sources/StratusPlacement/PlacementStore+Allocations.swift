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
                // A batch of one: the same reads, checks and writes as group commit, so there is one claim algorithm.
                try await claimBatch([consumers])[0].get()
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

    /// A consumer's generation; nil when it holds nothing (Placement keeps no consumer without allocations).
    public func consumerGeneration(_ uuid: String) async throws -> Int? {
        try await storage.read { sql in
            try await sql.raw("SELECT generation FROM placement_consumers WHERE uuid = \(bind: uuid)").first()?
                .decode(column: "generation", as: Int.self)
        }
    }

    /// Compare-and-set of a consumer's generation in the caller's transaction: true if it still was `expected`
    /// (it is one more now). A workflow that claimed for a consumer calls this where it records the claim's use, so
    /// a later claim for the same consumer (a duplicate of that workflow) makes exactly one of the two lose.
    public func confirmConsumer(_ uuid: String, generation expected: Int, in tx: Transaction) async throws -> Bool {
        try await tx.bumpGeneration(table: "placement_consumers", keyColumn: "uuid", key: uuid, expected: expected) != nil
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
