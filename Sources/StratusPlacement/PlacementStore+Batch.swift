import SQLKit
import StratusCore
import StratusStorage

extension PlacementStore {
    /// Claims several independent requests in one transaction ("group commit"). Each request stays all-or-nothing
    /// and is checked in arrival order against the state the earlier ones left, exactly as if they had run one after
    /// another; the batch only shares the reads, the writes and the commit. Returns one result per request.
    /// Throws only if the transaction itself fails; the caller then runs the requests one by one.
    func claimBatch(_ requests: [[ConsumerAllocations]]) async throws -> [Result<Void, StratusError>] {
        let (results, snapshot) = try await storage.transaction { tx -> ([Result<Void, StratusError>], BatchState) in
            var state = try await BatchState.load(requests, in: tx)
            var results: [Result<Void, StratusError>] = []
            for request in requests {
                do {
                    try state.apply(request)
                    results.append(.success(()))
                } catch let error as StratusError {
                    results.append(.failure(error))
                }
            }
            try await state.write(in: tx)
            return (results, state)
        }
        // The batch read every provider it names under lock: written ones move on by one generation; the others
        // (a claim refused for lack of room) show whether this process's view was behind, so the next
        // decision does not pick the same full host again.
        var stale: Set<String> = []
        for (uuid, generation) in snapshot.generations {
            if snapshot.touched.contains(uuid) {
                if !index.applyUsage(uuid, after: generation, generation: generation + 1, usage: snapshot.usage[uuid] ?? [:]) { stale.insert(uuid) }
            } else if index.isBehind(uuid, generation) {
                stale.insert(uuid)
            }
        }
        if !stale.isEmpty { try await refresh(stale) }
        return results
    }
}

/// The working state of one claim batch: read once, updated request by request, written once.
struct BatchState: Sendable {
    var generations: [String: Int] = [:]
    var inventories: [String: [String: Inventory]] = [:]
    var usage: [String: [String: Int]] = [:]
    /// consumer → generation at the start (nil: did not exist)
    var initialConsumers: [String: Int] = [:]
    /// consumer → current generation in this batch (nil: does not exist now)
    var consumers: [String: Int?] = [:]
    var allocations: [String: [ProviderAllocation]] = [:]
    var details: [String: ConsumerAllocations] = [:]
    var changedConsumers: Set<String> = []
    var touched: Set<String> = []

    static func load(_ requests: [[ConsumerAllocations]], in tx: Transaction) async throws -> BatchState {
        var state = BatchState()
        let consumerIDs = Array(Set(requests.flatMap { $0.map(\.consumerUUID) })).sorted()
        let (consumers, held) = try await readConsumers(consumerIDs, in: tx)
        state.initialConsumers = consumers
        for id in consumerIDs { state.consumers[id] = state.initialConsumers[id] }
        state.allocations = held.mapValues { byProvider in
            byProvider.map { ProviderAllocation(providerUUID: $0.key, resources: $0.value) }.sorted { $0.providerUUID < $1.providerUUID }
        }
        var providers = Set(requests.flatMap { $0.flatMap { $0.allocations.map(\.providerUUID) } })
        providers.formUnion(held.values.flatMap(\.keys))
        // `IN ()` is not SQL: a request that only empties new consumers touches no provider.
        guard !providers.isEmpty else { return state }
        let providerList = PlacementStore.bindList(providers.sorted())
        let lock: SQLQueryString = tx.engine == .postgresql ? " ORDER BY uuid FOR UPDATE" : ""
        for row in try await tx.sql.raw("SELECT uuid, generation FROM placement_providers WHERE uuid IN (" + providerList + ")" + lock).all() {
            state.generations[try row.decode(column: "uuid", as: String.self)] = try row.decode(column: "generation", as: Int.self)
        }
        // The consumers were read before their providers were locked. At READ COMMITTED another claim for the same
        // consumer may have committed in between (moving it elsewhere): then the usage read below would already
        // lack the allocations we are about to subtract. Read again under the locks; if anything moved, start over.
        if tx.engine == .postgresql, try await readConsumers(consumerIDs, in: tx) != (consumers, held) {
            throw PlacementFault.concurrentUpdate(PlacementStore.retryMarker + "consumer changed while its providers were locked")
        }
        for row in try await tx.sql.raw("SELECT * FROM placement_inventories WHERE provider_uuid IN (" + providerList + ")").all() {
            state.inventories[try row.decode(column: "provider_uuid", as: String.self), default: [:]][
                try row.decode(column: "resource_class", as: String.self)] = try PlacementStore.inventory(row)
        }
        for row in try await tx.sql.raw(
            "SELECT provider_uuid, resource_class, CAST(SUM(used) AS BIGINT) AS used FROM placement_allocations WHERE provider_uuid IN ("
                + providerList + ") GROUP BY provider_uuid, resource_class"
        ).all() {
            state.usage[try row.decode(column: "provider_uuid", as: String.self), default: [:]][
                try row.decode(column: "resource_class", as: String.self)] = try row.decode(column: "used", as: Int.self)
        }
        return state
    }

    /// Consumer generations and their allocations (consumer → provider → class → amount).
    static func readConsumers(_ ids: [String], in tx: Transaction) async throws
        -> ([String: Int], [String: [String: [String: Int]]])
    {
        var generations: [String: Int] = [:]
        for row in try await tx.sql.raw(
            "SELECT uuid, generation FROM placement_consumers WHERE uuid IN (" + PlacementStore.bindList(ids) + ")"
        ).all() {
            generations[try row.decode(column: "uuid", as: String.self)] = try row.decode(column: "generation", as: Int.self)
        }
        var allocations: [String: [String: [String: Int]]] = [:]
        for row in try await tx.sql.raw(
            "SELECT consumer_uuid, provider_uuid, resource_class, used FROM placement_allocations WHERE consumer_uuid IN ("
                + PlacementStore.bindList(ids) + ")"
        ).all() {
            allocations[try row.decode(column: "consumer_uuid", as: String.self), default: [:]][
                try row.decode(column: "provider_uuid", as: String.self), default: [:]][
                try row.decode(column: "resource_class", as: String.self)] = try row.decode(column: "used", as: Int.self)
        }
        return (generations, allocations)
    }

    /// Checks one request against the current state and, if it fits, applies it. Throws the same faults as the
    /// one-at-a-time path, leaving the state untouched.
    mutating func apply(_ request: [ConsumerAllocations]) throws {
        var next = self
        for consumer in request {
            let current = next.consumers[consumer.consumerUUID] ?? nil
            switch consumer.expectedGeneration {
            case .skip: break
            case .newConsumer:
                if let current { throw PlacementFault.concurrentUpdate("consumer generation conflict - expected null but got \(current)") }
            case .equals(let expected):
                guard let current else { throw PlacementFault.concurrentUpdate("consumer generation conflict - expected \(expected) but got null") }
                if current != expected {
                    throw PlacementFault.concurrentUpdate("consumer generation conflict - expected \(expected) but got \(current)")
                }
            }
            for old in next.allocations[consumer.consumerUUID] ?? [] {
                for (resourceClass, amount) in old.resources { next.usage[old.providerUUID, default: [:]][resourceClass, default: 0] -= amount }
                next.touched.insert(old.providerUUID)
            }
            for allocation in consumer.allocations {
                let uuid = allocation.providerUUID
                guard next.generations[uuid] != nil else {
                    throw PlacementFault.badRequest(
                        "Unable to allocate inventory for consumer \(consumer.consumerUUID): Allocation for resource provider '\(uuid)' that does not exist.")
                }
                for (resourceClass, amount) in allocation.resources {
                    guard let inventory = next.inventories[uuid]?[resourceClass] else {
                        throw PlacementFault.conflict(
                            "Unable to allocate inventory: Inventory for '\(resourceClass)' on resource provider '\(uuid)' invalid.")
                    }
                    if !inventory.permits(amount) {
                        throw PlacementFault.conflict(
                            "Unable to allocate inventory: Unable to create allocation for '\(resourceClass)' on resource provider '\(uuid)'. The requested amount would violate inventory constraints.")
                    }
                    next.usage[uuid, default: [:]][resourceClass, default: 0] += amount
                }
                next.touched.insert(uuid)
            }
            let holds = consumer.allocations.contains { !$0.resources.isEmpty }
            next.allocations[consumer.consumerUUID] = holds ? consumer.allocations : []
            next.consumers[consumer.consumerUUID] = holds ? .some((current ?? 0) + 1) : .some(nil)
            next.details[consumer.consumerUUID] = consumer
            next.changedConsumers.insert(consumer.consumerUUID)
        }
        // Capacity is checked once the whole request is applied, so a move within one provider is not double-counted.
        for consumer in request {
            for allocation in consumer.allocations {
                let uuid = allocation.providerUUID
                for resourceClass in allocation.resources.keys.sorted() {
                    let inventory = next.inventories[uuid]![resourceClass]!
                    if (next.usage[uuid]?[resourceClass] ?? 0) > inventory.capacity {
                        throw PlacementFault.conflict(
                            "Unable to allocate inventory: Unable to create allocation for '\(resourceClass)' on resource provider '\(uuid)'. The requested amount would exceed the capacity.")
                    }
                }
            }
        }
        self = next
    }

    /// Writes every applied request: allocations, consumers and one generation bump per touched provider.
    func write(in tx: Transaction) async throws {
        guard !changedConsumers.isEmpty else { return }
        let changed = changedConsumers.sorted()
        do {
            try await writeRows(changed, in: tx)
        } catch where Storage.isUniqueViolation(error) {
            // Another process created one of these consumers since we read them: start again from a fresh read.
            throw PlacementFault.concurrentUpdate(PlacementStore.retryMarker + "consumer created concurrently")
        }
        for uuid in touched.sorted() {
            // Compare-and-swap: the rows are locked (FOR UPDATE, or SQLite's single writer), so this only fails if
            // something bypassed the lock — then the caller retries from a fresh read.
            guard try await bump(uuid, in: tx) else {
                throw PlacementFault.concurrentUpdate(PlacementStore.retryMarker + uuid)
            }
        }
    }

    /// Moves a touched provider on by one generation. On PostgreSQL the same statement announces the provider's
    /// new usage to the other processes (`UsageNotice`), so their indexes follow a claim without reading it back.
    private func bump(_ uuid: String, in tx: Transaction) async throws -> Bool {
        let expected = generations[uuid]!
        guard tx.engine == .postgresql else {
            return try await tx.bumpGeneration(table: "placement_providers", keyColumn: "uuid", key: uuid, expected: expected) != nil
        }
        let notice = UsageNotice(provider: uuid, generation: expected + 1, usage: usage[uuid] ?? [:])
        return try await tx.sql.raw(
            """
            UPDATE placement_providers SET generation = generation + 1 WHERE uuid = \(bind: uuid) AND generation = \(bind: expected)
            RETURNING generation, pg_notify(\(bind: PlacementSchema.changeChannel), \(bind: notice.payload))
            """
        ).first() != nil
    }

    private func writeRows(_ changed: [String], in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM placement_allocations WHERE consumer_uuid IN (" + PlacementStore.bindList(changed) + ")").run()
        let now = Clock.now()
        var rows: [SQLQueryString] = []
        for consumer in changed {
            for allocation in allocations[consumer] ?? [] {
                for (resourceClass, amount) in allocation.resources.sorted(by: { $0.key < $1.key }) {
                    rows.append("(\(bind: consumer), \(bind: allocation.providerUUID), \(bind: resourceClass), \(bind: amount), \(bind: now))")
                }
            }
        }
        for chunk in stride(from: 0, to: rows.count, by: 200) {
            var insert: SQLQueryString = "INSERT INTO placement_allocations (consumer_uuid, provider_uuid, resource_class, used, created_at) VALUES "
            for (i, row) in rows[chunk..<min(chunk + 200, rows.count)].enumerated() { insert = insert + (i == 0 ? "" : ", ") + row }
            try await tx.sql.raw(insert).run()
        }
        // Consumers are changed and removed only at the generation this batch read. The provider locks do not cover
        // a consumer's own compare-and-set (`confirmConsumer`), which a workflow commits without touching providers:
        // a claim that read the consumer before such a confirm must start again, never overwrite its generation.
        let gone = changed.filter { (consumers[$0] ?? nil) == nil && initialConsumers[$0] != nil }
        // In chunks: each consumer is one more OR, and SQLite refuses expressions nested deeper than 1000.
        for start in stride(from: 0, to: gone.count, by: 100) {
            let chunk = gone[start..<min(start + 100, gone.count)]
            var delete: SQLQueryString = "DELETE FROM placement_consumers WHERE "
            for (i, consumer) in chunk.enumerated() {
                delete = delete + (i == 0 ? "" : " OR ") + "(uuid = \(bind: consumer) AND generation = \(bind: initialConsumers[consumer]!))"
            }
            guard try await tx.sql.raw(delete + " RETURNING uuid").all().count == chunk.count else {
                throw PlacementFault.concurrentUpdate(PlacementStore.retryMarker + "consumer confirmed concurrently")
            }
        }
        var newRows: [SQLQueryString] = []
        for consumer in changed {
            guard let generation = consumers[consumer] ?? nil, let detail = details[consumer] else { continue }
            if let initial = initialConsumers[consumer] {
                let updated = try await tx.sql.raw(
                    """
                    UPDATE placement_consumers SET generation = \(bind: generation), project_id = \(bind: detail.projectID),
                        user_id = \(bind: detail.userID), consumer_type = \(bind: detail.consumerType), updated_at = \(bind: now)
                    WHERE uuid = \(bind: consumer) AND generation = \(bind: initial) RETURNING uuid
                    """
                ).first()
                guard updated != nil else {
                    throw PlacementFault.concurrentUpdate(PlacementStore.retryMarker + "consumer confirmed concurrently")
                }
            } else {
                newRows.append("(\(bind: consumer), \(bind: detail.projectID), \(bind: detail.userID), \(bind: detail.consumerType), \(bind: generation), \(bind: now), \(bind: now))")
            }
        }
        for chunk in stride(from: 0, to: newRows.count, by: 200) {
            var insert: SQLQueryString = "INSERT INTO placement_consumers (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at) VALUES "
            for (i, row) in newRows[chunk..<min(chunk + 200, newRows.count)].enumerated() { insert = insert + (i == 0 ? "" : ", ") + row }
            try await tx.sql.raw(insert).run()
        }
    }
}
