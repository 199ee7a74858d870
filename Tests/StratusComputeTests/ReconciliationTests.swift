import Foundation
import StratusCloud
import StratusCompute
import StratusCore
import StratusMessages
import StratusQueue
import StratusTesting
import Testing

@Suite("Resumption and reconciliation")
struct ReconciliationTests {
    static let base = "[fake_driver]\nhost_count = 1\nvcpus = 4\nmemory_mb = 1024\nlocal_gb = 10\n[queue]\nlease_seconds = 2\n"

    @Test("a build in flight when the cloud stops completes after the next start; nothing stays in BUILD")
    func restartResumesBuild() async throws {
        let ids = try await CloudFixture.withRestartingCloud([
            Self.base + "[fake_driver]\nspawn_delay_ms = 4000\n", Self.base + "[fake_driver]\nspawn_delay_ms = 0\n",
        ]) { run, cloud -> String in
            let client = try await ComputeClient(cloud)
            if run == 0 {
                for _ in 0..<200 where try await client.call("GET", "/os-services").json["services"]?.arrayValue?.count != 1 {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let id = try await client.create("survivor")
                for _ in 0..<100 {
                    let task = try await client.call("GET", "/servers/\(id)").json["server"]?["OS-EXT-STS:task_state"]
                    if task == "spawning" { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "BUILD")
                return id  // the cloud stops here, with the spawn half done
            }
            let id = try #require(try await client.call("GET", "/servers").json["servers"]?.arrayValue?.first?["id"]?.stringValue)
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(cloud.fakeDrivers["fake-1"]?.running == [id])
            return id
        }
        #expect(ids[0] == ids[1])
    }

    @Test("a build message delivered twice changes nothing the second time")
    func duplicateBuildIsHarmless() async throws {
        try await withComputeCloud(hosts: 2) { client, cloud in
            let id = try await client.create("once")
            let first = try await client.settle(id)
            let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue ?? []
            let requestID = try #require(actions.first?["request_id"]?.stringValue)
            let queue = Queue(storage: cloud.storage)
            try await queue.request(.build(InstanceRef(instanceUUID: id)))
            // The untyped shape of before (a message queued across an upgrade) is read as the same build; a
            // request the conductor does not know is dead-lettered, never guessed at.
            _ = try await queue.cast(topic: Queue.conductorTopic, payload: ["op": "build", "instance": .string(id)])
            _ = try await queue.cast(topic: Queue.conductorTopic, payload: ["version": 1, "op": "spawn_failed", "instance": .string(id)])
            var settled = false
            for _ in 0..<200 where !settled {
                let counts = try await queue.counts(topic: Queue.conductorTopic)
                settled = (counts["ready"] ?? 0) + (counts["leased"] ?? 0) == 0 && (counts["dead"] ?? 0) == 1
                if !settled { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(settled, "both requests were not settled within 10 s")
            let letter = try #require(try await queue.deadLetters(topic: Queue.conductorTopic).first)
            #expect(letter.reason.contains("unknown conductor request 'spawn_failed'"), "\(letter.reason)")
            let after = try await client.settle(id)
            #expect(after["status"] == "ACTIVE")
            #expect(after["OS-EXT-SRV-ATTR:host"] == first["OS-EXT-SRV-ATTR:host"])
            let events = try await client.call("GET", "/servers/\(id)/os-instance-actions/\(requestID)").json["instanceAction"]?["events"]?.arrayValue
            #expect(events?.count == 2)
            let used = try await client.placementUsage()
            #expect(used == 128)
        }
    }

    @Test("deliveries of one build running at once place it once: one claim, one guest, whatever order they finish in")
    func concurrentDuplicateBuilds() async throws {
        try await withComputeCloud(hosts: 4) { client, cloud in
            let queue = Queue(storage: cloud.storage)
            for round in 0..<5 {
                let id = try await client.create("raced-\(round)")
                // Sent while the first delivery is being worked on: the conductor takes them together and runs them at
                // once, as it would after a lease ran out under a still-working conductor.
                for _ in 0..<12 { try await queue.request(.build(InstanceRef(instanceUUID: id))) }
                #expect(try await client.settle(id)["status"] == "ACTIVE")
                try await expectEventually {
                    let counts = try await queue.counts(topic: Queue.conductorTopic)
                    return (counts["ready"] ?? 0) + (counts["leased"] ?? 0) == 0
                }
                let guests = cloud.fakeDrivers.values.reduce(0) { $0 + ($1.running.contains(id) ? 1 : 0) }
                #expect(guests == 1, "one guest for \(id)")
            }
            #expect(try await client.placementUsage() == 5 * 128, "each server holds exactly one claim")
        }
    }

    @Test("a guest that powers itself off becomes SHUTOFF with an action saying so")
    func powerStateSync() async throws {
        try await withComputeCloud(hosts: 1, extra: "[DEFAULT]\nsync_power_state_interval = 1\n") { client, cloud in
            let id = try await client.create("self-stopper")
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            cloud.fakeDrivers["fake-1"]?.powerOffBehindTheScenes(id)
            // A report listed before the guest went off (or before it existed) leaves the server alone: a later one,
            // listed once the change is past the clock margin, finds it off.
            try await expectEventually {
                try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "SHUTOFF"
            }
            let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue ?? []
            let stop = try #require(actions.first)
            #expect(stop["action"] == "stop")
            let detail = try await client.call("GET", "/servers/\(id)/os-instance-actions/\(stop["request_id"]?.stringValue ?? "")")
            let event = detail.json["instanceAction"]?["events"]?.arrayValue?.first
            #expect(event?["event"] == "compute_sync_power_state")
            #expect(event?["details"]?.stringValue?.contains("powered off") == true, "\(event?.encodedString() ?? "no event")")
            #expect(try await client.call("POST", "/servers/\(id)/action", json: ["os-start": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "ACTIVE")
        }
    }

    @Test("a power report listed before a guest existed leaves its new server ACTIVE; one listed after finds it gone")
    func stalePowerReport() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let queue = Queue(storage: cloud.storage)
            let listedBefore = Clock.now()
            let id = try await client.create("fresh")
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            // Sent after the spawn was applied, as a report can arrive behind the spawn's ack.
            func report(listedAt: Double) async throws {
                let sync = HostReport.powerSync(PowerSync(host: "fake-1", guests: [:], listedAt: listedAt))
                try await queue.cast(topic: Queue.reportsTopic, payload: try WireFormat.encode(sync))
                try await expectEventually {
                    let counts = try await queue.counts(topic: Queue.reportsTopic)
                    return (counts["ready"] ?? 0) + (counts["leased"] ?? 0) == 0
                }
            }
            try await report(listedAt: listedBefore)
            #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "ACTIVE")
            try await report(listedAt: Clock.now() + 5)
            #expect(try await client.call("GET", "/servers/\(id)").json["server"]?["status"] == "SHUTOFF")
        }
    }

    @Test("a build that never finishes goes to ERROR after instance_build_timeout, and can be deleted")
    func buildTimeout() async throws {
        let extra = "[fake_driver]\nspawn_delay_ms = 60000\n[DEFAULT]\ninstance_build_timeout = 1\n[conductor]\nreconcile_interval = 1\n"
        try await withComputeCloud(hosts: 1, extra: extra) { client, cloud in
            let id = try await client.create("slow")
            var server: JSON = .null
            for _ in 0..<100 {
                server = try await client.call("GET", "/servers/\(id)").json["server"] ?? .null
                if server["status"] == "ERROR" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(server["status"] == "ERROR")
            #expect(server["fault"]?["message"]?.stringValue?.contains("timed out") == true)
            // The claim is released right after the ERROR commits.
            var released = false
            for _ in 0..<100 where !released {
                released = try await client.placementUsage() == 0
                if !released { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(released)
            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            do {
                let settled = try await client.settle(id)
                #expect(settled["status"] == "DELETED", "\(settled.encodedString())")
            } catch {
                Issue.record("delete did not settle: \(String(reflecting: error))")
            }
        }
    }
}
