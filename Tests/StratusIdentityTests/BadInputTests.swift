import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Bad input to the identity API")
struct BadInputTests {
    @Test("malformed or mistyped bodies get 400 naming the problem", arguments: [
        ("{not json", "not valid JSON"),
        ("[1,2]", "expected a JSON object"),
        ("{}", "'auth' is a required property"),
        (#"{"auth": {"identity": {"methods": ["password"]}}}"#, "auth/identity/password"),
        (#"{"auth": {"identity": {"methods": "password"}}}"#, "auth/identity/methods"),
        (#"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": 5, "domain": {"id": "default"}}}}}}"#, "expected a string"),
        (#"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "x"}}}}}"#, "needs its domain"),
        (#"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"password": "x"}}}}}"#, "either 'id' or 'name'"),
    ])
    func malformedAuth(body: String, expected: String) async throws {
        try await CloudFixture.withCloud { cloud in
            let reply = try await TestHTTP(baseURL: cloud.baseURL).request(
                "POST", "/identity/v3/auth/tokens", rawBody: Data(body.utf8))
            #expect(reply.status == 400)
            let message = reply.json["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains(expected), "message was: \(message)")
        }
    }

    @Test("a body over the configured limit is refused with 413")
    func tooLarge() async throws {
        try await CloudFixture.withCloud(extraConfig: "[oslo_middleware]\nmax_request_body_size = 2048") { cloud in
            let big = #"{"auth": {"x": ""# + String(repeating: "a", count: 5000) + #""}}"#
            let reply = try await TestHTTP(baseURL: cloud.baseURL).request(
                "POST", "/identity/v3/auth/tokens", rawBody: Data(big.utf8))
            #expect(reply.status == 413)
        }
    }

    @Test("unknown routes are 404 in the fault format, with a request id")
    func unknownRoute() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let compute = try await http.request("GET", "/compute/v2.1/nothing")
            #expect(compute.status == 404)
            #expect(compute.json["itemNotFound"]?["code"] == 404)
            let identity = try await http.request("GET", "/identity/v3/nothing")
            #expect(identity.json["error"]?["code"] == 404)
            #expect(identity.header("X-OpenStack-Request-Id") != nil)
        }
    }

    @Test("a well-formed incoming request id is kept; a malformed one is replaced")
    func requestIDs() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let mine = "req-" + UUID().uuidString.lowercased()
            let kept = try await http.request("GET", "/identity/v3", headers: ["X-OpenStack-Request-Id": mine])
            #expect(kept.header("X-OpenStack-Request-Id") == mine)
            let replaced = try await http.request("GET", "/identity/v3", headers: ["X-OpenStack-Request-Id": "evil\nid"])
            #expect(replaced.header("X-OpenStack-Request-Id")?.hasPrefix("req-") == true)
            #expect(replaced.header("X-OpenStack-Request-Id") != "evil\nid")
        }
    }

    @Test("version documents at /identity and /identity/v3")
    func versions() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let root = try await http.request("GET", "/identity")
            #expect(root.status == 300)
            #expect(root.json["versions"]?["values"]?.arrayValue?.first?["id"] == "v3.14")
            let v3 = try await http.request("GET", "/identity/v3/")
            #expect(v3.status == 200)
            #expect(v3.json["version"]?["links"]?.arrayValue?.first?["href"]?.stringValue == cloud.authURL + "/v3/")
        }
    }
}
