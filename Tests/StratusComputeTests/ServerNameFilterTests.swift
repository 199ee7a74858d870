import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Server name filter: Nova's regular expressions, in linear time")
struct ServerNameFilterTests {
    func names(_ reply: TestHTTP.Reply) -> [String] {
        (reply.json["servers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted()
    }

    @Test("regex semantics, refusals with 400, and hostile patterns answered while other requests go on")
    func filter() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let long = String(repeating: "a", count: 30)
            for name in ["web-1", "web-2", long] { _ = try await client.create(name) }
            func list(_ pattern: String) async throws -> TestHTTP.Reply {
                let query = pattern.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                return try await client.call("GET", "/servers?name=\(query)")
            }
            #expect(names(try await list("^web-\\d$")) == ["web-1", "web-2"])
            #expect(names(try await list("(?i)WEB-2")) == ["web-2"])
            #expect(names(try await list("a{30}")) == [long])
            #expect(try await list("(\\w)\\1").status == 400)
            #expect(try await list("(?=web)").status == 400)
            #expect(try await list("web(").status == 400)

            // The pattern that took 5.9 s per request on a backtracking engine, three times at once, with an
            // unrelated request in between: all are answered.
            let evil = ".*.*.*.*.*.*.*!x"
            let http = TestHTTP(baseURL: cloud.baseURL)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<3 { group.addTask { try await list(evil).status } }
                group.addTask { try await http.request("GET", "/identity/v3").status }
                var statuses: [Int] = []
                for try await status in group { statuses.append(status) }
                #expect(statuses.sorted() == [200, 200, 200, 200])
            }
            #expect(names(try await list(evil)).isEmpty)
        }
    }
}
