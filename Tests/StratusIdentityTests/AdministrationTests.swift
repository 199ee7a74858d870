import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Identity administration over HTTP")
struct AdministrationTests {
    @Test("admin creates a project and user, grants a role; the user then logs in to that project")
    func createAndGrant() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            let project = try await http.request("POST", "/identity/v3/projects", token: admin, json: ["project": ["name": "web"]])
            #expect(project.status == 201)
            let projectID = try #require(project.json["project"]?["id"]?.stringValue)
            let user = try await http.request(
                "POST", "/identity/v3/users", token: admin, json: ["user": ["name": "carol", "password": "s3cret"]])
            #expect(user.status == 201)
            let userID = try #require(user.json["user"]?["id"]?.stringValue)
            let roles = try await http.request("GET", "/identity/v3/roles?name=member", token: admin)
            let roleID = try #require(roles.json["roles"]?.arrayValue?.first?["id"]?.stringValue)

            let denied = try await http.request("POST", "/identity/v3/auth/tokens", json: TestHTTP.authBody(user: "carol", password: "s3cret", project: "web"))
            #expect(denied.status == 401, "no role yet")
            let grant = try await http.request("PUT", "/identity/v3/projects/\(projectID)/users/\(userID)/roles/\(roleID)", token: admin)
            #expect(grant.status == 204)
            let carol = try await http.token(user: "carol", password: "s3cret", project: "web")
            let mine = try await http.request("GET", "/identity/v3/users/\(userID)", token: carol)
            #expect(mine.status == 200)

            // removing the grant revokes carol's token on that project at once
            let ungrant = try await http.request("DELETE", "/identity/v3/projects/\(projectID)/users/\(userID)/roles/\(roleID)", token: admin)
            #expect(ungrant.status == 204)
            #expect(try await http.request("GET", "/identity/v3/users/\(userID)", token: carol).status == 401)
        }
    }

    @Test("duplicates are 409 Conflict in Keystone's words")
    func duplicates() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            let again = try await http.request("POST", "/identity/v3/users", token: admin, json: ["user": ["name": "demo", "password": "x"]])
            #expect(again.status == 409)
            #expect(again.json["error"]?["message"]?.stringValue?.contains("Duplicate entry found with name demo") == true)
            let role = try await http.request("POST", "/identity/v3/roles", token: admin, json: ["role": ["name": "admin"]])
            #expect(role.status == 409)
        }
    }

    @Test("members and readers cannot administer, but see themselves")
    func policy() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let list = try await http.request("GET", "/identity/v3/users", token: demo)
            #expect(list.status == 403)
            #expect(list.json["error"]?["title"] == "Forbidden")
            #expect(try await http.request("POST", "/identity/v3/projects", token: demo, json: ["project": ["name": "x"]]).status == 403)
            let me = try await http.request("GET", "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": demo])
            let myID = try #require(me.json["token"]?["user"]?["id"]?.stringValue)
            #expect(try await http.request("GET", "/identity/v3/users/\(myID)", token: demo).status == 200)
            let projects = try await http.request("GET", "/identity/v3/users/\(myID)/projects", token: demo)
            #expect(projects.json["projects"]?.arrayValue?.map { $0["name"] } == ["demo"])
            #expect(try await http.request("GET", "/identity/v3/projects", token: nil).status == 401)
        }
    }

    @Test("bad references and unknown properties are 400; unknown ids are 404")
    func badReferences() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            let badDomain = try await http.request("POST", "/identity/v3/projects", token: admin, json: ["project": ["name": "p", "domain_id": "nope"]])
            #expect(badDomain.status == 400)
            let extra = try await http.request("POST", "/identity/v3/projects", token: admin, json: ["project": ["name": "p", "colour": "red"]])
            #expect(extra.status == 400)
            #expect(extra.json["error"]?["message"]?.stringValue?.contains("'colour' was unexpected") == true)
            let missing = try await http.request("GET", "/identity/v3/users/does-not-exist", token: admin)
            #expect(missing.status == 404)
            #expect(missing.json["error"]?["message"] == "Could not find user: does-not-exist.")
            let grant = try await http.request("PUT", "/identity/v3/projects/x/users/y/roles/z", token: admin)
            #expect(grant.status == 404)
        }
    }

    @Test("changing a password revokes the user's existing tokens")
    func passwordChangeRevokes() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let me = try await http.request("GET", "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": demo])
            let id = try #require(me.json["token"]?["user"]?["id"]?.stringValue)
            try await Task.sleep(for: .milliseconds(5))
            let patch = try await http.request("PATCH", "/identity/v3/users/\(id)", token: admin, json: ["user": ["password": "new-password"]])
            #expect(patch.status == 200)
            #expect(try await http.request("GET", "/identity/v3/users/\(id)", token: demo).status == 401)
            _ = try await http.token(user: "demo", password: "new-password", project: "demo")
        }
    }
}
