import Foundation
import StratusCloud
import StratusCore
import StratusIdentity
import StratusTesting
import Testing

@Suite("Keystone tokens over HTTP")
struct TokenTests {
    @Test("password auth scoped to a project returns a token, roles and a catalog")
    func issueScopedToken() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let reply = try await http.request(
                "POST", "/identity/v3/auth/tokens",
                json: TestHTTP.authBody(user: "admin", password: cloud.credentials.adminPassword, project: "admin"))
            #expect(reply.status == 201)
            #expect(reply.header("X-Subject-Token")?.hasPrefix("s1") == true)
            #expect(reply.header("X-OpenStack-Request-Id")?.hasPrefix("req-") == true)
            let token = reply.json["token"]
            #expect(token?["project"]?["name"] == "admin")
            #expect(token?["user"]?["domain"]?["id"] == "default")
            let roles = token?["roles"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(Set(roles) == ["admin", "member", "reader"], "admin implies member and reader")
            let catalog = token?["catalog"]?.arrayValue ?? []
            #expect(catalog.contains { $0["type"] == "identity" })
            let url = catalog.first?["endpoints"]?.arrayValue?.first?["url"]?.stringValue
            #expect(url == cloud.authURL)
        }
    }

    @Test("unscoped auth has no project, roles or catalog")
    func unscoped() async throws {
        try await CloudFixture.withCloud { cloud in
            var body = TestHTTP.authBody(user: "demo", password: cloud.credentials.demoPassword, project: nil)
            if case .object(var outer) = body, case .object(var auth)? = outer["auth"] {
                auth["scope"] = "unscoped"
                outer["auth"] = .object(auth)
                body = .object(outer)
            }
            let reply = try await TestHTTP(baseURL: cloud.baseURL).request("POST", "/identity/v3/auth/tokens", json: body)
            #expect(reply.status == 201)
            #expect(reply.json["token"]?["project"] == nil)
            #expect(reply.json["token"]?["catalog"] == nil)
        }
    }

    @Test("validate with GET and HEAD; revoke with DELETE, after which the token is refused")
    func validateAndRevoke() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let shown = try await http.request("GET", "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo])
            #expect(shown.status == 200)
            #expect(shown.json["token"]?["user"]?["name"] == "demo")
            #expect(try await http.request("HEAD", "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo]).status == 200)
            // demo may look at its own token but not admin's
            #expect(try await http.request("GET", "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": demo]).status == 200)
            #expect(try await http.request("GET", "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": admin]).status == 403)

            #expect(try await http.request("DELETE", "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo]).status == 204)
            let after = try await http.request("GET", "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": demo])
            #expect(after.status == 404)
            let used = try await http.request("GET", "/identity/v3/auth/catalog", token: demo)
            #expect(used.status == 401)
            #expect(used.json["error"]?["message"]?.stringValue?.contains("revoked") == true)
            // other tokens are untouched
            #expect(try await http.request("GET", "/identity/v3/auth/catalog", token: admin).status == 200)
        }
    }

    @Test("a wrong password is a 401 in Keystone's format with WWW-Authenticate")
    func wrongPassword() async throws {
        try await CloudFixture.withCloud { cloud in
            let reply = try await TestHTTP(baseURL: cloud.baseURL).request(
                "POST", "/identity/v3/auth/tokens", json: TestHTTP.authBody(user: "admin", password: "wrong", project: "admin"))
            #expect(reply.status == 401)
            #expect(reply.json["error"]?["code"] == 401)
            #expect(reply.json["error"]?["title"] == "Unauthorized")
            #expect(reply.header("WWW-Authenticate") == "Keystone uri=\"\(cloud.authURL)\"")
        }
    }

    @Test("unknown user and unknown project are refused with 401, not 500", arguments: ["user", "project"])
    func unknownNames(what: String) async throws {
        try await CloudFixture.withCloud { cloud in
            let body = what == "user"
                ? TestHTTP.authBody(user: "nobody", password: "x", project: "admin")
                : TestHTTP.authBody(user: "admin", password: cloud.credentials.adminPassword, project: "no-such-project")
            let reply = try await TestHTTP(baseURL: cloud.baseURL).request("POST", "/identity/v3/auth/tokens", json: body)
            #expect(reply.status == 401)
            if what == "project" {
                #expect(reply.json["error"]?["message"]?.stringValue?.contains("no-such-project") == true)
            }
        }
    }

    @Test("tampered, foreign and expired tokens are refused with 401")
    func badTokens() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let good = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            var chars = Array(good)
            chars[chars.count / 2] = chars[chars.count / 2] == "A" ? "B" : "A"
            let tampered = String(chars)
            var payload = try await cloud.identity.validate(good)
            payload.expiresAt = Clock.now() - 1
            let expired = try cloud.identity.seal(payload)
            for token in [tampered, "not-a-token", "s1" + String(repeating: "x", count: 80), expired] {
                let reply = try await http.request("GET", "/identity/v3/projects", token: token)
                #expect(reply.status == 401, "token \(token.prefix(12))…")
                #expect(reply.json["error"]?["title"] == "Unauthorized")
            }
            let expiredReply = try await http.request("GET", "/identity/v3/projects", token: expired)
            #expect(expiredReply.json["error"]?["message"]?.stringValue?.contains("expired") == true)
        }
    }
}
