import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

extension ComputeClient {
    func createGroup(_ name: String, policy: String, maxPerHost: Int? = nil) async throws -> String {
        var group: [String: JSON] = ["name": .string(name), "policy": .string(policy)]
        if let maxPerHost { group["rules"] = ["max_server_per_host": .int(maxPerHost)] }
        let reply = try await call("POST", "/os-server-groups", json: ["server_group": .object(group)])
        guard reply.status == 200, let id = reply.json["server_group"]?["id"]?.stringValue else {
            throw StratusError.badRequest("group create failed: \(reply.status) \(reply.json.encodedString())")
        }
        return id
    }

    func concurrentCreates(_ count: Int, prefix: String, hints: JSON? = nil) async throws -> [String] {
        try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<count { group.addTask { try await create("\(prefix)\(i)", hints: hints) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
    }
}

@Suite("Server groups")
struct ServerGroupTests {
    @Test("50 concurrent boots into an anti-affinity group over 50 hosts land on 50 distinct hosts; a 51st has no valid host")
    func antiAffinityUnderConcurrency() async throws {
        try await withComputeCloud(hosts: 50, extra: "[quota]\nserver_group_members = -1\n") { client, _ in
            let group = try await client.createGroup("spread", policy: "anti-affinity")
            let ids = try await client.concurrentCreates(50, prefix: "aa", hints: ["group": .string(group)])
            var hosts: [String] = []
            for id in ids {
                let server = try await client.settle(id)
                #expect(server["status"] == "ACTIVE", "\(server["fault"] ?? .null)")
                hosts.append(server["OS-EXT-SRV-ATTR:host"]?.stringValue ?? "none")
            }
            #expect(Set(hosts).count == 50)
            let shown = try await client.call("GET", "/os-server-groups/\(group)")
            #expect(Set(shown.json["server_group"]?["members"]?.arrayValue?.compactMap(\.stringValue) ?? []) == Set(ids))

            let extra = try await client.settle(try await client.create("aa-extra", hints: ["group": .string(group)]))
            #expect(extra["status"] == "ERROR")
            #expect(extra["fault"]?["message"]?.stringValue?.hasPrefix("No valid host was found") == true)
            #expect(extra["fault"]?["details"]?.stringValue?.contains("ServerGroupAntiAffinityFilter") == true)
        }
    }

    @Test("affinity: concurrent members share one host; anti-affinity with max_server_per_host 2 puts two per host")
    func affinityAndRules() async throws {
        try await withComputeCloud(hosts: 3, extra: "[quota]\nserver_group_members = -1\n") { client, _ in
            let together = try await client.createGroup("together", policy: "affinity")
            var hosts = Set<String>()
            for id in try await client.concurrentCreates(6, prefix: "af", hints: ["group": .string(together)]) {
                let server = try await client.settle(id)
                #expect(server["status"] == "ACTIVE")
                hosts.insert(server["OS-EXT-SRV-ATTR:host"]?.stringValue ?? "none")
            }
            #expect(hosts.count == 1)

            let pairs = try await client.createGroup("pairs", policy: "anti-affinity", maxPerHost: 2)
            var perHost: [String: Int] = [:]
            for id in try await client.concurrentCreates(6, prefix: "pr", hints: ["group": .string(pairs)]) {
                let server = try await client.settle(id)
                #expect(server["status"] == "ACTIVE")
                perHost[server["OS-EXT-SRV-ATTR:host"]?.stringValue ?? "none", default: 0] += 1
            }
            #expect(perHost.values.sorted() == [2, 2, 2])
        }
    }

    @Test("soft-anti-affinity spreads; same_host and different_host hints are honoured")
    func softPoliciesAndHostHints() async throws {
        try await withComputeCloud(hosts: 3) { client, _ in
            let soft = try await client.createGroup("soft", policy: "soft-anti-affinity")
            var hosts: [String] = []
            for i in 0..<3 {
                let server = try await client.settle(try await client.create("soft\(i)", hints: ["group": .string(soft)]))
                hosts.append(server["OS-EXT-SRV-ATTR:host"]?.stringValue ?? "none")
            }
            #expect(Set(hosts).count == 3)

            let anchor = try await client.create("anchor")
            let anchorHost = try await client.settle(anchor)["OS-EXT-SRV-ATTR:host"]?.stringValue
            let near = try await client.settle(try await client.create("near", hints: ["same_host": [.string(anchor)]]))
            #expect(near["OS-EXT-SRV-ATTR:host"]?.stringValue == anchorHost)
            let far = try await client.settle(try await client.create("far", hints: ["different_host": .string(anchor)]))
            #expect(far["status"] == "ACTIVE")
            #expect(far["OS-EXT-SRV-ATTR:host"]?.stringValue != anchorHost)
        }
    }

    @Test("anti-affinity members moved at once never share a host; the group follows its members, so a new member goes where it has room")
    func movesKeepThePolicy() async throws {
        try await withComputeCloud(hosts: 3) { client, _ in
            let group = try await client.createGroup("movers", policy: "anti-affinity")
            let members = try await client.concurrentCreates(2, prefix: "mv", hints: ["group": .string(group)])
            func host(_ id: String) async throws -> String? { try await client.settle(id)["OS-EXT-SRV-ATTR:host"]?.stringValue }
            let before = [try await host(members[0]), try await host(members[1])]
            #expect(Set(before.compactMap { $0 }).count == 2)
            // Two of three hosts hold a member: the first move to be judged takes the free one, and the other may go to
            // the host the first just left, or find no host; never both on one.
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for id in members {
                    tasks.addTask { _ = try await client.call("POST", "/servers/\(id)/action", json: ["migrate": nil]) }
                }
                try await tasks.waitForAll()
            }
            var after: [String] = []
            for id in members {
                let server = try await client.settle(id)
                #expect(["VERIFY_RESIZE", "ACTIVE"].contains(server["status"]?.stringValue ?? ""), "\(server.encodedString())")
                if server["status"] == "VERIFY_RESIZE" {
                    #expect(try await client.call("POST", "/servers/\(id)/action", json: ["confirmResize": nil]).status == 204)
                }
                after.append(try #require(try await host(id)))
            }
            #expect(Set(after).count == 2, "members share a host: \(after)")
            #expect(zip(before, after).contains { $0 != $1 }, "at least one member moved")
            // The third host is the one no member is on now, whatever the moves did: a new member must land there.
            let free = try #require(Set(["fake-1", "fake-2", "fake-3"]).subtracting(after).first)
            let third = try await client.create("mv-new", hints: ["group": .string(group)])
            #expect(try await host(third) == free)
        }
    }

    @Test("an anti-affinity member on the move counts on its source and its destination until the move ends: a new member finds no host meanwhile, and the source is free once the move is aborted")
    func movingMemberCountsOnBothHosts() async throws {
        try await withComputeCloud(hosts: 3) { client, cloud in
            let group = try await client.createGroup("both", policy: "anti-affinity")
            let members = try await client.concurrentCreates(2, prefix: "mb", hints: ["group": .string(group)])
            func host(_ id: String) async throws -> String? { try await client.settle(id)["OS-EXT-SRV-ATTR:host"]?.stringValue }
            let mover = members[0]
            let source = try #require(try await host(mover))
            let driver = try #require(cloud.fakeDrivers[source])
            driver.setLiveMigrationCopyTime(.seconds(60))
            #expect(try await client.call("POST", "/servers/\(mover)/action", json: ["os-migrateLive": ["host": .null, "block_migration": "auto"]]).status == 202)
            try await expectEventually { driver.liveMigrating.contains(mover) }
            // Source, destination and the other member's host: no room left under the policy while the copy runs.
            let blocked = try await client.settle(try await client.create("mb-during", hints: ["group": .string(group)]))
            #expect(blocked["status"] == "ERROR", "a member took the moving member's source: \(blocked["OS-EXT-SRV-ATTR:host"] ?? .null)")
            #expect(blocked["fault"]?["message"]?.stringValue?.hasPrefix("No valid host") == true)
            // Aborted, the mover is back on its source, which the policy never gave away; the destination is free again.
            let migration = try #require(try await client.call("GET", "/servers/\(mover)/migrations").json["migrations"]?.arrayValue?.first?["id"]?.intValue)
            #expect(try await client.call("DELETE", "/servers/\(mover)/migrations/\(migration)").status == 202)
            try await expectEventually { try await client.call("GET", "/os-migrations?instance_uuid=\(mover)").json["migrations"]?.arrayValue?.first?["status"] == "cancelled" }
            #expect(try await host(mover) == source)
            let taken = Set([source, try #require(try await host(members[1]))])
            let after = try await client.create("mb-after", hints: ["group": .string(group)])
            let landed = try #require(try await host(after))
            #expect(!taken.contains(landed))
        }
    }

    @Test("group API: shapes before and after 2.64, bad policies and rules are 400, other projects get 404, quota 403")
    func groupAPI() async throws {
        try await withComputeCloud(hosts: 0) { client, cloud in
            let old = try await client.http.request("POST", "/compute/v2.1/os-server-groups", token: client.token,
                json: ["server_group": ["name": "legacy", "policies": ["affinity"]]], headers: ["OpenStack-API-Version": "compute 2.1"])
            #expect(old.status == 200)
            #expect(old.json["server_group"]?["policies"] == ["affinity"])
            #expect(old.json["server_group"]?["metadata"] == [:])
            let id = try #require(old.json["server_group"]?["id"]?.stringValue)
            let new = try await client.call("GET", "/os-server-groups/\(id)")
            #expect(new.json["server_group"]?["policy"] == "affinity")
            #expect(new.json["server_group"]?["rules"] == [:])

            let bad: [JSON] = [
                ["server_group": ["name": "x", "policy": "sideways"]],
                ["server_group": ["name": "x", "policy": "affinity", "rules": ["max_server_per_host": 2]]],
                ["server_group": ["name": "x", "policy": "anti-affinity", "rules": ["max_server_per_host": 0]]],
                ["server_group": ["policy": "affinity"]],
            ]
            for body in bad {
                let reply = try await client.call("POST", "/os-server-groups", json: body)
                #expect(reply.status == 400, "\(body.encodedString()) → \(reply.status)")
            }
            let unknown = try await client.call("POST", "/servers", json: ["server": [
                "name": "x", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none"], "os:scheduler_hints": ["group": "no-such-group"]])
            #expect(unknown.status == 400)

            let demo = try await client.http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            #expect(try await client.http.request("GET", "/compute/v2.1/os-server-groups/\(id)", token: demo).status == 404)
            for i in 0..<10 {
                let reply = try await client.http.request("POST", "/compute/v2.1/os-server-groups", token: demo,
                    json: ["server_group": ["name": .string("g\(i)"), "policies": ["affinity"]]])
                #expect(reply.status == 200)
            }
            let over = try await client.http.request("POST", "/compute/v2.1/os-server-groups", token: demo,
                json: ["server_group": ["name": "g11", "policies": ["affinity"]]])
            #expect(over.status == 403)
            #expect(over.json["forbidden"]?["message"]?.stringValue?.contains("server groups") == true)
            #expect(try await client.call("DELETE", "/os-server-groups/\(id)").status == 204)
            #expect(try await client.call("GET", "/os-server-groups/\(id)").status == 404)
        }
    }
}
