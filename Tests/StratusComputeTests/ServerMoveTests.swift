import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// Cold migration and resize on fake hosts, asserted through the Compute and Placement APIs.
@Suite("Moving servers: cold migration and resize")
struct ServerMoveTests {
    func act(_ client: ComputeClient, _ id: String, _ body: JSON) async throws -> TestHTTP.Reply {
        try await client.call("POST", "/servers/\(id)/action", json: body)
    }

    func host(_ server: JSON) -> String? { server["OS-EXT-SRV-ATTR:host"]?.stringValue }

    /// Polls until the server leaves VERIFY_RESIZE (a confirm sets no task state, as in Nova), or 60 s pass.
    func confirmed(_ client: ComputeClient, _ id: String) async throws -> JSON {
        for _ in 0..<1200 {
            let server = try await client.settle(id)
            if server["status"] != "VERIFY_RESIZE" { return server }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw StratusError.badRequest("server \(id) stayed in VERIFY_RESIZE")
    }

    func migrations(_ client: ComputeClient, _ query: String = "") async throws -> [JSON] {
        try await client.call("GET", "/os-migrations" + query).json["migrations"]?.arrayValue ?? []
    }

    /// The server's events of its newest action named `action`.
    func events(_ client: ComputeClient, _ id: String, action: String) async throws -> [JSON] {
        let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue ?? []
        guard let requestID = actions.first(where: { $0["action"]?.stringValue == action })?["request_id"]?.stringValue else { return [] }
        return try await client.call("GET", "/servers/\(id)/os-instance-actions/\(requestID)").json["instanceAction"]?["events"]?.arrayValue ?? []
    }

    @Test("migrate → VERIFY_RESIZE on the other host, the source held by the migration; confirm frees the source")
    func migrateAndConfirm() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("mover")
            let source = try #require(host(try await client.settle(id)))
            #expect(try await act(client, id, ["migrate": nil]).status == 202)
            let moved = try await client.settle(id)
            #expect(moved["status"] == "VERIFY_RESIZE")
            let dest = try #require(host(moved))
            #expect(dest != source)
            // Nova's migration-owned allocations: the source stays held until the move is confirmed.
            #expect(try await client.placementUsage(host: source) == 128)
            #expect(try await client.placementUsage(host: dest) == 128)
            let listed = try await migrations(client, "?instance_uuid=\(id)")
            #expect(listed.count == 1)
            #expect(listed.first?["status"] == "finished")
            #expect(listed.first?["migration_type"] == "migration")
            #expect(listed.first?["source_compute"]?.stringValue == source)
            #expect(listed.first?["dest_compute"]?.stringValue == dest)
            #expect(try await act(client, id, ["confirmResize": nil]).status == 204)
            let kept = try await confirmed(client, id)
            #expect(kept["status"] == "ACTIVE")
            #expect(host(kept) == dest)
            try await expectEventually { try await client.placementUsage(host: source) == 0 }
            #expect(try await client.placementUsage(host: dest) == 128)
            #expect(try await migrations(client, "?instance_uuid=\(id)").first?["status"] == "confirmed")
            #expect(cloud.fakeDrivers[source]?.guestState(id) == nil)
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == .running)
            let names = try await events(client, id, action: "migrate").compactMap { $0["event"]?.stringValue }
            #expect(names == ["conductor_migrate_server", "compute_resize_instance", "compute_finish_resize"])
            // Confirming twice: nothing is resized any more.
            #expect(try await act(client, id, ["confirmResize": nil]).status == 409)

            // The channel takes a move's report only from its source or destination; an unknown migration is a 404.
            let service = try await client.http.token(user: "nova", password: cloud.credentials.servicePassword, project: "service")
            let migration = try #require(listed.first?["uuid"]?.stringValue)
            let registered = try await AgentChannelTests.post(client.http, "/reports", service, json: [
                "version": 1, "op": "register_host", "host": "intruder", "zone": "nova", "hypervisor_type": "fake",
                "hypervisor_version": 1, "cpu_info": [:], "resources": ["vcpus": 1, "memory_mb": 64, "local_gb": 1]])
            #expect(registered.status == 200)
            func moveReport(_ host: String, _ migration: String) async throws -> TestHTTP.Reply {
                try await AgentChannelTests.post(client.http, "/reports", service, json: [
                    "version": 1, "op": "moved", "host": .string(host), "migration": .string(migration), "instance": .string(id),
                    "step": "finish_revert_resize", "started": 1])
            }
            #expect(try await moveReport("intruder", migration).status == 409)
            #expect(try await moveReport(dest, Identifier.uuid()).status == 404)
            #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "ACTIVE")
        }
    }

    @Test("resize up, revert: back on the source with the old flavor and usage; resize again and confirm keeps the new")
    func resizeRevertAndConfirm() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("grower")
            let source = try #require(host(try await client.settle(id)))
            #expect(try await act(client, id, ["resize": ["flavorRef": "84"]]).status == 202)
            let resized = try await client.settle(id)
            #expect(resized["status"] == "VERIFY_RESIZE")
            #expect(resized["flavor"]?["original_name"] == "m1.micro")
            let dest = try #require(host(resized))
            #expect(try await client.placementUsage(host: dest) == 192)
            #expect(try await client.placementUsage(host: source) == 128)
            #expect(try await act(client, id, ["revertResize": nil]).status == 202)
            let reverted = try await client.settle(id)
            #expect(reverted["status"] == "ACTIVE")
            #expect(host(reverted) == source)
            #expect(reverted["flavor"]?["original_name"] == "m1.nano")
            #expect(try await client.placementUsage(host: source) == 128)
            #expect(try await client.placementUsage(host: dest) == 0)
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == nil)
            #expect(cloud.fakeDrivers[source]?.guestState(id) == .running)
            #expect(try await migrations(client, "?instance_uuid=\(id)").first?["status"] == "reverted")

            #expect(try await act(client, id, ["resize": ["flavorRef": "84"]]).status == 202)
            #expect(try await client.settle(id)["status"] == "VERIFY_RESIZE")
            #expect(try await act(client, id, ["confirmResize": nil]).status == 204)
            let kept = try await confirmed(client, id)
            #expect(kept["status"] == "ACTIVE")
            #expect(kept["flavor"]?["original_name"] == "m1.micro")
            try await expectEventually { try await client.placementUsage() == 192 }
            let statuses = try await migrations(client, "?instance_uuid=\(id)").compactMap { $0["status"]?.stringValue }
            #expect(statuses == ["confirmed", "reverted"])
        }
    }

    @Test("seed-002: ten concurrent migrations where the host with the most free RAM fits five: none in ERROR, at most five there")
    func tenConcurrentMigrations() async throws {
        let extra = """
            [DEFAULT]
            cpu_allocation_ratio = 1.0
            [fake_driver]
            host_resources = fake-1=vcpus:5,memory_mb:102400;fake-2=vcpus:50,memory_mb:10240;fake-3=vcpus:50,memory_mb:10240
            """
        try await withComputeCloud(hosts: 3, extra: extra) { client, _ in
            let services = try await client.call("GET", "/os-services").json["services"]?.arrayValue ?? []
            func service(_ host: String) -> String { services.first { $0["host"]?.stringValue == host }?["id"]?.stringValue ?? "" }
            // Everything starts on fake-3: the other two are disabled while the servers are built.
            for host in ["fake-1", "fake-2"] {
                #expect(try await client.call("PUT", "/os-services/\(service(host))", json: ["status": "disabled"]).status == 200)
            }
            var ids: [String] = []
            for i in 0..<10 { ids.append(try await client.create("s\(i)")) }
            for id in ids { #expect(host(try await client.settle(id)) == "fake-3") }
            for host in ["fake-1", "fake-2"] {
                #expect(try await client.call("PUT", "/os-services/\(service(host))", json: ["status": "enabled"]).status == 200)
            }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for id in ids { group.addTask { try await act(client, id, ["migrate": nil]).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 202, count: 10))
            var landed: [String: Int] = [:]
            for id in ids {
                let server = try await client.settle(id)
                #expect(server["status"] == "VERIFY_RESIZE", "\(id): \(server["status"] ?? .null) \(server["fault"] ?? .null)")
                landed[host(server) ?? "none", default: 0] += 1
            }
            #expect((landed["fake-1"] ?? 0) <= 5)
            #expect((landed["fake-1"] ?? 0) + (landed["fake-2"] ?? 0) == 10, "\(landed)")
            #expect(try await client.placementUsage("VCPU", host: "fake-1") == landed["fake-1"] ?? 0)
            for id in ids { #expect(try await act(client, id, ["confirmResize": nil]).status == 204) }
            for id in ids { #expect(try await confirmed(client, id)["status"] == "ACTIVE") }
            try await expectEventually { try await client.placementUsage("VCPU", host: "fake-3") == 0 }
            #expect(try await client.placementUsage("VCPU") == 10)
        }
    }

    @Test("no host with room: the migration ends in error with NoValidHost, the server stays ACTIVE on its source")
    func noValidHost() async throws {
        let extra = "[fake_driver]\nhost_resources = fake-2=memory_mb:64\n"
        try await withComputeCloud(hosts: 2, extra: extra) { client, _ in
            let id = try await client.create("stuck")
            #expect(host(try await client.settle(id)) == "fake-1")
            #expect(try await act(client, id, ["migrate": nil]).status == 202)
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(host(server) == "fake-1")
            let migration = try #require(try await migrations(client, "?instance_uuid=\(id)").first)
            #expect(migration["status"] == "error")
            let event = try await events(client, id, action: "migrate").first
            #expect(event?["event"] == "conductor_migrate_server")
            #expect(event?["result"] == "Error")
            #expect(event?["traceback"]?.stringValue?.contains("No valid host was found. No valid host found for cold migrate") == true
                    || event?["details"]?.stringValue?.contains("No valid host") == true)
            #expect(try await client.placementUsage(host: "fake-1") == 128)
            #expect(try await client.placementUsage() == 128)
        }
    }

    @Test("a failing step rolls back: source refuses, or destination cannot start → ACTIVE on the source, nothing held elsewhere; a retry succeeds")
    func failedStepsRollBack() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("fragile")
            let source = try #require(host(try await client.settle(id)))
            let dest = source == "fake-1" ? "fake-2" : "fake-1"
            cloud.fakeDrivers[source]?.failNextMoves(.resizeInstance)
            #expect(try await act(client, id, ["migrate": nil]).status == 202)
            var server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(host(server) == source)
            #expect(try await client.placementUsage(host: dest) == 0)

            cloud.fakeDrivers[dest]?.failNextMoves(.finishResize)
            #expect(try await act(client, id, ["migrate": nil]).status == 202)
            server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE", "\(server["status"] ?? .null)")
            #expect(host(server) == source)
            #expect(try await client.placementUsage(host: dest) == 0)
            #expect(try await client.placementUsage(host: source) == 128)
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == nil)
            #expect(cloud.fakeDrivers[source]?.guestState(id) == .running)
            #expect(try await migrations(client, "?instance_uuid=\(id)").compactMap { $0["status"]?.stringValue } == ["error", "error"])

            #expect(try await act(client, id, ["migrate": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "VERIFY_RESIZE")
        }
    }

    @Test("bad input: Nova's status and message for each, nothing changed")
    func badInput() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("picky")
            let source = try #require(host(try await client.settle(id)))
            func refused(_ body: JSON, _ status: Int, _ message: String) async throws {
                let reply = try await act(client, id, body)
                #expect(reply.status == status, "\(body.encodedString()): \(reply.status)")
                let fault = reply.json.objectValue?.values.first
                #expect(fault?["message"]?.stringValue?.contains(message) == true, "\(reply.json.encodedString())")
            }
            try await refused(["migrate": ["host": .string(source)]], 400, "Cannot migrate to the host where the server exists.")
            try await refused(["migrate": ["host": "nowhere"]], 400, "Compute host nowhere could not be found.")
            try await refused(["migrate": ["hots": "x"]], 400, "Additional properties are not allowed")
            try await refused(["resize": ["flavorRef": "42"]], 400, "When resizing, instances must change flavor!")
            try await refused(["resize": ["flavorRef": "999"]], 400, "Unable to locate requested flavor.")
            try await refused(["resize": [:]], 400, "flavorRef")
            try await refused(["confirmResize": nil], 409, "Cannot 'confirmResize' instance \(id) while it is in vm_state active")
            try await refused(["revertResize": nil], 409, "Cannot 'revertResize' instance \(id) while it is in vm_state active")
            // Resizing the disk down fails on the source, as Nova's driver does: still ACTIVE, the reason recorded.
            let small = try await client.call("POST", "/flavors", json: ["flavor": ["name": "tiny-disk", "ram": 128, "vcpus": 1, "disk": 0]])
            #expect(small.status == 200)
            let smallID = try #require(small.json["flavor"]?["id"]?.stringValue)
            try await refused(["resize": ["flavorRef": .string(smallID)]], 400, "Resize to zero disk flavor is not allowed.")
            // A larger flavor must fit the project's quota (Nova's upsize check): one core used of one, m1.medium has two.
            let project = try #require(try await client.http.projectID(token: client.token))
            #expect(try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["cores": 1]]).status == 200)
            try await refused(["resize": ["flavorRef": "3"]], 403, "Quota exceeded for cores: Requested 1, but already used 1 of 1 cores")
            #expect(try await client.call("PUT", "/os-quota-sets/\(project)", json: ["quota_set": ["cores": -1]]).status == 200)
            #expect(try await migrations(client, "?instance_uuid=\(id)").isEmpty, "nothing recorded")
            let large = try await client.call("POST", "/flavors", json: ["flavor": ["name": "big-disk", "ram": 128, "vcpus": 1, "disk": 5]])
            let largeID = try #require(large.json["flavor"]?["id"]?.stringValue)
            let big = try await client.create("big", flavor: largeID)
            _ = try await client.settle(big)
            #expect(try await act(client, big, ["resize": ["flavorRef": "42"]]).status == 202)
            let unshrunk = try await client.settle(big)
            #expect(unshrunk["status"] == "ACTIVE")
            #expect(unshrunk["flavor"]?["original_name"] == "big-disk")
            #expect(try await migrations(client, "?instance_uuid=\(big)").first?["status"] == "error")
            let failure = try await events(client, big, action: "resize").last
            #expect(failure?["event"] == "compute_resize_instance")
            #expect(failure?["result"] == "Error")
            try await expectEventually { try await client.placementUsage() == 256 }
            #expect(try await act(client, id, ["os-stop": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "SHUTOFF")
            // A stopped server moves too, and stays stopped.
            #expect(try await act(client, id, ["migrate": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "VERIFY_RESIZE")
            #expect(try await act(client, id, ["confirmResize": nil]).status == 204)
            let stopped = try await confirmed(client, id)
            #expect(stopped["status"] == "SHUTOFF")
            #expect(cloud.fakeDrivers[host(stopped) ?? ""]?.guestState(id) == .stopped)
            // A member may resize its own server but not migrate it (admin only).
            let demo = try await client.http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let member = try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: demo, json: ["migrate": nil],
                                                       headers: ["OpenStack-API-Version": "compute 2.90"])
            #expect(member.status == 403 || member.status == 404)
            #expect(try await migrations(client, "?instance_uuid=\(id)").count == 1)
        }
    }

    @Test("deleting a server in VERIFY_RESIZE frees both hosts: no allocation, no guest left on either")
    func deleteWhileResized() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("leaver")
            let source = try #require(host(try await client.settle(id)))
            #expect(try await act(client, id, ["resize": ["flavorRef": "84"]]).status == 202)
            let dest = try #require(host(try await client.settle(id)))
            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
            try await expectEventually { try await client.placementUsage() == 0 }
            try await expectEventually { cloud.fakeDrivers[source]?.guestState(id) == nil && cloud.fakeDrivers[dest]?.guestState(id) == nil }
            #expect(try await migrations(client, "?instance_uuid=\(id)").first?["status"] == "confirmed")
        }
    }

    @Test("allow_resize_to_same_host: a resize on the only host, reverted and then confirmed, keeps its one guest running")
    func resizeOnSameHost() async throws {
        try await withComputeCloud(hosts: 1, extra: "[DEFAULT]\nallow_resize_to_same_host = true\n") { client, cloud in
            let id = try await client.create("stayer")
            _ = try await client.settle(id)
            let driver = try #require(cloud.fakeDrivers["fake-1"])
            // A cold migration still needs another host.
            #expect(try await act(client, id, ["migrate": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            #expect(try await act(client, id, ["resize": ["flavorRef": "84"]]).status == 202)
            #expect(try await client.settle(id)["status"] == "VERIFY_RESIZE")
            #expect(try await client.placementUsage() == 128 + 192)
            #expect(try await act(client, id, ["revertResize": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            #expect(driver.guestState(id) == .running)
            #expect(try await client.placementUsage() == 128)
            #expect(try await act(client, id, ["resize": ["flavorRef": "84"]]).status == 202)
            #expect(try await client.settle(id)["status"] == "VERIFY_RESIZE")
            #expect(try await act(client, id, ["confirmResize": nil]).status == 204)
            #expect(try await confirmed(client, id)["status"] == "ACTIVE")
            #expect(driver.guestState(id) == .running)
            try await expectEventually { try await client.placementUsage() == 192 }
        }
    }

    @Test("os-migrations: filters, 2.59 paging with a next link, unknown parameters and bad times refused")
    func listMigrations() async throws {
        try await withComputeCloud(hosts: 2) { client, _ in
            var ids: [String] = []
            for name in ["a", "b", "c"] {
                let id = try await client.create(name)
                _ = try await client.settle(id)
                #expect(try await act(client, id, ["migrate": nil]).status == 202)
                let moved = try await client.settle(id)
                #expect(moved["status"] == "VERIFY_RESIZE", "\(name): \(moved["status"] ?? .null) \(moved["fault"] ?? .null)")
                ids.append(id)
            }
            #expect(try await migrations(client).count == 3)
            #expect(try await migrations(client, "?status=finished&migration_type=migration").count == 3)
            #expect(try await migrations(client, "?migration_type=resize").isEmpty)
            #expect(try await migrations(client, "?instance_uuid=\(ids[1])").count == 1)
            let page = try await client.call("GET", "/os-migrations?limit=2").json
            #expect(page["migrations"]?.arrayValue?.count == 2)
            #expect(page["migrations"]?.arrayValue?.first?["instance_uuid"]?.stringValue == ids[2])  // newest first
            #expect(page["migrations_links"]?.arrayValue?.first?["href"]?.stringValue?.contains("marker=") == true)
            let marker = try #require(page["migrations"]?.arrayValue?.last?["uuid"]?.stringValue)
            #expect(try await migrations(client, "?limit=2&marker=\(marker)").count == 1)
            #expect(try await client.call("GET", "/os-migrations?marker=nope").status == 400)
            #expect(try await client.call("GET", "/os-migrations?bogus=1").status == 400)
            #expect(try await client.call("GET", "/os-migrations?changes-since=yesterday").status == 400)
            let reversed = try await client.call("GET", "/os-migrations?changes-since=2030-01-01T00:00:00Z&changes-before=2020-01-01T00:00:00Z")
            #expect(reversed.status == 400)
            #expect(try await migrations(client, "?changes-since=2030-01-01T00:00:00Z").isEmpty)
            #expect(try await client.call("GET", "/servers/\(ids[0])/migrations").json["migrations"]?.arrayValue?.isEmpty == true)
        }
    }
}

