import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// Evacuate on fake hosts: only from a host that is down, rebuilt on another, the dead source's hold dropped.
@Suite("Moving servers: evacuate")
struct ServerEvacuateTests {
    let moves = ServerMoveTests()

    func forceDown(_ client: ComputeClient, _ host: String, _ down: Bool = true) async throws {
        let services = try await client.call("GET", "/os-services").json["services"]?.arrayValue ?? []
        let id = try #require(services.first { $0["host"]?.stringValue == host }?["id"]?.stringValue)
        #expect(try await client.call("PUT", "/os-services/\(id)", json: ["forced_down": .bool(down)]).status == 200)
    }

    @Test("evacuate: refused while the source is up; once it is forced down the server is rebuilt on the other host, stopped ones stay stopped (and all at 2.95)")
    func evacuateFromADownHost() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let running = try await client.create("survivor")
            let stopped = try await client.create("sleeper")
            let atNew = try await client.create("newer")
            for id in [running, stopped, atNew] { _ = try await client.settle(id) }
            #expect(try await moves.act(client, stopped, ["os-stop": nil]).status == 202)
            #expect(try await client.settle(stopped)["status"] == "SHUTOFF")
            func evacuate(_ id: String, _ body: JSON = [:], version: String = "2.90") async throws -> TestHTTP.Reply {
                try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: client.token, json: ["evacuate": body],
                                              headers: ["OpenStack-API-Version": "compute \(version)"])
            }
            let sourceOf = { (id: String) async throws -> String in try #require(moves.host(try await client.settle(id))) }
            let up = try await evacuate(running)
            #expect(up.status == 400)
            #expect(up.json["badRequest"]?["message"]?.stringValue == "Compute service of \(try await sourceOf(running)) is still in use.")
            #expect(try await evacuate(running, ["host": "nowhere"]).status == 404)
            #expect(try await evacuate(running, ["host": .string(try await sourceOf(running))]).json["badRequest"]?["message"] == "The target host can't be the same one.")
            #expect(try await evacuate(running, ["force": true]).status == 400, "force is gone at 2.68")
            #expect(try await evacuate(running, ["onSharedStorage": false], version: "2.13").status == 400, "the source is up")
            for id in [running, stopped, atNew] {
                let source = try await sourceOf(id)
                try await forceDown(client, source)
                let reply = try await evacuate(id, [:], version: id == atNew ? "2.95" : "2.90")
                #expect(reply.status == 200, "\(reply.json.encodedString())")
                let server = try await client.settle(id)
                let dest = try #require(moves.host(server))
                #expect(dest != source)
                #expect(server["status"]?.stringValue == (id == running ? "ACTIVE" : "SHUTOFF"), "\(id == atNew ? "2.95" : "")")
                try await expectEventually { try await moves.migrations(client, "?instance_uuid=\(id)").first?["status"] == "done" }
                let record = try await moves.migrations(client, "?instance_uuid=\(id)").first
                #expect(record?["migration_type"] == "evacuation")
                #expect(record?["source_compute"]?.stringValue == source)
                #expect(record?["dest_compute"]?.stringValue == dest)
                #expect(cloud.fakeDrivers[dest]?.guestState(id) == (id == running ? .running : .stopped))
                try await forceDown(client, source, false)
            }
            try await expectEventually { try await client.placementUsage() == 3 * 128 }
            let names = try await moves.events(client, running, action: "evacuate").compactMap { $0["event"]?.stringValue }
            #expect(names == ["conductor_rebuild_server", "compute_rebuild_instance"])
        }
    }

    @Test("evacuate failures: no other host → error, the server unchanged; the destination fails the spawn, or finds the disk not where 2.13's onSharedStorage said → ERROR, back on the dead source")
    func evacuateFailures() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("stranded")
            let source = try #require(moves.host(try await client.settle(id)))
            let dest = source == "fake-1" ? "fake-2" : "fake-1"
            try await forceDown(client, source)
            try await forceDown(client, dest)
            #expect(try await moves.act(client, id, ["evacuate": [:]]).status == 200)
            try await expectEventually { try await moves.migrations(client, "?instance_uuid=\(id)").first?["status"] == "error" }
            var server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(moves.host(server) == source)
            try await forceDown(client, dest, false)
            cloud.fakeDrivers[dest]?.failNextSpawns(1)
            #expect(try await moves.act(client, id, ["evacuate": [:]]).status == 200)
            try await expectEventually { try await moves.migrations(client, "?instance_uuid=\(id)").first?["status"] == "failed" }
            server = try await client.settle(id)
            #expect(server["status"] == "ERROR")
            #expect(moves.host(server) == source)
            try await expectEventually { try await client.placementUsage(host: dest) == 0 }
            #expect(try await client.placementUsage(host: source) == 128)
            // Before 2.14 the admin says where the disk is, and the destination checks: these fake hosts share no
            // storage, so "on shared storage" fails the rebuild there with Nova's fault (nothing made, nothing held).
            func evacuate213(_ shared: Bool) async throws -> Int {
                try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: client.token,
                                              json: ["evacuate": ["onSharedStorage": .bool(shared)]],
                                              headers: ["OpenStack-API-Version": "compute 2.13"]).status
            }
            #expect(try await evacuate213(true) == 200)
            try await expectEventually {
                try await moves.migrations(client, "?instance_uuid=\(id)").filter { $0["status"] == "failed" }.count == 2
            }
            server = try await client.settle(id)
            #expect(server["status"] == "ERROR")
            #expect(server["fault"]?["message"] == "Invalid state of instance files on shared storage")
            #expect(moves.host(server) == source)
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == nil)
            try await expectEventually { try await client.placementUsage(host: dest) == 0 }
            // From ERROR an evacuation is allowed again, and works (here with the storage said as it is).
            #expect(try await evacuate213(false) == 200)
            try await expectEventually { try await moves.migrations(client, "?instance_uuid=\(id)").first?["status"] == "done" }
            server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(moves.host(server) == dest)
            try await expectEventually { try await client.placementUsage(host: source) == 0 }
        }
    }
}
