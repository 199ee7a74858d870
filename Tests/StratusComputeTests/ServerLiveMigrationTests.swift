import Foundation
import StratusCloud
import StratusComputeAgent
import StratusCore
import StratusTesting
import Testing

/// Live migration on fake hosts, asserted through the Compute and Placement APIs: the workflow, its failures at
/// each step, abort, force-complete, progress and `max_concurrent_live_migrations`.
@Suite("Moving servers: live migration")
struct ServerLiveMigrationTests {
    let moves = ServerMoveTests()

    func liveMigrate(_ client: ComputeClient, _ id: String, host: String? = nil, block: JSON = "auto") async throws -> TestHTTP.Reply {
        try await moves.act(client, id, ["os-migrateLive": ["host": host.map { .string($0) } ?? .null, "block_migration": block]])
    }

    func migration(_ client: ComputeClient, _ id: String) async throws -> JSON? {
        try await moves.migrations(client, "?instance_uuid=\(id)").first
    }

    /// A new server whose live migration copies for a minute (until forced or aborted), once its copy has begun.
    func slowLiveMigration(_ client: ComputeClient, _ cloud: ReadyCloud, _ name: String,
                           prepare: (FakeDriver) -> Void = { _ in }) async throws -> (id: String, source: String, driver: FakeDriver) {
        let id = try await client.create(name)
        let source = try #require(moves.host(try await client.settle(id)))
        let driver = try #require(cloud.fakeDrivers[source])
        driver.setLiveMigrationCopyTime(.seconds(60))
        prepare(driver)
        #expect(try await liveMigrate(client, id).status == 202)
        try await expectEventually { driver.liveMigrating.contains(id) }
        return (id, source, driver)
    }

    @Test("live migration: ACTIVE on the other host, the source freed and its guest gone, the migration completed with Nova's events")
    func liveMigrateAndComplete() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("runner")
            let source = try #require(moves.host(try await client.settle(id)))
            #expect(try await liveMigrate(client, id).status == 202)
            let moved = try await client.settle(id)
            #expect(moved["status"] == "ACTIVE")
            let dest = try #require(moves.host(moved))
            #expect(dest != source)
            try await expectEventually { try await migration(client, id)?["status"] == "completed" }
            let record = try #require(try await migration(client, id))
            #expect(record["migration_type"] == "live-migration")
            #expect(record["source_compute"]?.stringValue == source)
            #expect(record["dest_compute"]?.stringValue == dest)
            try await expectEventually { try await client.placementUsage(host: source) == 0 }
            #expect(try await client.placementUsage(host: dest) == 128)
            #expect(cloud.fakeDrivers[source]?.guestState(id) == nil)
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == .running)
            let names = try await moves.events(client, id, action: "live-migration").compactMap { $0["event"]?.stringValue }
            #expect(names == ["conductor_live_migrate_instance", "compute_check_can_live_migrate_destination",
                              "compute_check_can_live_migrate_source", "compute_pre_live_migration", "compute_live_migration",
                              "compute_post_live_migration_at_destination", "compute_post_live_migration"])
            // Back again, to the host it came from (named): A → B → A.
            #expect(try await liveMigrate(client, id, host: source, block: true).status == 202)
            try await expectEventually { try await moves.migrations(client, "?instance_uuid=\(id)&status=completed").count == 2 }
            #expect(moves.host(try await client.settle(id)) == source)
            try await expectEventually { try await client.placementUsage(host: dest) == 0 }
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == nil)
            #expect(cloud.fakeDrivers[source]?.guestState(id) == .running)
            // Not shared storage between fake hosts: block_migration false is refused by the check, the server stays.
            #expect(try await liveMigrate(client, id, block: false).status == 202)
            try await expectEventually { try await migration(client, id)?["status"] == "error" }
            let kept = try await client.settle(id)
            #expect(kept["status"] == "ACTIVE")
            #expect(moves.host(kept) == source)
            #expect(try await client.placementUsage(host: source) == 128)
            try await expectEventually { try await client.placementUsage(host: dest) == 0 }
            let failure = try await moves.events(client, id, action: "live-migration").last
            #expect(failure?["result"] == "Error")
            #expect(failure?["event"] == "compute_check_can_live_migrate_source")

            // A disabled host is filtered out (NoValidHost, the server stays) unless the move is forced (2.30–2.67),
            // which skips the scheduler's filters and only claims.
            let services = try await client.call("GET", "/os-services").json["services"]?.arrayValue ?? []
            let destService = try #require(services.first { $0["host"]?.stringValue == dest }?["id"]?.stringValue)
            #expect(try await client.call("PUT", "/os-services/\(destService)", json: ["status": "disabled"]).status == 200)
            func forced(_ force: Bool) async throws -> Int {
                try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: client.token,
                                              json: ["os-migrateLive": ["host": .string(dest), "block_migration": "auto", "force": .bool(force)]],
                                              headers: ["OpenStack-API-Version": "compute 2.30"]).status
            }
            #expect(try await forced(false) == 202)
            try await expectEventually { try await moves.migrations(client, "?instance_uuid=\(id)&status=error").count == 2 }
            #expect(moves.host(try await client.settle(id)) == source)
            // Paused, it migrates too, showing MIGRATING on its way (Nova's status for paused + migrating).
            #expect(try await moves.act(client, id, ["pause": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "PAUSED")
            let sourceDriver = try #require(cloud.fakeDrivers[source])
            sourceDriver.setLiveMigrationCopyTime(.seconds(60))
            #expect(try await forced(true) == 202)
            try await expectEventually { sourceDriver.liveMigrating.contains(id) }
            #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "MIGRATING")
            let running = try #require(try await migration(client, id)?["id"]?.intValue)
            #expect(try await client.call("POST", "/servers/\(id)/migrations/\(running)/action", json: ["force_complete": nil]).status == 202)
            try await expectEventually { try await migration(client, id)?["status"] == "completed" }
            let paused = try await client.settle(id)
            #expect(moves.host(paused) == dest, "forced onto the disabled host")
            #expect(paused["status"] == "PAUSED")
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == .paused)
        }
    }

    @Test("a failing step leaves the guest running on its source: nothing held or left on the destination; a retry succeeds")
    func failedStepsRollBack() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("fragile")
            let source = try #require(moves.host(try await client.settle(id)))
            let dest = source == "fake-1" ? "fake-2" : "fake-1"
            for (host, step, status) in [(dest, "pre_live_migration", "error"), (source, "live_migration", "failed")] {
                let driver = try #require(cloud.fakeDrivers[host])
                driver.failNextLiveSteps(step == "live_migration" ? .liveMigration : .preLiveMigration)
                #expect(try await liveMigrate(client, id).status == 202)
                try await expectEventually { try await migration(client, id)?["status"]?.stringValue == status }
                let server = try await client.settle(id)
                #expect(server["status"] == "ACTIVE", "\(step)")
                #expect(moves.host(server) == source)
                try await expectEventually { try await client.placementUsage(host: dest) == 0 }
                #expect(try await client.placementUsage(host: source) == 128)
                try await expectEventually { cloud.fakeDrivers[dest]?.guestState(id) == nil }
                #expect(cloud.fakeDrivers[source]?.guestState(id) == .running)
            }
            #expect(try await liveMigrate(client, id).status == 202)
            try await expectEventually { try await migration(client, id)?["status"] == "completed" }
            #expect(moves.host(try await client.settle(id)) == dest)
        }
    }

    @Test("a copy that fails after switching to post-copy rolls nothing back: the server is ERROR, both hosts keep their half and its allocation, power syncs leave them; a delete then clears both")
    func postCopyFailureStrandsNothing() async throws {
        try await withComputeCloud(hosts: 2, extra: "[DEFAULT]\nsync_power_state_interval = 1\n") { client, cloud in
            let id = try await client.create("split")
            let source = try #require(moves.host(try await client.settle(id)))
            let dest = source == "fake-1" ? "fake-2" : "fake-1"
            // A witness on the destination: its power-off being noticed shows that a power sync ran there afterwards.
            let witness = try await client.create("witness")
            #expect(moves.host(try await client.settle(witness)) == dest)
            try #require(cloud.fakeDrivers[source]).failNextLiveMigrationsInPostCopy()
            #expect(try await liveMigrate(client, id).status == 202)
            try await expectEventually { try await migration(client, id)?["status"] == "error" }
            let server = try await client.settle(id)
            #expect(server["status"] == "ERROR")
            #expect(server["fault"]?["message"]?.stringValue?.contains("post-copy") == true, "\(server["fault"] ?? .null)")
            cloud.fakeDrivers[dest]?.powerOffBehindTheScenes(witness)
            try await expectEventually(seconds: 30) { try await client.settle(witness)["status"] == "SHUTOFF" }
            // Neither half was resumed, removed or freed, by the move or by the power syncs since.
            #expect(cloud.fakeDrivers[source]?.guestState(id) == .paused)
            #expect(cloud.fakeDrivers[dest]?.guestState(id) == .paused)
            #expect(try await client.placementUsage(host: source) == 128)
            #expect(try await client.placementUsage(host: dest) == 256)
            let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue ?? []
            #expect(actions.first?["action"] == "live-migration")
            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
            try await expectEventually { cloud.fakeDrivers[source]?.guestState(id) == nil && cloud.fakeDrivers[dest]?.guestState(id) == nil }
            try await expectEventually { try await client.placementUsage(host: source) == 0 }
            try await expectEventually { try await client.placementUsage(host: dest) == 128 }
        }
    }

    @Test("a force-complete that switches to post-copy: the migration shows 'running (post-copy)', abort and force-complete are then 400 and change nothing, and it completes")
    func postCopyCannotBeAborted() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let (id, source, _) = try await slowLiveMigration(client, cloud, "switched") { $0.switchToPostCopyWhenForced(taking: .seconds(5)) }
            let number = try #require(try await migration(client, id)?["id"]?.intValue)
            let action = "/servers/\(id)/migrations/\(number)/action"
            #expect(try await client.call("POST", action, json: ["force_complete": nil]).status == 202)
            try await expectEventually { try await migration(client, id)?["status"] == "running (post-copy)" }
            let listed = try await client.call("GET", "/servers/\(id)/migrations").json["migrations"]?.arrayValue ?? []
            #expect(listed.first?["status"] == "running (post-copy)")
            let abort = try await client.call("DELETE", "/servers/\(id)/migrations/\(number)")
            #expect(abort.status == 400)
            #expect(abort.json["badRequest"]?["message"]?.stringValue?.contains("running (post-copy)") == true, "\(abort.json.encodedString())")
            #expect(try await client.call("POST", action, json: ["force_complete": nil]).status == 400)
            try await expectEventually { try await migration(client, id)?["status"] == "completed" }
            let moved = try await client.settle(id)
            #expect(moved["status"] == "ACTIVE")
            #expect(moves.host(moved) != source)
            try await expectEventually { try await client.placementUsage(host: source) == 0 }
        }
    }

    @Test("progress while copying; abort cancels (guest stays on its source); force-complete finishes at once; bad input refused")
    func abortForceCompleteAndBadInput() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let (id, source, driver) = try await slowLiveMigration(client, cloud, "slow")
            let server = try await client.call("GET", "/servers/\(id)").json["server"]
            #expect(server?["status"] == "MIGRATING")
            #expect(server?["OS-EXT-STS:task_state"] == "migrating")
            let id1 = try #require(try await migration(client, id)?["id"]?.intValue)
            try await expectEventually {
                try await client.call("GET", "/servers/\(id)/migrations/\(id1)").json["migration"]?["memory_total_bytes"]?.intValue == 128 << 20
            }
            let listed = try await client.call("GET", "/servers/\(id)/migrations").json["migrations"]?.arrayValue ?? []
            #expect(listed.first?["status"] == "running")
            #expect(try await client.call("DELETE", "/servers/\(id)/migrations/\(id1)").status == 202)
            try await expectEventually { try await migration(client, id)?["status"] == "cancelled" }
            let stayed = try await client.settle(id)
            #expect(stayed["status"] == "ACTIVE")
            #expect(moves.host(stayed) == source)
            try await expectEventually { try await client.placementUsage() == 128 }
            // Aborting again: the server is not migrating any more.
            #expect(try await client.call("DELETE", "/servers/\(id)/migrations/\(id1)").status == 409)
            #expect(try await client.call("GET", "/servers/\(id)/migrations/\(id1)").status == 404)

            #expect(try await liveMigrate(client, id).status == 202)
            try await expectEventually { driver.liveMigrating.contains(id) }
            let id2 = try #require(try await migration(client, id)?["id"]?.intValue)
            #expect(try await client.call("POST", "/servers/\(id)/migrations/\(id2)/action", json: ["force_complete": nil]).status == 202)
            try await expectEventually { try await migration(client, id)?["status"] == "completed" }
            #expect(moves.host(try await client.settle(id)) != source)

            func refused(_ body: JSON, _ status: Int, _ message: String, version: String = "2.90") async throws {
                let reply = try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: client.token, json: body,
                                                          headers: ["OpenStack-API-Version": "compute \(version)"])
                #expect(reply.status == status, "\(body.encodedString()): \(reply.status)")
                let fault = reply.json.objectValue?.values.first
                #expect(fault?["message"]?.stringValue?.contains(message) == true, "\(reply.json.encodedString())")
            }
            let here = try #require(moves.host(try await client.settle(id)))
            try await refused(["os-migrateLive": ["host": .string(here), "block_migration": "auto"]], 400,
                              "Unable to migrate instance (\(id)) to current host (\(here)).")
            try await refused(["os-migrateLive": ["host": "nowhere", "block_migration": "auto"]], 400, "Compute host nowhere could not be found.")
            try await refused(["os-migrateLive": ["block_migration": "auto"]], 400, "'host' is a required property")
            try await refused(["os-migrateLive": ["host": nil, "block_migration": "auto", "force": true]], 400, "Additional properties are not allowed")
            try await refused(["os-migrateLive": ["host": nil, "block_migration": "auto", "disk_over_commit": false]], 400, "is not of type 'boolean'", version: "2.24")
            try await refused(["os-migrateLive": ["host": nil, "block_migration": "maybe"]], 400, "block_migration")
            // A migration that completed cannot be aborted or forced: the server is not migrating.
            #expect(try await client.call("DELETE", "/servers/\(id)/migrations/\(id2)").status == 409)
            #expect(try await client.call("POST", "/servers/\(id)/migrations/\(id2)/action", json: ["force_complete": nil]).status == 409)
            // Before 2.23 a server's migrations are not there; before 2.24 there is no abort.
            let old = try await client.http.request("GET", "/compute/v2.1/servers/\(id)/migrations", token: client.token,
                                                    headers: ["OpenStack-API-Version": "compute 2.22"])
            #expect(old.status == 404)
            #expect(try await moves.act(client, id, ["os-stop": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "SHUTOFF")
            try await refused(["os-migrateLive": ["host": nil, "block_migration": "auto"]], 409, "Cannot 'os-migrateLive' instance \(id) while it is in vm_state stopped")
            #expect(try await moves.migrations(client, "?instance_uuid=\(id)").count == 2)
        }
    }

    @Test("max_concurrent_live_migrations = 1: a second migration from the same host waits as queued, then runs")
    func queuedBehindTheLimit() async throws {
        try await withComputeCloud(hosts: 2, extra: "[DEFAULT]\nmax_concurrent_live_migrations = 1\n") { client, cloud in
            // Both on one host: the first fills it with the RAM weigher off, so pin them through a named migration.
            let first = try await client.create("first")
            let second = try await client.create("second")
            let a = try #require(moves.host(try await client.settle(first)))
            let b = try #require(moves.host(try await client.settle(second)))
            if a != b {
                #expect(try await liveMigrate(client, second, host: a).status == 202)
                try await expectEventually { try await migration(client, second)?["status"] == "completed" }
            }
            let driver = try #require(cloud.fakeDrivers[a])
            driver.setLiveMigrationCopyTime(.seconds(60))
            #expect(try await liveMigrate(client, first).status == 202)
            try await expectEventually { driver.liveMigrating.contains(first) }
            #expect(try await liveMigrate(client, second).status == 202)
            try await expectEventually { try await migration(client, second)?["status"] == "queued" }
            let running = try #require(try await migration(client, first)?["id"]?.intValue)
            #expect(try await client.call("POST", "/servers/\(first)/migrations/\(running)/action", json: ["force_complete": nil]).status == 202)
            try await expectEventually { driver.liveMigrating.contains(second) }
            let next = try #require(try await migration(client, second)?["id"]?.intValue)
            #expect(try await client.call("POST", "/servers/\(second)/migrations/\(next)/action", json: ["force_complete": nil]).status == 202)
            try await expectEventually { try await migration(client, second)?["status"] == "completed" }
            #expect(try await migration(client, first)?["status"] == "completed")
            try await expectEventually { try await client.placementUsage(host: a) == 0 }
        }
    }
}
