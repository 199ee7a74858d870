import Foundation
import StratusCloud
import StratusCore
import StratusQueue
import StratusTesting
import Testing

/// The compute agents' channel as an agent sees it: only the service role gets in, and every malformed or
/// misdirected message is a clear 4xx that changes nothing.
@Suite("The agent channel")
struct AgentChannelTests {
    static func post(_ http: TestHTTP, _ path: String, _ token: String, json: JSON? = nil, raw: String? = nil) async throws -> TestHTTP.Reply {
        try await http.request("POST", "/compute/agent/v1" + path, token: token, json: json, rawBody: raw.map { Data($0.utf8) })
    }

    @Test("only the service role may use it: a member's, an admin's or a wrong token is refused")
    func onlyService() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let http = client.http
            let claim: JSON = ["hosts": ["fake-1"], "limit": 1, "wait_ms": 0]
            let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            #expect(try await Self.post(http, "/claim", demo, json: claim).status == 403)
            #expect(try await Self.post(http, "/claim", client.token, json: claim).status == 403, "an admin is no hypervisor")
            #expect(try await Self.post(http, "/claim", "not-a-token", json: claim).status == 401)
            let service = try await http.token(user: "nova", password: cloud.credentials.servicePassword, project: "service")
            let reply = try await Self.post(http, "/claim", service, json: claim)
            #expect(reply.status == 200, "\(reply.json.encodedString())")
            #expect(reply.json["deliveries"]?.arrayValue?.isEmpty == true)
            // The agents' credentials file names the service user and the identity URL, and no database.
            let agentConfig = try String(contentsOfFile: cloud.cloudsFile.replacingOccurrences(of: "clouds.yaml", with: "compute-agent.conf"),
                                         encoding: .utf8)
            #expect(agentConfig.contains("[service_user]") && agentConfig.contains("username = nova"))
            #expect(agentConfig.contains("auth_url = \(cloud.authURL)"))
            #expect(!agentConfig.contains("[database]"))
        }
    }

    @Test("bad input: truncated or unknown messages, wrong versions, leases not held, reports from the wrong host")
    func badInput() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let http = client.http
            let service = try await http.token(user: "nova", password: cloud.credentials.servicePassword, project: "service")
            let id = try await client.create("watched")
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            let before = try await client.call("GET", "/servers/\(id)").json["server"]

            let truncated = try await Self.post(http, "/reports", service, raw: #"{"version": 1, "op": "spaw"#)
            #expect(truncated.status == 400)
            let unknown = try await Self.post(http, "/reports", service, json: ["version": 1, "op": "explode", "host": "fake-1"])
            #expect(unknown.status == 400)
            #expect(unknown.json["badRequest"]?["message"]?.stringValue?.contains("unknown host report 'explode'") == true)
            let future = try await Self.post(http, "/reports", service, json: ["version": 2, "op": "heartbeat", "host": "fake-1"])
            #expect(future.json["badRequest"]?["message"]?.stringValue?.contains("unsupported message version 2") == true)
            let missing = try await Self.post(http, "/reports", service, json: ["version": 1, "op": "spawned", "host": "fake-1", "instance": .string(id)])
            #expect(missing.status == 400)
            #expect(missing.json["badRequest"]?["message"]?.stringValue?.contains("missing field 'started'") == true)
            let badAction = try await Self.post(http, "/reports", service, json: [
                "version": 1, "op": "power_done", "host": "fake-1", "instance": .string(id), "action": "explode", "started": 1])
            #expect(badAction.status == 400, "an unknown power action is refused, not taken for start")

            // A report about an instance from a host it is not on, or from a host never registered.
            let wrongHost = try await Self.post(http, "/reports", service, json: [
                "version": 1, "op": "power_done", "host": "fake-2", "instance": .string(id), "action": "stop", "started": 1])
            #expect(wrongHost.status == 404, "fake-2 is not registered")
            let registered = try await Self.post(http, "/reports", service, json: [
                "version": 1, "op": "register_host", "host": "intruder", "zone": "nova", "hypervisor_type": "fake",
                "hypervisor_version": 1, "cpu_info": [:], "resources": ["vcpus": 1, "memory_mb": 64, "local_gb": 1]])
            #expect(registered.status == 200)
            let otherHost = try await Self.post(http, "/reports", service, json: [
                "version": 1, "op": "power_done", "host": "intruder", "instance": .string(id), "action": "stop", "started": 1])
            #expect(otherHost.status == 409)
            #expect(otherHost.json["conflictingRequest"]?["message"]?.stringValue?.contains("is not on host intruder") == true)
            let ghost = try await Self.post(http, "/reports", service, json: [
                "version": 1, "op": "destroyed", "host": "fake-1", "instance": .string(Identifier.uuid())])
            #expect(ghost.status == 404)

            // Batched heartbeats: hosts never registered are named back, nothing is recorded for them.
            let beats = try await Self.post(http, "/heartbeats", service, json: ["hosts": ["fake-1", "ghost-host"]])
            #expect(beats.status == 200, "\(beats.json.encodedString())")
            #expect(beats.json["unknown_hosts"] == ["ghost-host"])
            for bad: JSON in [["hosts": []], ["hosts": ["a/b"]], ["hosts": "fake-1"], [:]] {
                #expect(try await Self.post(http, "/heartbeats", service, json: bad).status == 400, "\(bad.encodedString())")
            }

            // Batched acks: one not held is answered as not settled; a malformed batch is a 400.
            let lost = try await Self.post(http, "/acks", service, json: ["acks": [["id": .string(Identifier.uuid()), "lease": "agent-made-up"]]])
            #expect(lost.status == 200, "\(lost.json.encodedString())")
            #expect(lost.json["results"]?.arrayValue?.first?["settled"] == false)
            let twice: JSON = ["id": "same", "lease": "agent-made-up"]
            for bad: JSON in [["acks": []], ["acks": [twice, twice]], ["acks": [["lease": "x"]]], [:]] {
                #expect(try await Self.post(http, "/acks", service, json: bad).status == 400, "\(bad.encodedString())")
            }

            // Settling a message with a lease that is not held.
            for action in ["ack", "extend", "refuse", "reply"] {
                let reply = try await Self.post(http, "/messages/\(Identifier.uuid())/\(action)", service, json: ["lease": "agent-made-up"])
                #expect(reply.status == 409, "\(action): \(reply.status)")
            }
            let noLease = try await Self.post(http, "/messages/\(Identifier.uuid())/ack", service, json: [:])
            #expect(noLease.status == 400)
            for claim: JSON in [["hosts": [], "limit": 1, "wait_ms": 0], ["hosts": ["fake-1"], "limit": 0, "wait_ms": 0],
                                ["hosts": ["fake-1"], "limit": 1, "wait_ms": 3_600_000], ["hosts": ["a/b"], "limit": 1, "wait_ms": 0]] {
                #expect(try await Self.post(http, "/claim", service, json: claim).status == 400, "\(claim.encodedString())")
            }

            // None of it changed the server.
            let after = try await client.call("GET", "/servers/\(id)").json["server"]
            #expect(after?["status"] == before?["status"])
            #expect(after?["updated"] == before?["updated"])
            #expect(after?["OS-EXT-SRV-ATTR:host"] == "fake-1")
        }
    }

    @Test("a message the agent cannot read is dead-lettered with its reason, not retried or guessed at")
    func poisonMessage() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let queue = StratusQueue.Queue(storage: cloud.storage)
            try await queue.cast(topic: "compute.fake-1", payload: ["version": 1, "op": "power", "instance": "x", "action": "explode"])
            var dead: [StratusQueue.DeadLetter] = []
            for _ in 0..<200 {
                dead = try await queue.deadLetters(topic: "compute.fake-1")
                if !dead.isEmpty { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let letter = try #require(dead.first, "the message was never dead-lettered")
            #expect(letter.attempts == 1)
            #expect(letter.reason.contains("refused by the agent"), "\(letter.reason)")
            #expect(letter.reason.contains("action"), "\(letter.reason)")
        }
    }

    @Test("each host puts its own provider, inventory and traits into Placement over its API, and puts them right again")
    func hostsReportToPlacement() async throws {
        try await withComputeCloud(hosts: 2, extra: "[compute]\nresource_provider_association_refresh = 1\n[DEFAULT]\nreserved_host_memory_mb = 64\n") { client, _ in
            let http = client.http
            let version = ["OpenStack-API-Version": "placement 1.39"]
            func get(_ path: String) async throws -> JSON {
                try await http.request("GET", "/placement" + path, token: client.token, headers: version).json
            }
            let providers = try await get("/resource_providers")["resource_providers"]?.arrayValue ?? []
            #expect(Set(providers.compactMap { $0["name"]?.stringValue }) == ["fake-1", "fake-2"])
            let hypervisors = try await client.call("GET", "/os-hypervisors/detail").json["hypervisors"]?.arrayValue ?? []
            let uuid = try #require(providers.first { $0["name"] == "fake-1" }?["uuid"]?.stringValue)
            #expect(hypervisors.contains { $0["id"]?.stringValue == uuid }, "the provider is the compute node")

            let inventory = try await get("/resource_providers/\(uuid)/inventories")["inventories"]
            #expect(inventory?["MEMORY_MB"]?["total"] == 1024)
            #expect(inventory?["MEMORY_MB"]?["reserved"] == 64, "[DEFAULT] reserved_host_memory_mb, read by the agent")
            #expect(inventory?["VCPU"]?["allocation_ratio"] == 4.0)
            let traits = Set(try await get("/resource_providers/\(uuid)/traits")["traits"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(traits.isSuperset(of: ["COMPUTE_NODE", "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW"]), "\(traits)")

            // An operator adds a trait of their own and, by mistake, drops the host's and changes its inventory.
            // Each write re-reads the generation on a 409: the host's refresh (every second here) may put the first
            // change right between the operator's read and write, as it would in a real cloud.
            func operatorPUT(_ path: String, _ body: @escaping @Sendable (JSON) -> JSON) async throws -> TestHTTP.Reply {
                var reply: TestHTTP.Reply?
                for _ in 0..<20 where reply == nil || reply?.status == 409 {
                    let generation = try await get(path.hasSuffix("/traits") ? path : "/resource_providers/\(uuid)/inventories")["resource_provider_generation"] ?? .null
                    reply = try await http.request("PUT", "/placement" + path, token: client.token, json: body(generation), headers: version)
                }
                return reply!
            }
            #expect(try await http.request("PUT", "/placement/traits/CUSTOM_RACK_A", token: client.token, headers: version).status == 201)
            let put = try await operatorPUT("/resource_providers/\(uuid)/traits") { ["resource_provider_generation": $0, "traits": ["CUSTOM_RACK_A"]] }
            #expect(put.status == 200, "\(put.json.encodedString())")
            let changed = try await operatorPUT("/resource_providers/\(uuid)/inventories/MEMORY_MB") { ["resource_provider_generation": $0, "total": 512] }
            #expect(changed.status == 200, "\(changed.json.encodedString())")

            // Within the refresh interval the host has put its own back, with generations, and kept the operator's.
            var restored = false
            for _ in 0..<200 where !restored {
                let traits = Set(try await get("/resource_providers/\(uuid)/traits")["traits"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                let memory = try await get("/resource_providers/\(uuid)/inventories")["inventories"]?["MEMORY_MB"]
                restored = traits.isSuperset(of: ["CUSTOM_RACK_A", "COMPUTE_NODE", "COMPUTE_IMAGE_TYPE_QCOW2"]) && memory?["total"] == 1024
                    && memory?["reserved"] == 64
                if !restored { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(restored, "the host did not put its provider right within 10 s")
        }
    }

    @Test("a disabled service's node carries COMPUTE_STATUS_DISABLED in Placement, and loses it when enabled; the reconciler repairs drift")
    func computeStatusDisabledTrait() async throws {
        try await withComputeCloud(hosts: 1, extra: "[conductor]\nreconcile_interval = 1\n") { client, _ in
            let http = client.http
            let version = ["OpenStack-API-Version": "placement 1.39"]
            func traits() async throws -> (Set<String>, JSON) {
                let uuid = try #require(try await http.request("GET", "/placement/resource_providers?name=fake-1", token: client.token, headers: version)
                    .json["resource_providers"]?.arrayValue?.first?["uuid"]?.stringValue)
                let reply = try await http.request("GET", "/placement/resource_providers/\(uuid)/traits", token: client.token, headers: version).json
                return (Set(reply["traits"]?.arrayValue?.compactMap(\.stringValue) ?? []), reply["resource_provider_generation"] ?? .null)
            }
            let service = try #require(try await client.call("GET", "/os-services").json["services"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(!(try await traits().0.contains("COMPUTE_STATUS_DISABLED")))
            #expect(try await client.call("PUT", "/os-services/\(service)", json: ["status": "disabled"]).status == 200)
            #expect(try await traits().0.contains("COMPUTE_STATUS_DISABLED"), "set by the API at once")

            // An operator strips the trait by hand while the service is still disabled: the reconciler puts it back.
            let uuid = try #require(try await http.request("GET", "/placement/resource_providers?name=fake-1", token: client.token, headers: version)
                .json["resource_providers"]?.arrayValue?.first?["uuid"]?.stringValue)
            var stripped: Int?
            for _ in 0..<20 where stripped != 200 {
                let (current, generation) = try await traits()
                stripped = try await http.request("PUT", "/placement/resource_providers/\(uuid)/traits", token: client.token,
                                                  json: ["resource_provider_generation": generation,
                                                         "traits": .array(current.subtracting(["COMPUTE_STATUS_DISABLED"]).sorted().map { .string($0) })],
                                                  headers: version).status
            }
            #expect(stripped == 200)
            var repaired = false
            for _ in 0..<100 where !repaired {
                repaired = try await traits().0.contains("COMPUTE_STATUS_DISABLED")
                if !repaired { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(repaired, "the reconciler did not put COMPUTE_STATUS_DISABLED back within 5 s")

            #expect(try await client.call("PUT", "/os-services/\(service)", json: ["status": "enabled"]).status == 200)
            #expect(!(try await traits().0.contains("COMPUTE_STATUS_DISABLED")), "removed by the API at once")
        }
    }
}
