import Foundation
import StratusCore
@testable import StratusPlacement
import StratusStorage
import StratusTesting
import Testing

@Suite("the placement index follows other processes")
struct IndexFollowerTests {
    @Test("a claim's notice carries the provider's usage, and reads back as written")
    func noticeRoundTrip() {
        let notice = UsageNotice(provider: "6f1c-uuid", generation: 12, usage: ["VCPU": 3, "MEMORY_MB": 384, "CUSTOM_X_1": 0])
        #expect(notice.payload == "6f1c-uuid:12:CUSTOM_X_1=0,MEMORY_MB=384,VCPU=3")
        #expect(ProviderNotice(parsing: notice.payload) == .usage(notice))
        #expect(ProviderNotice(parsing: "6f1c-uuid:12:") == .usage(UsageNotice(provider: "6f1c-uuid", generation: 12, usage: [:])))
        #expect(ProviderNotice(parsing: "6f1c-uuid:7") == .changed(provider: "6f1c-uuid", generation: 7))
        #expect(ProviderNotice(parsing: "6f1c-uuid:-1") == .changed(provider: "6f1c-uuid", generation: -1))
        #expect(ProviderNotice(parsing: "6f1c-uuid:x") == nil)
        #expect(ProviderNotice(parsing: "6f1c-uuid:3:VCPU") == nil)
    }

    @Test("claims, releases, inventory changes and a deletion by one process reach another's index",
          .enabled(if: TestDatabase.engine == .postgresql, "notifications cross processes only on PostgreSQL"))
    func followsAnotherProcess() async throws {
        let (url, cleanup) = try await TestDatabase.freshURL()
        defer { Task { await cleanup() } }
        try await Storage.withStorage(url, logger: TestDatabase.logger) { writerStorage in
            try await Migrator.apply(PlacementSchema.migrations, to: writerStorage, logger: TestDatabase.logger)
            try await Storage.withStorage(url, logger: TestDatabase.logger) { followerStorage in
                let writer = PlacementStore(storage: writerStorage)
                let follower = PlacementStore(storage: followerStorage)
                try await writer.loadIndex()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await PlacementIndexFollower(store: follower, logger: TestDatabase.logger).run() }
                    let provider = try await makeProvider(writer, vcpu: 8, memory: 1024)
                    try await expectEventually { follower.index.snapshot(provider)?.inventories["VCPU"]?.total == 8 }
                    var consumers: [String] = []
                    for _ in 0..<3 {
                        let consumer = Identifier.uuid()
                        #expect(await claim(writer, provider, vcpu: 1, consumer: consumer))
                        consumers.append(consumer)
                    }
                    let generation = try await writer.provider(provider).generation
                    try await expectEventually {
                        follower.index.snapshot(provider)?.provider.generation == generation
                            && follower.index.snapshot(provider)?.used("VCPU") == 3
                    }
                    try await writer.deleteAllocations(consumerUUID: consumers[0])
                    try await expectEventually { follower.index.snapshot(provider)?.used("VCPU") == 2 }
                    let current = try await writer.provider(provider).generation
                    _ = try await writer.setInventories(uuid: provider, generation: current, ["VCPU": Inventory(total: 16)], reservedMayEqualTotal: true)
                    try await expectEventually {
                        follower.index.snapshot(provider)?.inventories["VCPU"]?.total == 16
                            && follower.index.snapshot(provider)?.inventories["MEMORY_MB"] == nil
                            && follower.index.snapshot(provider)?.used("VCPU") == 2
                    }
                    for consumer in consumers.dropFirst() { try await writer.deleteAllocations(consumerUUID: consumer) }
                    try await writer.deleteProvider(uuid: provider)
                    try await expectEventually { follower.index.snapshot(provider) == nil }
                    group.cancelAll()
                }
            }
        }
    }
}
