import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// Abort and the completion timeout on real guests, with the copy slowed down (8 MiB/s: the tiny guest's 80 MB of
/// memory take about ten seconds) so that both can act while QEMU copies.
@Suite("Real guests: live migration abort and timeout", .enabled(if: QEMUFixture.available || QEMUFixture.required))
struct QEMULiveMigrationControlTests {
    @Test("an abort while QEMU copies, or the destination's QEMU killed while it receives, leaves the guest running on its source, the destination clean; past the completion timeout, force_complete finishes the move and the guest runs on")
    func abortAndTimeout() async throws {
        let extra = """
            [qemu]
            host_count = 2
            live_migration_bandwidth = 8
            live_migration_completion_timeout = 1
            live_migration_timeout_action = force_complete
            """
        try await CloudFixture.withCloud(extraConfig: QEMUFixture.config(extra: extra)) { cloud in
            let client = try await ComputeClient(cloud)
            let id = try await client.boot("slow-mover", image: try await client.imageID(TinyGuest.imageName))
            var server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            let source = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
            let dest = source == "qemu-host-1" ? "qemu-host-2" : "qemu-host-1"
            let destPath = try #require(cloud.qemuDrivers[dest]).settings.instancesPath + "/" + id
            try await expectEventually(seconds: 90) { QEMUMultiHostTests.lastTick(try await client.console(id)) != nil }
            func migrate() async throws {
                let reply = try await client.call("POST", "/servers/\(id)/action", json: ["os-migrateLive": ["host": .null, "block_migration": "auto"]])
                #expect(reply.status == 202)
            }
            func latest() async throws -> JSON? {
                try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue?.first
            }

            /// Waits until the memory is being copied (progress shows on the server's migration); returns the migration.
            func copying() async throws -> JSON {
                var inProgress = JSON.null
                try await expectEventually(seconds: 60) {
                    inProgress = try await client.call("GET", "/servers/\(id)/migrations").json["migrations"]?.arrayValue?.first ?? .null
                    return inProgress["status"] == "running" && (inProgress["memory_processed_bytes"]?.intValue ?? 0) > 0
                }
                return inProgress
            }
            /// The move did not happen: the guest runs on its source, the destination holds nothing.
            func stillOnSource() async throws {
                server = try await client.settle(id)
                #expect(server["status"] == "ACTIVE")
                #expect(server["OS-EXT-SRV-ATTR:host"]?.stringValue == source)
                #expect(await cloud.qemuDrivers[source]?.runState(id) == "running")
                try await expectEventually { !FileManager.default.fileExists(atPath: destPath) }
                #expect(cloud.qemuDrivers[dest]?.pid(of: id) == nil)
                #expect(try await client.placementUsage(host: dest) == 0)
                #expect(try await client.placementUsage(host: source) == 128)
            }

            // Abort while the memory is being copied.
            try await migrate()
            let inProgress = try await copying()
            let migrationID = try #require(inProgress["id"]?.intValue)
            #expect(try await client.call("DELETE", "/servers/\(id)/migrations/\(migrationID)").status == 202)
            try await expectEventually(seconds: 60) { try await latest()?["status"] == "cancelled" }
            try await stillOnSource()

            // The destination's QEMU killed (-9) while the memory arrives: the copy fails, the guest runs on on its
            // source, and the destination keeps no QEMU, no directory, no allocation.
            try await migrate()
            _ = try await copying()
            let receiver = try #require(cloud.qemuDrivers[dest]?.pid(of: id))
            #expect(kill(receiver, SIGKILL) == 0)
            try await expectEventually(seconds: 60) { ["completed", "failed", "error", "cancelled"].contains(try await latest()?["status"]?.stringValue ?? "") }
            #expect(try await latest()?["status"] == "failed")
            try await stillOnSource()
            let before = try #require(QEMUMultiHostTests.lastTick(try await client.console(id)))

            // Again, left alone: past live_migration_completion_timeout (1 s per GiB) the source forces it to finish
            // (the guest paused until it runs on the destination, then resumed there).
            try await migrate()
            try await expectEventually(seconds: 120) { ["completed", "failed", "error", "cancelled"].contains(try await latest()?["status"]?.stringValue ?? "") }
            #expect(try await latest()?["status"] == "completed")
            // It ran past the timeout (4 s: 1 s for each of the 2 GiB counted for memory and for the disk), so it was forced.
            #expect((cloud.qemuDrivers[source]?.lastOutgoingMigration(id)?.memoryMs ?? 0) > 4000)
            server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(server["OS-EXT-SRV-ATTR:host"]?.stringValue == dest)
            #expect(await cloud.qemuDrivers[dest]?.runState(id) == "running", "resumed on the destination")
            try await expectEventually(seconds: 30) { (QEMUMultiHostTests.lastTick(try await client.console(id))?.count ?? 0) > 0 }
            let after = try #require(QEMUMultiHostTests.lastTick(try await client.console(id)))
            #expect(after.uptime > before.uptime, "the same guest, not a new boot")
            #expect(try await client.placementUsage(host: source) == 0)
            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
        }
    }
}
