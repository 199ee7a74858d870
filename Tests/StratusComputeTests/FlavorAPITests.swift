import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Compute API: versions and flavors")
struct FlavorAPITests {
    func tokens(_ cloud: ReadyCloud) async throws -> (http: TestHTTP, admin: String, demo: String) {
        let http = TestHTTP(baseURL: cloud.baseURL)
        let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
        let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
        return (http, admin, demo)
    }

    @Test("version documents, and microversions by either header with 406 outside 2.1–2.96")
    func versions() async throws {
        try await CloudFixture.withCloud { cloud in
            let (http, admin, _) = try await tokens(cloud)
            let root = try await http.request("GET", "/compute")
            #expect(root.json["versions"]?.arrayValue?.last?["version"] == "2.96")
            #expect(try await http.request("GET", "/compute/v2.1").json["version"]?["min_version"] == "2.1")
            let modern = try await http.request("GET", "/compute/v2.1/flavors", token: admin, headers: ["OpenStack-API-Version": "compute 2.60"])
            #expect(modern.header("OpenStack-API-Version") == "compute 2.60")
            #expect(modern.header("X-OpenStack-Nova-API-Version") == "2.60")
            let legacy = try await http.request("GET", "/compute/v2.1/flavors", token: admin, headers: ["X-OpenStack-Nova-API-Version": "2.40"])
            #expect(legacy.header("OpenStack-API-Version") == "compute 2.40")
            let none = try await http.request("GET", "/compute/v2.1/flavors", token: admin)
            #expect(none.header("OpenStack-API-Version") == "compute 2.1")
            let tooNew = try await http.request("GET", "/compute/v2.1/flavors", token: admin, headers: ["OpenStack-API-Version": "compute 2.200"])
            #expect(tooNew.status == 406)
        }
    }

    @Test("default flavors exist; admin creates, shows, sets extra specs and deletes one; shapes follow the microversion")
    func flavorLifecycle() async throws {
        try await CloudFixture.withCloud { cloud in
            let (http, admin, demo) = try await tokens(cloud)
            let list = try await http.request("GET", "/compute/v2.1/flavors", token: demo)
            #expect(list.json["flavors"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.contains("m1.nano") == true)
            let created = try await http.request("POST", "/compute/v2.1/flavors", token: admin, json: [
                "flavor": ["name": "t1", "ram": 256, "vcpus": 2, "disk": 5, "id": "t1-id"]])
            #expect(created.status == 200)
            #expect(created.json["flavor"]?["swap"] == "", "no swap is \"\" before 2.75")
            let specs = try await http.request("POST", "/compute/v2.1/flavors/t1-id/os-extra_specs", token: admin, json: ["extra_specs": ["hw:cpu_policy": "dedicated"]])
            #expect(specs.status == 200)
            let shown = try await http.request("GET", "/compute/v2.1/flavors/t1-id", token: demo, headers: ["OpenStack-API-Version": "compute 2.75"])
            #expect(shown.json["flavor"]?["extra_specs"]?["hw:cpu_policy"] == "dedicated")
            #expect(shown.json["flavor"]?["swap"] == 0)
            #expect(shown.json["flavor"]?["vcpus"] == 2)
            let duplicate = try await http.request("POST", "/compute/v2.1/flavors", token: admin, json: [
                "flavor": ["name": "t1", "ram": 256, "vcpus": 1, "disk": 1]])
            #expect(duplicate.status == 409)
            #expect(duplicate.json["conflictingRequest"]?["code"] == 409)
            #expect(try await http.request("DELETE", "/compute/v2.1/flavors/t1-id", token: admin).status == 202)
            let gone = try await http.request("GET", "/compute/v2.1/flavors/t1-id", token: admin)
            #expect(gone.status == 404)
            #expect(gone.json["itemNotFound"]?["message"] == "Flavor t1-id could not be found.")
        }
    }

    @Test("bad flavor input is a 400 naming the field; members may not create flavors", arguments: [
        #"{"flavor": {"name": "x", "ram": 0, "vcpus": 1, "disk": 1}}"#,
        #"{"flavor": {"name": "x", "ram": "lots", "vcpus": 1, "disk": 1}}"#,
        #"{"flavor": {"name": " x", "ram": 1, "vcpus": 1, "disk": 1}}"#,
        #"{"flavor": {"name": "x", "ram": 1, "vcpus": 1}}"#,
        #"{"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "colour": "red"}}"#,
        #"{"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": -1}}"#,
        #"{"flavour": {}}"#,
    ])
    func badFlavors(body: String) async throws {
        try await CloudFixture.withCloud { cloud in
            let (http, admin, demo) = try await tokens(cloud)
            let reply = try await http.request("POST", "/compute/v2.1/flavors", token: admin, rawBody: Data(body.utf8))
            #expect(reply.status == 400)
            #expect(reply.json["badRequest"]?["code"] == 400)
            let denied = try await http.request("POST", "/compute/v2.1/flavors", token: demo, json: [
                "flavor": ["name": "y", "ram": 1, "vcpus": 1, "disk": 1]])
            #expect(denied.status == 403)
        }
    }

    @Test("private flavors are visible only to projects given access")
    func privateFlavors() async throws {
        try await CloudFixture.withCloud { cloud in
            let (http, admin, demo) = try await tokens(cloud)
            _ = try await http.request("POST", "/compute/v2.1/flavors", token: admin, json: [
                "flavor": ["name": "secret", "ram": 64, "vcpus": 1, "disk": 0, "id": "s1", "os-flavor-access:is_public": false]])
            func demoSees() async throws -> Bool {
                let list = try await http.request("GET", "/compute/v2.1/flavors", token: demo)
                return list.json["flavors"]?.arrayValue?.contains { $0["id"] == "s1" } == true
            }
            #expect(try await !demoSees())
            let me = try await http.request("GET", "/identity/v3/auth/tokens", token: demo, headers: ["X-Subject-Token": demo])
            let project = try #require(me.json["token"]?["project"]?["id"]?.stringValue)
            let added = try await http.request("POST", "/compute/v2.1/flavors/s1/action", token: admin, json: ["addTenantAccess": ["tenant": .string(project)]])
            #expect(added.json["flavor_access"]?.arrayValue?.first?["tenant_id"]?.stringValue == project)
            #expect(try await demoSees())
        }
    }
}
