import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// A client for the Placement API in noauth2 mode (`admin` token), at a chosen microversion.
struct PlacementClient {
    let http: TestHTTP

    func call(_ method: String, _ path: String, _ version: String = "latest", json: JSON? = nil, token: String = "admin") async throws -> TestHTTP.Reply {
        try await http.request(method, "/placement" + path, token: token, json: json,
                               headers: ["OpenStack-API-Version": "placement \(version)"])
    }

    func createProvider(_ name: String, parent: String? = nil) async throws -> String {
        var body: [String: JSON] = ["name": .string(name)]
        if let parent { body["parent_provider_uuid"] = .string(parent) }
        let reply = try await call("POST", "/resource_providers", json: .object(body))
        guard reply.status == 200, let uuid = reply.json["uuid"]?.stringValue else {
            throw StratusError.badRequest("create failed: \(reply.status) \(reply.json.encodedString())")
        }
        return uuid
    }

    func setInventory(_ uuid: String, _ inventories: [String: Int], generation: Int = 0) async throws {
        let reply = try await call("PUT", "/resource_providers/\(uuid)/inventories", json: [
            "resource_provider_generation": .int(generation),
            "inventories": .object(inventories.mapValues { ["total": .int($0)] }),
        ])
        guard reply.status == 200 else { throw StratusError.badRequest("inventory failed: \(reply.json.encodedString())") }
    }
}

func withPlacementCloud<T: Sendable>(_ body: @Sendable (PlacementClient) async throws -> T) async throws -> T {
    try await CloudFixture.withCloud(extraConfig: "[api]\nauth_strategy = noauth2") { cloud in
        try await body(PlacementClient(http: TestHTTP(baseURL: cloud.baseURL)))
    }
}

@Suite("Placement API over HTTP")
struct PlacementHTTPTests {
    @Test("root document and microversion negotiation: latest, default, 400 for garbage, 406 outside the range")
    func microversions() async throws {
        try await withPlacementCloud { client in
            let root = try await client.http.request("GET", "/placement/")
            #expect(root.json["versions"]?.arrayValue?.first?["max_version"] == "1.39")
            let latest = try await client.call("GET", "/resource_providers")
            #expect(latest.header("OpenStack-API-Version") == "placement 1.39")
            #expect(latest.header("Vary") == "openstack-api-version")
            let none = try await client.http.request("GET", "/placement/resource_providers", token: "admin")
            #expect(none.header("OpenStack-API-Version") == "placement 1.0")
            let garbage = try await client.call("GET", "/resource_providers", "one.two")
            #expect(garbage.status == 400)
            let tooNew = try await client.call("GET", "/resource_providers", "1.99")
            #expect(tooNew.status == 406)
            #expect(tooNew.json["errors"]?.arrayValue?.first?["status"] == 406)
        }
    }

    @Test("POST /resource_providers: 201 without a body before 1.20, 200 with the provider from 1.20")
    func createByVersion() async throws {
        try await withPlacementCloud { client in
            let old = try await client.call("POST", "/resource_providers", "1.19", json: ["name": "old"])
            #expect(old.status == 201)
            #expect(old.header("Location")?.contains("/placement/resource_providers/") == true)
            let new = try await client.call("POST", "/resource_providers", "1.20", json: ["name": "new"])
            #expect(new.status == 200)
            #expect(new.json["generation"] == 0)
            let duplicate = try await client.call("POST", "/resource_providers", json: ["name": "new"])
            #expect(duplicate.status == 409)
            #expect(duplicate.json["errors"]?.arrayValue?.first?["code"] == "placement.duplicate_name")
            // parent_provider_uuid only from 1.14
            let early = try await client.call("POST", "/resource_providers", "1.13", json: ["name": "c", "parent_provider_uuid": .string(Identifier.uuid())])
            #expect(early.status == 400)
        }
    }

    @Test("bad input: unknown class, negative total, bad uuid, stale generation, unknown query parameter")
    func badInput() async throws {
        try await withPlacementCloud { client in
            let uuid = try await client.createProvider("h1")
            let unknownClass = try await client.call("PUT", "/resource_providers/\(uuid)/inventories", json: [
                "resource_provider_generation": 0, "inventories": ["CUSTOM_NOPE": ["total": 1]]])
            #expect(unknownClass.status == 400)
            let negative = try await client.call("PUT", "/resource_providers/\(uuid)/inventories", json: [
                "resource_provider_generation": 0, "inventories": ["VCPU": ["total": -4]]])
            #expect(negative.status == 400)
            let reserved = try await client.call("PUT", "/resource_providers/\(uuid)/inventories", "1.25", json: [
                "resource_provider_generation": 0, "inventories": ["VCPU": ["total": 4, "reserved": 4]]])
            #expect(reserved.status == 400, "reserved == total is refused before 1.26")
            let reservedOK = try await client.call("PUT", "/resource_providers/\(uuid)/inventories", "1.26", json: [
                "resource_provider_generation": 0, "inventories": ["VCPU": ["total": 4, "reserved": 4]]])
            #expect(reservedOK.status == 200)
            // Placement accepts max_unit above total; an allocation above max_unit is what fails.
            let bigMax = try await client.call("PUT", "/resource_providers/\(uuid)/inventories", json: [
                "resource_provider_generation": 1, "inventories": ["VCPU": ["total": 4, "max_unit": 8]]])
            #expect(bigMax.status == 200)
            let stale = try await client.call("PUT", "/resource_providers/\(uuid)/inventories", json: [
                "resource_provider_generation": 0, "inventories": ["VCPU": ["total": 4]]])
            #expect(stale.status == 409)
            #expect(stale.json["errors"]?.arrayValue?.first?["code"] == "placement.concurrent_update")
            let badUUID = try await client.call("GET", "/resource_providers/not-a-uuid")
            #expect(badUUID.status == 404)
            let badQuery = try await client.call("GET", "/resource_providers?colour=red")
            #expect(badQuery.status == 400)
            let tooEarly = try await client.call("GET", "/resource_providers?required=HW_CPU_X86_AVX", "1.17")
            #expect(tooEarly.status == 400, "required is a 1.18 filter")
            let badResources = try await client.call("GET", "/allocation_candidates?resources=VCPU")
            #expect(badResources.status == 400)
            let unknownTrait = try await client.call("GET", "/allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE")
            #expect(unknownTrait.status == 400)
            let malformed = try await client.http.request("PUT", "/placement/resource_providers/\(uuid)/inventories", token: "admin",
                                                          rawBody: Data("{oops".utf8))
            #expect(malformed.status == 400)
        }
    }

    @Test("allocations: dict format, consumer generation, capacity 409, max_unit 409, usages, delete")
    func allocations() async throws {
        try await withPlacementCloud { client in
            let host = try await client.createProvider("h1")
            try await client.setInventory(host, ["VCPU": 4, "MEMORY_MB": 2048])
            let consumer = Identifier.uuid()
            let put = try await client.call("PUT", "/allocations/\(consumer)", json: [
                "allocations": [host: ["resources": ["VCPU": 2, "MEMORY_MB": 512]]],
                "project_id": "p1", "user_id": "u1", "consumer_generation": nil, "consumer_type": "INSTANCE"])
            #expect(put.status == 204)
            let shown = try await client.call("GET", "/allocations/\(consumer)")
            #expect(shown.json["consumer_generation"] == 1)
            #expect(shown.json["allocations"]?[host]?["resources"]?["VCPU"] == 2)
            let over = try await client.call("PUT", "/allocations/\(Identifier.uuid())", json: [
                "allocations": [host: ["resources": ["VCPU": 3]]],
                "project_id": "p1", "user_id": "u1", "consumer_generation": nil, "consumer_type": "INSTANCE"])
            #expect(over.status == 409)
            #expect(over.json["errors"]?.arrayValue?.first?["detail"]?.stringValue?.contains("exceed the capacity") == true)
            let stale = try await client.call("PUT", "/allocations/\(consumer)", json: [
                "allocations": [host: ["resources": ["VCPU": 1]]],
                "project_id": "p1", "user_id": "u1", "consumer_generation": 0, "consumer_type": "INSTANCE"])
            #expect(stale.status == 409)
            #expect(stale.json["errors"]?.arrayValue?.first?["code"] == "placement.concurrent_update")
            let limited = try await client.createProvider("h-limited")
            _ = try await client.call("PUT", "/resource_providers/\(limited)/inventories", json: [
                "resource_provider_generation": 0, "inventories": ["VCPU": ["total": 8, "max_unit": 2]]])
            let aboveMax = try await client.call("PUT", "/allocations/\(Identifier.uuid())", json: [
                "allocations": [limited: ["resources": ["VCPU": 3]]],
                "project_id": "p1", "user_id": "u1", "consumer_generation": nil, "consumer_type": "INSTANCE"])
            #expect(aboveMax.status == 409)
            #expect(aboveMax.json["errors"]?.arrayValue?.first?["detail"]?.stringValue?.contains("violate inventory constraints") == true)
            let usages = try await client.call("GET", "/usages?project_id=p1", "1.37")
            #expect(usages.json["usages"]?["VCPU"] == 2)
            let typed = try await client.call("GET", "/usages?project_id=p1")
            #expect(typed.json["usages"]?["INSTANCE"]?["consumer_count"] == 1)
            let provider = try await client.call("GET", "/resource_providers/\(host)/usages")
            #expect(provider.json["usages"]?["MEMORY_MB"] == 512)
            let inUse = try await client.call("DELETE", "/resource_providers/\(host)")
            #expect(inUse.json["errors"]?.arrayValue?.first?["code"] == "placement.resource_provider.inuse")
            let shrink = try await client.call("PUT", "/resource_providers/\(host)/inventories", json: [
                "resource_provider_generation": 2, "inventories": ["MEMORY_MB": ["total": 2048]]])
            #expect(shrink.status == 409)
            #expect(shrink.json["errors"]?.arrayValue?.first?["code"] == "placement.inventory.inuse")
            #expect(try await client.call("DELETE", "/allocations/\(consumer)").status == 204)
            #expect(try await client.call("DELETE", "/allocations/\(consumer)").status == 404)
            #expect(try await client.call("DELETE", "/resource_providers/\(host)").status == 204)
        }
    }

    @Test("POST /allocations moves a consumer atomically: both or neither")
    func moveOperation() async throws {
        try await withPlacementCloud { client in
            let source = try await client.createProvider("src")
            let target = try await client.createProvider("dst")
            try await client.setInventory(source, ["VCPU": 4])
            try await client.setInventory(target, ["VCPU": 1])
            let instance = Identifier.uuid()
            let migration = Identifier.uuid()
            _ = try await client.call("PUT", "/allocations/\(instance)", "1.37", json: [
                "allocations": [source: ["resources": ["VCPU": 2]]], "project_id": "p", "user_id": "u", "consumer_generation": nil])
            let tooBig = try await client.call("POST", "/allocations", "1.37", json: [
                instance: ["allocations": [target: ["resources": ["VCPU": 2]]], "project_id": "p", "user_id": "u", "consumer_generation": 1],
                migration: ["allocations": [source: ["resources": ["VCPU": 2]]], "project_id": "p", "user_id": "u", "consumer_generation": nil],
            ])
            #expect(tooBig.status == 409)
            let unchanged = try await client.call("GET", "/allocations/\(instance)")
            #expect(unchanged.json["allocations"]?[source] != nil, "nothing moved")
            #expect(try await client.call("GET", "/allocations/\(migration)").json["allocations"] == [:])
        }
    }

    @Test("allocation candidates: traits, forbidden traits, member_of, limit, nested trees, granular groups, sharing")
    func candidates() async throws {
        try await withPlacementCloud { client in
            var hosts: [String] = []
            for i in 0..<4 {
                let host = try await client.createProvider("cn\(i)")
                try await client.setInventory(host, ["VCPU": 8, "MEMORY_MB": 4096])
                hosts.append(host)
            }
            _ = try await client.call("PUT", "/resource_providers/\(hosts[0])/traits", json: ["traits": ["HW_CPU_X86_AVX2"], "resource_provider_generation": 1])
            let aggregate = Identifier.uuid()
            _ = try await client.call("PUT", "/resource_providers/\(hosts[1])/aggregates", json: ["aggregates": [.string(aggregate)], "resource_provider_generation": 1])

            func count(_ query: String, _ version: String = "latest") async throws -> Int {
                let reply = try await client.call("GET", "/allocation_candidates?" + query, version)
                #expect(reply.status == 200, "\(query): \(reply.json.encodedString())")
                return reply.json["allocation_requests"]?.arrayValue?.count ?? -1
            }
            #expect(try await count("resources=VCPU:1,MEMORY_MB:512") == 4)
            #expect(try await count("resources=VCPU:1&limit=2") == 2)
            #expect(try await count("resources=VCPU:9") == 0)
            #expect(try await count("resources=VCPU:1&required=HW_CPU_X86_AVX2") == 1)
            #expect(try await count("resources=VCPU:1&required=!HW_CPU_X86_AVX2") == 3)
            #expect(try await count("resources=VCPU:1&member_of=\(aggregate)") == 1)
            #expect(try await count("resources=VCPU:1&member_of=!\(aggregate)") == 3)

            // a nested tree: the VCPU on a NUMA child, the memory on the root
            let nested = try await client.createProvider("nested")
            let numa = try await client.createProvider("nested-numa0", parent: nested)
            try await client.setInventory(nested, ["MEMORY_MB": 1024])
            try await client.setInventory(numa, ["VCPU": 2])
            let spread = try await client.call("GET", "/allocation_candidates?resources=VCPU:2,MEMORY_MB:1024")
            let trees = spread.json["allocation_requests"]?.arrayValue?.filter { $0["allocations"]?[nested] != nil } ?? []
            #expect(trees.count == 1)
            #expect(trees.first?["allocations"]?[numa]?["resources"]?["VCPU"] == 2)
            #expect(spread.json["provider_summaries"]?[numa]?["parent_provider_uuid"]?.stringValue == nested)
            #expect(try await count("resources=VCPU:2,MEMORY_MB:1024", "1.28") == 4, "nested trees are invisible before 1.29")

            // granular: two groups on different providers of the tree with isolate
            let granular = try await client.call("GET", "/allocation_candidates?resources1=VCPU:1&resources2=MEMORY_MB:512&group_policy=isolate&in_tree=\(nested)")
            let requests = granular.json["allocation_requests"]?.arrayValue ?? []
            #expect(requests.count == 1)
            #expect(requests.first?["mappings"]?["1"] == [.string(numa)])
            #expect(requests.first?["mappings"]?["2"] == [.string(nested)])
            let missingPolicy = try await client.call("GET", "/allocation_candidates?resources1=VCPU:1&resources2=MEMORY_MB:512")
            #expect(missingPolicy.status == 400)

            // sharing: disk from a shared storage provider in the host's aggregate
            let storage = try await client.createProvider("shared-disk")
            try await client.setInventory(storage, ["DISK_GB": 100])
            _ = try await client.call("PUT", "/resource_providers/\(storage)/traits", json: ["traits": ["MISC_SHARES_VIA_AGGREGATE"], "resource_provider_generation": 1])
            _ = try await client.call("PUT", "/resource_providers/\(storage)/aggregates", json: ["aggregates": [.string(aggregate)], "resource_provider_generation": 2])
            let shared = try await client.call("GET", "/allocation_candidates?resources=VCPU:1,DISK_GB:10")
            let sharedRequests = shared.json["allocation_requests"]?.arrayValue ?? []
            #expect(sharedRequests.count == 1)
            #expect(sharedRequests.first?["allocations"]?[hosts[1]]?["resources"]?["VCPU"] == 1)
            #expect(sharedRequests.first?["allocations"]?[storage]?["resources"]?["DISK_GB"] == 10)

            // the 1.10 list format
            let old = try await client.call("GET", "/allocation_candidates?resources=VCPU:1", "1.10")
            #expect(old.json["allocation_requests"]?.arrayValue?.first?["allocations"]?.arrayValue != nil)
        }
    }

    @Test("reshaper moves inventory and allocations together, or not at all")
    func reshaper() async throws {
        try await withPlacementCloud { client in
            let root = try await client.createProvider("gpu-host")
            try await client.setInventory(root, ["VCPU": 8, "VGPU": 4])
            let instance = Identifier.uuid()
            let put = try await client.call("PUT", "/allocations/\(instance)", "1.37", json: [
                "allocations": [root: ["resources": ["VCPU": 1, "VGPU": 1]]], "project_id": "p", "user_id": "u", "consumer_generation": nil])
            #expect(put.status == 204)
            let child = try await client.createProvider("gpu0", parent: root)
            let tooSmall = try await client.call("POST", "/reshaper", "1.37", json: [
                "inventories": [
                    root: ["resource_provider_generation": 2, "inventories": ["VCPU": ["total": 8]]],
                    child: ["resource_provider_generation": 0, "inventories": ["VGPU": ["total": 4]]],
                ],
                "allocations": [:],
            ], token: "service")
            #expect(try await client.call("POST", "/reshaper", "1.37", json: ["inventories": [:], "allocations": [:]]).status == 403,
                    "the reshaper is the service role's alone, as in Placement")
            #expect(tooSmall.status == 409, "the VGPU allocation would be left without inventory")
            #expect(try await client.call("GET", "/resource_providers/\(root)/inventories").json["inventories"]?["VGPU"] != nil)
            let moved = try await client.call("POST", "/reshaper", "1.37", json: [
                "inventories": [
                    root: ["resource_provider_generation": 2, "inventories": ["VCPU": ["total": 8]]],
                    child: ["resource_provider_generation": 0, "inventories": ["VGPU": ["total": 4]]],
                ],
                "allocations": [instance: [
                    "allocations": [root: ["resources": ["VCPU": 1]], child: ["resources": ["VGPU": 1]]],
                    "project_id": "p", "user_id": "u", "consumer_generation": 1]],
            ], token: "service")
            #expect(moved.status == 204, "\(moved.json.encodedString())")
            let now = try await client.call("GET", "/allocations/\(instance)")
            #expect(now.json["allocations"]?[child]?["resources"]?["VGPU"] == 1)
            #expect(now.json["allocations"]?[root]?["resources"]?["VGPU"] == nil)
            #expect(try await client.call("POST", "/reshaper", "1.29", json: ["inventories": [:], "allocations": [:]], token: "service").status == 404)
        }
    }

    @Test("traits and resource classes: custom ones only, standard ones protected")
    func vocabulary() async throws {
        try await withPlacementCloud { client in
            #expect(try await client.call("PUT", "/traits/CUSTOM_GOLD").status == 201)
            #expect(try await client.call("PUT", "/traits/CUSTOM_GOLD").status == 204)
            #expect(try await client.call("PUT", "/traits/GOLD").status == 400)
            #expect(try await client.call("DELETE", "/traits/HW_CPU_X86_AVX2").status == 400)
            let listed = try await client.call("GET", "/traits?name=startswith:CUSTOM_")
            #expect(listed.json["traits"] == ["CUSTOM_GOLD"])
            #expect(try await client.call("POST", "/resource_classes", json: ["name": "CUSTOM_FPGA_X"]).status == 201)
            #expect(try await client.call("POST", "/resource_classes", json: ["name": "CUSTOM_FPGA_X"]).status == 409)
            #expect(try await client.call("POST", "/resource_classes", json: ["name": "FPGA_X"]).status == 400)
            #expect(try await client.call("DELETE", "/resource_classes/VCPU").status == 400)
            #expect(try await client.call("GET", "/resource_classes/CUSTOM_FPGA_X").status == 200)
            #expect(try await client.call("GET", "/traits", "1.5").status == 404, "traits arrive in 1.6")
        }
    }

    @Test("placement needs the admin or service role under keystone auth")
    func policy() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let demo = try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            #expect(try await http.request("GET", "/placement/resource_providers", token: demo).status == 403)
            #expect(try await http.request("GET", "/placement/resource_providers").status == 401)
            let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            #expect(try await http.request("GET", "/placement/resource_providers", token: admin).status == 200)
        }
    }
}
