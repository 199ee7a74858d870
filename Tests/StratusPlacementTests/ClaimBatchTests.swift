import StratusCore
@testable import StratusPlacement
import StratusTesting
import Testing

@Suite("Claim batches (group commit)")
struct ClaimBatchTests {
    @Test("each request in a batch is judged in order against what the earlier ones left")
    func requestsJudgedInOrder() async throws {
        try await withPlacement { store in
            let provider = try await makeProvider(store, vcpu: 4)
            let a = Identifier.uuid(), b = Identifier.uuid(), c = Identifier.uuid()
            func request(_ consumer: String, _ vcpu: Int, _ check: ConsumerAllocations.GenerationCheck = .newConsumer) -> [ConsumerAllocations] {
                [ConsumerAllocations(consumerUUID: consumer, allocations: [ProviderAllocation(providerUUID: provider, resources: ["VCPU": vcpu])],
                                     projectID: "p", userID: "u", expectedGeneration: check)]
            }
            let results = try await store.claimBatch([
                request(a, 3),            // fits: 3 of 4
                request(b, 2),            // would make 5: refused
                request(a, 1, .equals(1)), // a shrinks from 3 to 1, judged after the first: fits
                request(b, 2),            // now 1 + 2 = 3: fits
                request(c, 1, .equals(7)), // stale generation: refused
            ])
            let outcomes = results.map { result -> String in
                switch result {
                case .success: return "ok"
                case .failure(let error): return error.code.faultName
                }
            }
            #expect(outcomes == ["ok", "placement.undefined_code", "ok", "ok", "placement.concurrent_update"])
            let usage = try await store.usages(ofProvider: provider).usage
            #expect(usage["VCPU"] == 3)
            #expect(store.index.snapshot(provider)?.used("VCPU") == 3)
            #expect(try await store.consumer(a)?.generation == 2)
            #expect(try await store.consumer(c) == nil)
        }
    }
}
