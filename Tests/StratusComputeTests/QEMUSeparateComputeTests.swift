import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// A real QEMU host as its own `stratus compute` process, reaching the cloud only over HTTP, killed with SIGKILL in
/// the middle of a spawn and started again.
@Suite("Real guests on a separate compute process", .enabled(if: QEMUFixture.available || QEMUFixture.required))
struct QEMUSeparateComputeTests {
    /// QEMU processes whose command line names `uuid` (every guest's has its instance directory in it).
    static func qemuProcesses(for uuid: String) -> [Int32] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.compactMap { name -> Int32? in
            guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let command = String(decoding: data, as: UTF8.self)
            return command.contains("qemu-system") && command.contains(uuid) ? pid : nil
        }
    }

    @Test("stratus compute --driver qemu killed -9 mid-spawn, then restarted: the server becomes ACTIVE with exactly one QEMU")
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
            let instances = dataDir + "/instances/remote-qemu"  // where the fixture's clean-up looks for guests
            let agentConfig = dataDir + "/remote-compute.conf"
            try (try String(contentsOfFile: dataDir + "/compute-agent.conf", encoding: .utf8) + """
                [DEFAULT]
                host = remote-qemu
                compute_driver = qemu
                instances_path = \(instances)
                [qemu]
                accelerator = tcg
                [queue]
                lease_seconds = 5

                """).write(toFile: agentConfig, atomically: true, encoding: .utf8)
            let arguments = ["compute", "--config", agentConfig, "--data-dir", dataDir + "/remote-agent"]
            #expect(!(try String(contentsOfFile: agentConfig, encoding: .utf8)).contains("connection"), "no database URL")

            let first = try BackgroundProcess(ProcessRunner.stratusBinary, arguments)
            defer { first.signal(SIGKILL) }
            try #require(await first.waitFor("compute hosts registered", timeout: 90) != nil, "first agent: \(first.text.suffix(3000))")
            let client = try await ComputeClient(cloud)
            let id = try await client.boot("survivor", image: try await client.imageID(TinyGuest.imageName))

            // Mid-spawn: the agent has begun the guest's directory, and the server is not ACTIVE yet.
            var begun = false
            for _ in 0..<3000 where !begun {
                begun = FileManager.default.fileExists(atPath: "\(instances)/\(id)")
                if !begun { try await Task.sleep(for: .milliseconds(10)) }
            }
            try #require(begun, "the agent never started the spawn: \(first.text.suffix(3000))")
            first.signal(SIGKILL)
            _ = await first.waitForExit()
            let atKill = try await client.call("GET", "/servers/\(id)").json["server"]?["status"]?.stringValue
            #expect(atKill == "BUILD", "killed after the spawn had finished; the test did not cut it short")

            let second = try BackgroundProcess(ProcessRunner.stratusBinary, arguments)
            defer { second.signal(SIGTERM) }
            try #require(await second.waitFor("compute hosts registered", timeout: 90) != nil, "second agent: \(second.text.suffix(3000))")
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE", "\(server.encodedString())\n\(second.text.suffix(3000))")
            #expect(server["OS-EXT-SRV-ATTR:host"] == "remote-qemu")
            _ = try await client.waitForConsole(id, TinyGuest.marker)
            #expect(Self.qemuProcesses(for: id).count == 1, "exactly one QEMU for the server")

            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
            #expect(Self.qemuProcesses(for: id).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: "\(instances)/\(id)"), "the instance directory went with it")
            #expect(try await client.placementUsage() == 0)
            second.signal(SIGTERM)
            #expect(await second.waitForExit() == 0, "the agent stops cleanly on SIGTERM")
        }
    }
}
