import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// A compute API client for tests, as admin, at a recent microversion.
struct ComputeClient {
    let http: TestHTTP
    let token: String

    init(_ cloud: ReadyCloud) async throws {
        http = TestHTTP(baseURL: cloud.baseURL)
        token = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
    }

    func call(_ method: String, _ path: String, json: JSON? = nil) async throws -> TestHTTP.Reply {
        try await http.request(method, "/compute/v2.1" + path, token: token, json: json, headers: ["OpenStack-API-Version": "compute 2.90"])
    }

    func create(_ name: String, flavor: String = "42", count: Int = 1, extra: [String: JSON] = [:], hints: JSON? = nil) async throws -> String {
        var server: [String: JSON] = [
            "name": .string(name), "flavorRef": .string(flavor), "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none", "max_count": .int(count)]
        server.merge(extra) { _, new in new }
        var body: [String: JSON] = ["server": .object(server)]
        if let hints { body["os:scheduler_hints"] = hints }
        let reply = try await call("POST", "/servers", json: .object(body))
        guard reply.status == 202, let id = reply.json["server"]?["id"]?.stringValue else {
            throw StratusError.badRequest("create failed: \(reply.status) \(reply.json.encodedString())")
        }
        return id
    }

    /// What Placement's API says is used of `resourceClass`, on `host` or on every provider (its usages are computed
    /// from the allocations in the database, not from any process's cache).
    func placementUsage(_ resourceClass: String = "MEMORY_MB", host: String? = nil) async throws -> Int {
        let path = host.map { "/placement/resource_providers?name=\($0)" } ?? "/placement/resource_providers"
        let providers = try await http.request("GET", path, token: token).json["resource_providers"]?.arrayValue ?? []
        var total = 0
        for provider in providers {
            let uuid = provider["uuid"]?.stringValue ?? ""
            let usages = try await http.request("GET", "/placement/resource_providers/\(uuid)/usages", token: token).json["usages"]
            total += usages?[resourceClass]?.intValue ?? 0
        }
        return total
    }

    /// Polls until the server leaves BUILD (or deleting), or 60 s pass (a loaded CI machine can be slow).
    func settle(_ id: String) async throws -> JSON {
        for _ in 0..<1200 {
            let reply = try await call("GET", "/servers/\(id)")
            if reply.status == 404 { return ["status": "DELETED"] }
            let server = reply.json["server"] ?? .null
            if server["status"] != "BUILD" && server["OS-EXT-STS:task_state"]?.isNull != false { return server }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw StratusError.badRequest("server \(id) did not settle")
    }
}

func withComputeCloud<T: Sendable>(hosts: Int = 2, extra: String = "", _ body: @Sendable (ComputeClient, ReadyCloud) async throws -> T) async throws -> T {
    // Quotas are unlimited here so capacity, not quota, decides; quota tests set limits through the API.
    let config = "[fake_driver]\nhost_count = \(hosts)\nvcpus = 4\nmemory_mb = 1024\nlocal_gb = 10\n[quota]\ninstances = -1\ncores = -1\nram = -1\n\(extra)"
    return try await CloudFixture.withCloud(extraConfig: config) { cloud in
        // The cloud is ready once its hosts registered (over the agent channel, as remote hosts do).
        let client = try await ComputeClient(cloud)
        let services = try await client.call("GET", "/os-services").json["services"]?.arrayValue ?? []
        try #require(services.count == hosts, "\(services.count) of \(hosts) hosts registered")
        return try await body(client, cloud)
    }
}

@Suite("Servers on fake hosts")
struct ServerBuildTests {
    @Test("create goes API → conductor → scheduler/claim → compute agent → ACTIVE, with events; delete frees the claim")
    func buildAndDelete() async throws {
        try await withComputeCloud { client, cloud in
            let id = try await client.create("web")
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(server["OS-EXT-STS:power_state"] == 1)
            let host = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
            #expect(host.hasPrefix("fake-"))
            #expect(server["OS-EXT-SRV-ATTR:instance_name"]?.stringValue == "instance-\(id)")
            #expect(try await client.placementUsage(host: host) == 128)

            let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions")
            let create = try #require(actions.json["instanceActions"]?.arrayValue?.first)
            #expect(create["action"] == "create")
            let requestID = try #require(create["request_id"]?.stringValue)
            let detail = try await client.call("GET", "/servers/\(id)/os-instance-actions/\(requestID)")
            let events = detail.json["instanceAction"]?["events"]?.arrayValue ?? []
            #expect(events.map { $0["event"]?.stringValue ?? "" } == ["conductor_schedule_and_build_instances", "compute__do_build_and_run_instance"])
            #expect(events.allSatisfy { $0["result"] == "Success" })
            #expect(events.last?["host"]?.stringValue == host)

            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
            #expect(try await client.placementUsage() == 0)
        }
    }

    @Test("no room: ERROR with Nova's NoValidHost fault and no allocation left behind")
    func noValidHost() async throws {
        try await withComputeCloud { client, cloud in
            let id = try await client.create("too-big", flavor: "5")
            let server = try await client.settle(id)
            #expect(server["status"] == "ERROR")
            #expect(server["fault"]?["message"]?.stringValue?.hasPrefix("No valid host was found.") == true)
            #expect(server["fault"]?["code"] == 500)
            for resourceClass in ["MEMORY_MB", "VCPU", "DISK_GB"] { #expect(try await client.placementUsage(resourceClass) == 0) }
            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
        }
    }

    @Test("30 concurrent boots into room for 16: exactly 16 ACTIVE, 14 ERROR, usage equals allocations")
    func concurrentBoots() async throws {
        // 2 hosts × 1024 MB, m1.nano is 128 MB: room for 16.
        try await withComputeCloud { client, cloud in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<30 { group.addTask { try await client.create("b\(i)") } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            var statuses: [String: Int] = [:]
            for id in ids { statuses[try await client.settle(id)["status"]?.stringValue ?? "?", default: 0] += 1 }
            #expect(statuses == ["ACTIVE": 16, "ERROR": 14])
            let used = try await client.placementUsage()
            #expect(used == 16 * 128)
        }
    }

    @Test("bad create input: unknown flavor, missing networks at 2.37+, bad counts — each 400")
    func badCreates() async throws {
        try await withComputeCloud(hosts: 0) { client, _ in
            let cases: [JSON] = [
                ["server": ["name": "x", "flavorRef": "nope", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]],
                ["server": ["name": "x", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001"]],
                ["server": ["name": "x", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none", "min_count": 3, "max_count": 2]],
                ["server": ["name": "x", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "sideways"]],
                ["server": ["flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"]],
            ]
            for body in cases {
                let reply = try await client.call("POST", "/servers", json: body)
                #expect(reply.status == 400, "\(body.encodedString()) → \(reply.status)")
                #expect(reply.json["badRequest"] != nil)
            }
            #expect(try await client.call("GET", "/servers").json["servers"] == [])
        }
    }

    @Test("other projects' servers are 404; services and hypervisors are admin-only")
    func policy() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let id = try await client.create("private")
            _ = try await client.settle(id)
            let demo = try await client.http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            #expect(try await client.http.request("GET", "/compute/v2.1/servers/\(id)", token: demo).status == 404)
            #expect(try await client.http.request("DELETE", "/compute/v2.1/servers/\(id)", token: demo).status == 404)
            #expect(try await client.http.request("GET", "/compute/v2.1/os-services", token: demo).status == 403)
            let hypervisors = try await client.call("GET", "/os-hypervisors/detail")
            #expect(hypervisors.json["hypervisors"]?.arrayValue?.first?["hypervisor_type"] == "fake")
        }
    }
}

@Suite("Server power actions")
struct ServerActionTests {
    @Test("stop → SHUTOFF, start → ACTIVE, reboot → ACTIVE, each an action with its event; illegal ones are 409")
    func powerCycle() async throws {
        try await withComputeCloud(hosts: 1) { client, _ in
            let id = try await client.create("pwr")
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            let early = try await client.call("POST", "/servers/\(id)/action", json: ["os-start": nil])
            #expect(early.status == 409)
            #expect(early.json["conflictingRequest"]?["message"]?.stringValue?.contains("vm_state active") == true)

            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["os-stop": nil]).status == 202)
            let stopped = try await client.settle(id)
            #expect(stopped["status"] == "SHUTOFF")
            #expect(stopped["OS-EXT-STS:power_state"] == 4)
            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["os-start": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["reboot": ["type": "HARD"]]).status == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            let bad = try await client.call("POST", "/servers/\(id)/action", json: ["reboot": ["type": "SIDEWAYS"]])
            #expect(bad.status == 400)

            let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue ?? []
            #expect(Set(actions.compactMap { $0["action"]?.stringValue }) == ["create", "stop", "start", "reboot"])
            for action in actions {
                let requestID = try #require(action["request_id"]?.stringValue)
                let detail = try await client.call("GET", "/servers/\(id)/os-instance-actions/\(requestID)")
                let events = detail.json["instanceAction"]?["events"]?.arrayValue ?? []
                #expect(!events.isEmpty && events.allSatisfy { $0["result"] == "Success" }, "\(action.encodedString())")
            }
        }
    }
}

@Suite("Rescheduling")
struct RescheduleTests {
    @Test("a host that fails the spawn hands the build to another host; failing everywhere ends in ERROR with the fault")
    func reschedule() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            // Equal hosts are ordered by name, so fake-1 is tried first; it fails once, the retry must go to fake-2.
            cloud.fakeDrivers["fake-1"]?.failNextSpawns(1)
            let id = try await client.create("retry")
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            let requestID = try #require(try await client.call("GET", "/servers/\(id)/os-instance-actions")
                .json["instanceActions"]?.arrayValue?.first?["request_id"]?.stringValue)
            let events = try await client.call("GET", "/servers/\(id)/os-instance-actions/\(requestID)")
                .json["instanceAction"]?["events"]?.arrayValue ?? []
            let spawns = events.filter { $0["event"] == "compute__do_build_and_run_instance" }
            #expect(spawns.map { $0["result"]?.stringValue ?? "" } == ["Error", "Success"])
            #expect(spawns.first?["host"] != spawns.last?["host"], "the retry went to the other host")
            let used = try await client.placementUsage()
            #expect(used == 128, "only the final host holds the claim")

            for driver in cloud.fakeDrivers.values { driver.failNextSpawns(5) }
            let doomed = try await client.create("doomed")
            let failed = try await client.settle(doomed)
            #expect(failed["status"] == "ERROR")
            #expect(failed["fault"]?["message"]?.stringValue?.contains("Exceeded maximum number of retries") == true)
            #expect(failed["fault"]?["details"]?.stringValue?.contains("injected spawn failure") == true)
            let usedAfter = try await client.placementUsage()
            #expect(usedAfter == 128, "the failed build left no allocation")
        }
    }
}
