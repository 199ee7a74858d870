import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// A real QEMU host as its own `stratus compute` process, reaching the cloud only over HTTP, killed with SIGKILL in
/// the middle of a spawn and started again.
@Suite("Real guests on a separate compute process", .enabled(if: QEMUFixture.available || QEMUFixture.required))
struct QEMUSeparateComputeTests {
    /// Processes of `program` (QEMU, qemu-nbd) whose command line names `uuid` (every guest's has its instance
    /// directory in it).
    static func qemuProcesses(for uuid: String, program: String = "qemu-system") -> [Int32] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.compactMap { name -> Int32? in
            guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let command = String(decoding: data, as: UTF8.self)
            return command.contains(program) && command.contains(uuid) ? pid : nil
        }
    }

    /// A compute agent's configuration for `host`: the service user's credentials `stratus bootstrap` wrote, and QEMU
    /// with its own instances_path where the fixture's clean-up looks for guests.
    static func agentConfig(_ dataDir: String, host: String) throws -> (arguments: [String], instances: String) {
        let instances = dataDir + "/instances/" + host
        let config = dataDir + "/\(host).conf"
        try (try String(contentsOfFile: dataDir + "/compute-agent.conf", encoding: .utf8) + """
            [DEFAULT]
            host = \(host)
            compute_driver = qemu
            instances_path = \(instances)
            shutdown_timeout = 20
            [qemu]
            accelerator = tcg
            live_migration_bandwidth = 2
            [queue]
            lease_seconds = 5

            """).write(toFile: config, atomically: true, encoding: .utf8)
        #expect(!(try String(contentsOfFile: config, encoding: .utf8)).contains("connection"), "no database URL")
        return (["compute", "--config", config, "--data-dir", dataDir + "/agent-" + host], instances)
    }

    static func startAgent(_ arguments: [String], _ name: String) async throws -> BackgroundProcess {
        let agent = try BackgroundProcess(ProcessRunner.stratusBinary, arguments)
        try #require(await agent.waitFor("compute hosts registered", timeout: 90) != nil, "\(name): \(agent.text.suffix(3000))")
        return agent
    }

    /// Kills `agent` with SIGKILL, checks that the server's `field` still says `value` (the agent died in the middle
    /// of its step, not after it), and starts the agent again as `name`.
    static func killMidStep(_ agent: BackgroundProcess, _ client: ComputeClient, _ id: String, field: String, still value: String,
                            restart arguments: [String], as name: String) async throws -> BackgroundProcess {
        agent.signal(SIGKILL)
        _ = await agent.waitForExit()
        let atKill = try await client.call("GET", "/servers/\(id)").json["server"]?[field]?.stringValue
        #expect(atKill == value, "killed after the step had finished; the test did not cut it short")
        return try await startAgent(arguments, name)
    }

    @Test("stratus compute --driver qemu killed -9 mid-spawn, then restarted: the server becomes ACTIVE with exactly one QEMU; then a cold migration to a second agent with each side killed -9 mid-step, and a live migration back with both agents killed -9 while QEMU copies")
    func killedMidSpawn() async throws {
        // The cloud itself has no hosts: the only one is the separate process below. Short leases, so the
        // killed agent's spawn is delivered again within seconds.
        let cloudConfig = """
            [DEFAULT]
            compute_driver = fake
            [fake_driver]
            host_count = 0
            [qemu]
            tiny_guest_dir = \(QEMUFixture.tinyGuestDirectory)
            [queue]
            lease_seconds = 5
            [quota]
            instances = -1
            cores = -1
            ram = -1
            """
        try await CloudFixture.withCloud(extraConfig: cloudConfig) { cloud in
            let dataDir = (cloud.cloudsFile as NSString).deletingLastPathComponent
            let (arguments, instances) = try Self.agentConfig(dataDir, host: "remote-qemu")
            let first = try await Self.startAgent(arguments, "first agent")
            defer { first.signal(SIGKILL) }
            let client = try await ComputeClient(cloud)
            let id = try await client.boot("survivor", image: try await client.imageID(TinyGuest.imageName))

            // Mid-spawn: the agent has begun the guest's directory, and the server is not ACTIVE yet.
            var begun = false
            for _ in 0..<3000 where !begun {
                begun = FileManager.default.fileExists(atPath: "\(instances)/\(id)")
                if !begun { try await Task.sleep(for: .milliseconds(10)) }
            }
            try #require(begun, "the agent never started the spawn: \(first.text.suffix(3000))")
            let second = try await Self.killMidStep(first, client, id, field: "status", still: "BUILD", restart: arguments, as: "second agent")
            defer { second.signal(SIGKILL) }
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE", "\(server.encodedString())\n\(second.text.suffix(3000))")
            #expect(server["OS-EXT-SRV-ATTR:host"] == "remote-qemu")
            _ = try await client.waitForConsole(id, TinyGuest.marker)
            #expect(Self.qemuProcesses(for: id).count == 1, "exactly one QEMU for the server")
            let shown = try await client.waitForConsole(id, "sectors, ")
            let boots = try #require(QEMUMultiHostTests.lastDiskBoot(shown)?.boots)

            // A cold migration to a second agent. The source is killed while it powers the guest off and hands its
            // disk over, the destination while it copies the disk or starts the guest; each restarted agent gets its
            // step again (the lease runs out) and finds what it had done.
            let (otherArguments, otherInstances) = try Self.agentConfig(dataDir, host: "remote-qemu-b")
            let dest = try await Self.startAgent(otherArguments, "destination agent")
            defer { dest.signal(SIGKILL) }
            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["migrate": nil]).status == 202)
            try await expectEventually(seconds: 60) {
                try await client.call("GET", "/servers/\(id)").json["server"]?["OS-EXT-STS:task_state"] == "resize_migrating"
            }
            let third = try await Self.killMidStep(second, client, id, field: "OS-EXT-STS:task_state", still: "resize_migrating",
                                                   restart: arguments, as: "restarted source agent")
            defer { third.signal(SIGKILL) }
            try await expectEventually(seconds: 90) { FileManager.default.fileExists(atPath: "\(otherInstances)/\(id)") }
            let restartedDest = try await Self.killMidStep(dest, client, id, field: "status", still: "RESIZE",
                                                           restart: otherArguments, as: "restarted destination agent")
            defer { restartedDest.signal(SIGKILL) }
            try await expectEventually(seconds: 90) { try await client.settle(id)["status"] == "VERIFY_RESIZE" }
            #expect(try await client.settle(id)["OS-EXT-SRV-ATTR:host"] == "remote-qemu-b")
            _ = try await client.waitForConsole(id, "disk boot \(boots + 1),")  // its own disk, carried over
            #expect(Self.qemuProcesses(for: id).count == 1, "exactly one QEMU for the server, on the destination")
            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["confirmResize": nil]).status == 204)
            try await expectEventually(seconds: 60) { try await client.settle(id)["status"] == "ACTIVE" }
            #expect(!FileManager.default.fileExists(atPath: "\(instances)/\(id)_resize"), "the source kept nothing")
            #expect(!FileManager.default.fileExists(atPath: "\(instances)/\(id)"))
            #expect(Self.qemuProcesses(for: id, program: "qemu-nbd").isEmpty, "the disk export ended")
            try await expectEventually { try await client.placementUsage(host: "remote-qemu") == 0 }
            #expect(try await client.placementUsage(host: "remote-qemu-b") == 128)

            // Live back, the source's agent (then the destination's) killed -9 while QEMU copies the memory (2 MiB/s: about forty seconds). QEMU
            // copies on by itself; the restarted agent, given the step again, watches that copy to its end (its progress
            // goes on) instead of failing the move or starting a second copy.
            try await expectEventually(seconds: 60) { QEMUMultiHostTests.lastTick(try await client.console(id)) != nil }
            let before = try #require(QEMUMultiHostTests.lastTick(try await client.console(id)))
            func liveMigration() async throws -> JSON {
                try await client.call("GET", "/servers/\(id)/migrations").json["migrations"]?.arrayValue?.first ?? .null
            }
            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["os-migrateLive": ["host": .null, "block_migration": "auto"]]).status == 202)
            try await expectEventually(seconds: 60) {
                let migration = try await liveMigration()
                return migration["status"] == "running" && (migration["memory_processed_bytes"]?.intValue ?? 0) > 0
            }
            let liveSource = try await Self.killMidStep(restartedDest, client, id, field: "OS-EXT-STS:task_state", still: "migrating",
                                                        restart: otherArguments, as: "restarted live-migration source")
            defer { liveSource.signal(SIGKILL) }
            // And the destination's agent, whose QEMU receives meanwhile without it; it is needed again only once the
            // guest has arrived.
            let liveDest = try await Self.killMidStep(third, client, id, field: "OS-EXT-STS:task_state", still: "migrating",
                                                      restart: arguments, as: "restarted live-migration destination")
            defer { liveDest.signal(SIGKILL) }
            // Read once the killed agent is gone: any progress after this is the restarted agent's.
            let atKill = try await liveMigration()["memory_processed_bytes"]?.intValue ?? 0
            var watched = JSON.null
            try await expectEventually(seconds: 120) {
                // (A migration that ended is no longer listed among the server's migrations in progress.)
                watched = try await liveMigration()
                return watched["status"] != "running" || (watched["memory_processed_bytes"]?.intValue ?? 0) > atKill
            }
            #expect(watched["status"] == "running", "the copy ended before the restarted agent watched it")
            try await expectEventually(seconds: 120) {
                let status = try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue?.first?["status"]
                return ["completed", "failed", "error", "cancelled"].contains(status?.stringValue ?? "")
            }
            let live = try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue?.first ?? .null
            #expect(live["status"] == "completed", "\(live.encodedString())\n\(liveSource.text.suffix(3000))")
            #expect(try await client.settle(id)["OS-EXT-SRV-ATTR:host"] == "remote-qemu")
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            #expect(Self.qemuProcesses(for: id).count == 1, "exactly one QEMU for the server, on its new host")
            try await expectEventually { !FileManager.default.fileExists(atPath: "\(otherInstances)/\(id)") }
            let previous = before
            try await expectEventually(seconds: 30) { (QEMUMultiHostTests.lastTick(try await client.console(id))?.count ?? 0) > previous.count }
            let after = try #require(QEMUMultiHostTests.lastTick(try await client.console(id)))
            #expect(after.uptime > before.uptime, "the same guest, not a new boot")
            try await expectEventually { try await client.placementUsage(host: "remote-qemu-b") == 0 }
            #expect(try await client.placementUsage(host: "remote-qemu") == 128)

            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
            #expect(Self.qemuProcesses(for: id).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: "\(instances)/\(id)"), "the instance directory went with it")
            #expect(try await client.placementUsage() == 0)
            for agent in [liveDest, liveSource] {
                agent.signal(SIGTERM)
                #expect(await agent.waitForExit() == 0, "the agent stops cleanly on SIGTERM")
            }
        }
    }
}
