import Foundation
import StratusCore
import StratusPlacement
import StratusStorage
import StratusTesting
import Testing

/// A store on a fresh database; with `batching`, its claim batcher runs for the duration.
func withPlacement<T: Sendable>(batching: Bool = false, _ body: @Sendable (PlacementStore) async throws -> T) async throws -> T {
    try await TestDatabase.withStorage(migrations: PlacementSchema.migrations, maxConnections: 24) { storage in
        let store = PlacementStore(storage: storage, batching: batching)
        try await store.loadIndex()
        guard let batcher = store.batcher else { return try await body(store) }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await batcher.run(); return nil }
            try await Task.sleep(for: .milliseconds(20))
            let result = try await body(store)
            group.cancelAll()
            return result
        }
    }
}

func makeProvider(_ store: PlacementStore, vcpu: Int, memory: Int = 0, name: String? = nil, parent: String? = nil) async throws -> String {
    let uuid = Identifier.uuid()
    _ = try await store.createProvider(uuid: uuid, name: name ?? "rp-\(uuid.prefix(8))", parentUUID: parent)
    var inventories: [String: Inventory] = ["VCPU": Inventory(total: vcpu)]
    if memory > 0 { inventories["MEMORY_MB"] = Inventory(total: memory) }
    _ = try await store.setInventories(uuid: uuid, generation: 0, inventories, reservedMayEqualTotal: true)
    return uuid
}

func claim(_ store: PlacementStore, _ provider: String, vcpu: Int, consumer: String = Identifier.uuid()) async -> Bool {
    do {
        try await store.replaceAllocations([ConsumerAllocations(
            consumerUUID: consumer, allocations: [ProviderAllocation(providerUUID: provider, resources: ["VCPU": vcpu])],
            projectID: "p", userID: "u", expectedGeneration: .newConsumer)])
        return true
    } catch {
        return false
    }
}

@Suite("Placement claims under concurrency")
struct ClaimRaceTests {
    @Test("20 simultaneous claims against room for 5 succeed exactly 5 times, 100 rounds", arguments: [false, true])
    func exactClaims(batching: Bool) async throws {
        try await withPlacement(batching: batching) { store in
            for round in 0..<100 {
                let provider = try await makeProvider(store, vcpu: 5)
                let wins = await withTaskGroup(of: Bool.self) { group in
                    for _ in 0..<20 { group.addTask { await claim(store, provider, vcpu: 1) } }
                    return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(wins == 5, "round \(round)")
                let usage = try await store.usages(ofProvider: provider).usage
                #expect(usage["VCPU"] == 5)
                #expect(store.index.snapshot(provider)?.used("VCPU") == 5, "the index agrees with the database")
            }
        }
    }

    @Test("a randomized mix of claims, moves, deletes and inventory changes never exceeds capacity", arguments: [false, true])
    func randomizedMix(batching: Bool) async throws {
        try await withPlacement(batching: batching) { store in
            var providers: [String] = []
            for _ in 0..<4 { providers.append(try await makeProvider(store, vcpu: 8, memory: 4096)) }
            let consumers = (0..<24).map { _ in Identifier.uuid() }
            let providerList = providers
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<12 {
                    group.addTask {
                        var rng = SystemRandomNumberGenerator()
                        for step in 0..<40 {
                            let consumer = consumers[(worker * 7 + step) % consumers.count]
                            let a = providerList.randomElement(using: &rng)!
                            let b = providerList.randomElement(using: &rng)!
                            switch Int.random(in: 0..<10, using: &rng) {
                            case 0..<4:
                                _ = try? await store.replaceAllocations([ConsumerAllocations(
                                    consumerUUID: consumer,
                                    allocations: [ProviderAllocation(providerUUID: a, resources: ["VCPU": Int.random(in: 1...3), "MEMORY_MB": 512])],
                                    projectID: "p", userID: "u")])
                            case 4..<6:
                                // a move: one consumer's allocation moves to another provider, a second one appears
                                _ = try? await store.replaceAllocations([
                                    ConsumerAllocations(consumerUUID: consumer, allocations: [ProviderAllocation(providerUUID: b, resources: ["VCPU": 2])], projectID: "p", userID: "u"),
                                    ConsumerAllocations(consumerUUID: consumers[(worker + step + 1) % consumers.count], allocations: [ProviderAllocation(providerUUID: a, resources: ["VCPU": 1])], projectID: "p", userID: "u"),
                                ])
                            case 6..<8:
                                _ = try? await store.deleteAllocations(consumerUUID: consumer)
                            default:
                                if let current = try? await store.inventories(uuid: a) {
                                    _ = try? await store.setInventories(
                                        uuid: a, generation: current.generation,
                                        ["VCPU": Inventory(total: Int.random(in: 4...10, using: &rng)), "MEMORY_MB": Inventory(total: 4096)],
                                        reservedMayEqualTotal: true)
                                }
                            }
                        }
                    }
                }
            }
            for provider in providers {
                let inventories = try await store.inventories(uuid: provider).inventories
                let usage = try await store.usages(ofProvider: provider).usage
                let allocations = try await store.allocations(onProvider: provider).consumers
                for (resourceClass, used) in usage {
                    #expect(used <= inventories[resourceClass]?.capacity ?? 0, "\(resourceClass) over capacity")
                    #expect(used == allocations.values.reduce(0) { $0 + ($1[resourceClass] ?? 0) }, "usage is the sum of allocations")
                    #expect(store.index.snapshot(provider)?.used(resourceClass) == used, "index agrees")
                }
            }
        }
    }

    @Test("consumer generations: a stale writer gets 409 concurrent_update", arguments: [false, true])
    func consumerGeneration(batching: Bool) async throws {
        try await withPlacement(batching: batching) { store in
            let provider = try await makeProvider(store, vcpu: 4)
            let consumer = Identifier.uuid()
            #expect(await claim(store, provider, vcpu: 1, consumer: consumer))
            #expect(await !claim(store, provider, vcpu: 1, consumer: consumer), "expected new, but it exists")
            let record = try #require(try await store.consumer(consumer))
            #expect(record.generation == 1)
            do {
                try await store.replaceAllocations([ConsumerAllocations(
                    consumerUUID: consumer, allocations: [ProviderAllocation(providerUUID: provider, resources: ["VCPU": 2])],
                    projectID: "p", userID: "u", expectedGeneration: .equals(0))])
                Issue.record("stale generation accepted")
            } catch let error as StratusError {
                #expect(error.code.faultName == "placement.concurrent_update")
                #expect(error.message.contains("expected 0 but got 1"))
            }
        }
    }
}
