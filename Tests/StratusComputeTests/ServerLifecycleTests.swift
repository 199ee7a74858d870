import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Server lifecycle actions")
struct ServerLifecycleTests {
    func act(_ client: ComputeClient, _ id: String, _ body: JSON) async throws -> Int {
        try await client.call("POST", "/servers/\(id)/action", json: body).status
    }

    @Test("pause/unpause, suspend/resume: states, power states, driver state and events; illegal ones 409")
    func pauseAndSuspend() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let id = try await client.create("ps")
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            let driver = try #require(cloud.fakeDrivers["fake-1"])
            #expect(try await act(client, id, ["unpause": nil]) == 409)
            #expect(try await act(client, id, ["pause": nil]) == 202)
            var server = try await client.settle(id)
            #expect(server["status"] == "PAUSED")
            #expect(server["OS-EXT-STS:power_state"] == 3)
            #expect(driver.guestState(id) == .paused)
            #expect(try await act(client, id, ["suspend": nil]) == 409)
            #expect(try await act(client, id, ["unpause": nil]) == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            #expect(try await act(client, id, ["suspend": nil]) == 202)
            server = try await client.settle(id)
            #expect(server["status"] == "SUSPENDED")
            #expect(server["OS-EXT-STS:power_state"] == 7)
            #expect(driver.guestState(id) == .suspended)
            #expect(try await act(client, id, ["resume": nil]) == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue ?? []
            #expect(Array(actions.compactMap { $0["action"]?.stringValue }.prefix(4)) == ["resume", "suspend", "unpause", "pause"])
        }
    }

    @Test("lock: members get 409 on a locked server, admins still act; unlock; reason at 2.73")
    func lockAndUnlock() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let demo = try await client.http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let reply = try await client.http.request("POST", "/compute/v2.1/servers", token: demo, json: ["server": [
                "name": "mine", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]], headers: ["OpenStack-API-Version": "compute 2.90"])
            let id = try #require(reply.json["server"]?["id"]?.stringValue)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            func demoAction(_ body: JSON) async throws -> TestHTTP.Reply {
                try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: demo, json: body,
                                              headers: ["OpenStack-API-Version": "compute 2.90"])
            }
            #expect(try await demoAction(["lock": ["locked_reason": "maintenance"]]).status == 202)
            let shown = try await client.call("GET", "/servers/\(id)").json["server"]
            #expect(shown?["locked"] == true)
            #expect(shown?["locked_reason"] == "maintenance")
            let refused = try await demoAction(["os-stop": nil])
            #expect(refused.status == 409)
            #expect(refused.json["conflictingRequest"]?["message"]?.stringValue == "Instance \(id) is locked")
            #expect(try await client.http.request("DELETE", "/compute/v2.1/servers/\(id)", token: demo).status == 409)
            #expect(try await act(client, id, ["os-stop": nil]) == 202)  // admin
            #expect(try await client.settle(id)["status"] == "SHUTOFF")
            #expect(try await demoAction(["unlock": nil]).status == 202)
            #expect(try await demoAction(["os-start": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
        }
    }

    @Test("os-resetState is admin-only and sets active or error; force delete removes a server whatever its task")
    func resetStateAndForceDelete() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let id = try await client.create("rs")
            _ = try await client.settle(id)
            #expect(try await act(client, id, ["os-resetState": ["state": "error"]]) == 202)
            #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "ERROR")
            #expect(try await act(client, id, ["os-resetState": ["state": "sideways"]]) == 400)
            let demo = try await client.http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            #expect(try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: demo,
                                                  json: ["os-resetState": ["state": "active"]]).status == 403)
            #expect(try await act(client, id, ["os-resetState": ["state": "active"]]) == 202)
            #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "ACTIVE")
            #expect(try await act(client, id, ["forceDelete": nil]) == 202)
            #expect(try await client.settle(id)["status"] == "DELETED")
            #expect(cloud.fakeDrivers["fake-1"]?.guestState(id) == nil)
        }
    }

    @Test("console output comes from the host's driver, --lines honoured; a bad length is 400")
    func consoleOutput() async throws {
        try await withComputeCloud(hosts: 1) { client, _ in
            let id = try await client.create("con")
            _ = try await client.settle(id)
            let all = try await client.call("POST", "/servers/\(id)/action", json: ["os-getConsoleOutput": ["length": nil]])
            #expect(all.status == 200)
            #expect(all.json["output"]?.stringValue?.hasPrefix("fake console of \(id)") == true)
            let last = try await client.call("POST", "/servers/\(id)/action", json: ["os-getConsoleOutput": ["length": 1]])
            #expect(last.json["output"] == "login:\n")
            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["os-getConsoleOutput": ["length": "many"]]).status == 400)
        }
    }

    @Test("metadata and tags: set, merge, replace, item get/put/delete, quota; update name and description")
    func metadataTagsAndUpdate() async throws {
        try await withComputeCloud(hosts: 0, extra: "[quota]\nmetadata_items = 3\n") { client, _ in
            let id = try await client.create("meta", extra: ["metadata": ["a": "1"], "tags": ["blue"]])
            var reply = try await client.call("POST", "/servers/\(id)/metadata", json: ["metadata": ["b": "2"]])
            #expect(reply.json["metadata"] == ["a": "1", "b": "2"])
            reply = try await client.call("PUT", "/servers/\(id)/metadata", json: ["metadata": ["c": "3"]])
            #expect(reply.json["metadata"] == ["c": "3"])
            #expect(try await client.call("PUT", "/servers/\(id)/metadata/d", json: ["meta": ["d": "4"]]).status == 200)
            #expect(try await client.call("PUT", "/servers/\(id)/metadata/e", json: ["meta": ["x": "4"]]).status == 400)
            #expect(try await client.call("GET", "/servers/\(id)/metadata/d").json["meta"] == ["d": "4"])
            #expect(try await client.call("DELETE", "/servers/\(id)/metadata/d").status == 204)
            #expect(try await client.call("DELETE", "/servers/\(id)/metadata/d").status == 404)
            let over = try await client.call("POST", "/servers/\(id)/metadata", json: ["metadata": ["w": "1", "x": "2", "y": "3"]])
            #expect(over.status == 403)

            #expect(try await client.call("GET", "/servers/\(id)/tags").json["tags"] == ["blue"])
            #expect(try await client.call("PUT", "/servers/\(id)/tags/green", json: nil).status == 201)
            #expect(try await client.call("PUT", "/servers/\(id)/tags/green", json: nil).status == 204)
            #expect(try await client.call("GET", "/servers/\(id)/tags/green").status == 204)
            #expect(try await client.call("PUT", "/servers/\(id)/tags", json: ["tags": ["a,b"]]).status == 400)
            #expect(try await client.call("PUT", "/servers/\(id)/tags", json: ["tags": ["x", "y"]]).json["tags"] == ["x", "y"])
            #expect(try await client.call("GET", "/servers?tags=x").json["servers"]?.arrayValue?.count == 1)
            #expect(try await client.call("GET", "/servers?not-tags=x").json["servers"]?.arrayValue?.count == 0)
            #expect(try await client.call("DELETE", "/servers/\(id)/tags/x").status == 204)
            #expect(try await client.call("DELETE", "/servers/\(id)/tags").status == 204)
            #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["tags"] == [])

            let updated = try await client.call("PUT", "/servers/\(id)", json: ["server": ["name": "renamed", "description": "web tier"]])
            #expect(updated.json["server"]?["name"] == "renamed")
            #expect(updated.json["server"]?["description"] == "web tier")
            #expect(try await client.call("PUT", "/servers/\(id)", json: ["server": ["flavor": "x"]]).status == 400)
        }
    }

    @Test("list: filters, sort keys, limit with a next link and marker; bad sort key and marker are 400")
    func listing() async throws {
        try await withComputeCloud(hosts: 0) { client, _ in
            var ids: [String] = []
            for name in ["delta", "alpha", "charlie", "bravo", "echo"] { ids.append(try await client.create(name)) }
            let sorted = try await client.call("GET", "/servers?sort_key=display_name&sort_dir=asc").json["servers"]?.arrayValue ?? []
            #expect(sorted.compactMap { $0["name"]?.stringValue } == ["alpha", "bravo", "charlie", "delta", "echo"])
            let page = try await client.call("GET", "/servers?sort_key=display_name&sort_dir=asc&limit=2")
            #expect(page.json["servers"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["alpha", "bravo"])
            let next = try #require(page.json["servers_links"]?.arrayValue?.first?["href"]?.stringValue)
            let query = try #require(next.split(separator: "?", maxSplits: 1).last)
            let second = try await client.call("GET", "/servers?\(query)")
            #expect(second.json["servers"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["charlie", "delta"])
            #expect(try await client.call("GET", "/servers?name=^[ab]").json["servers"]?.arrayValue?.count == 2)
            for id in ids { _ = try await client.settle(id) }  // no hosts: each ends in ERROR
            #expect(try await client.call("GET", "/servers/detail?status=ERROR").json["servers"]?.arrayValue?.count == 5)
            #expect(try await client.call("GET", "/servers/detail?status=ACTIVE").json["servers"]?.arrayValue?.count == 0)
            #expect(try await client.call("GET", "/servers?sort_key=colour").status == 400)
            #expect(try await client.call("GET", "/servers?marker=nope").status == 400)
            #expect(try await client.call("GET", "/servers?status=SIDEWAYS").status == 400)
            #expect(try await client.call("GET", "/servers?limit=-1").status == 400)
        }
    }
}
