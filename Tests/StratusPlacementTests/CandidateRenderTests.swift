import StratusAPI
import StratusCore
import StratusPlacement
import StratusTesting
import Testing

@Suite("Allocation candidate rendering")
struct CandidateRenderTests {
    @Test("the byte writer produces exactly the JSON of the value renderer", arguments: ["1.10", "1.17", "1.27", "1.29", "1.34", "1.39"])
    func byteWriterMatches(version: String) async throws {
        try await withPlacement { store in
            let root = try await makeProvider(store, vcpu: 8, memory: 1024, name: "root")
            _ = try await makeProvider(store, vcpu: 4, name: "child", parent: root)
            _ = try await makeProvider(store, vcpu: 2, memory: 512, name: "flat \"quoted\"")
            var query = CandidateQuery()
            var group = RequestGroup(suffix: "")
            group.resources = ["VCPU": 1]
            query.groups = [group]
            let state = store.index.current()
            let result = CandidateSearch(state: state, query: query).run()
            #expect(result.requests.count >= 2)
            let api = PlacementAPI(store: store, bodyLimit: 1024, randomizeCandidates: false, baseURL: { "" })
            let microversion = try #require(Microversion(parsing: version))
            let bytes = api.renderBytes(result, query, microversion, state: state)
            let parsed = try JSON.parse(String(decoding: bytes, as: UTF8.self))
            #expect(parsed == api.render(result, query, microversion))
        }
    }
}
