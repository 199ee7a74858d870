import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// Several QEMU compute hosts on one machine (`stratus up --hosts N`), each as if on a machine of its own.
@Suite("Real guests on two QEMU hosts", .enabled(if: QEMUFixture.available || QEMUFixture.required))
struct QEMUMultiHostTests {
    @Test("two hosts: one server lands on each, in that host's instances_path, with its own QEMU; both boot to the marker; then cold moves of one of them, seed-003 live migration, and a snapshot")
    func oneServerPerHost() async throws {
        try await CloudFixture.withCloud(extraConfig: QEMUFixture.config(extra: "[qemu]\nhost_count = 2\n")) { cloud in
            let client = try await ComputeClient(cloud)
            #expect(cloud.computeHosts.sorted() == ["qemu-host-1", "qemu-host-2"])
            let services = try await client.call("GET", "/os-services").json["services"]?.arrayValue ?? []
            #expect(Set(services.compactMap { $0["host"]?.stringValue }) == ["qemu-host-1", "qemu-host-2"])
            let image = try await client.imageID(TinyGuest.imageName)
            // One after the other, so the second is scheduled knowing the first's claim: the RAM weigher then
            // sends it to the other host.
            var ids: [String] = []
            for name in ["left", "right"] {
                let id = try await client.boot(name, image: image)
                #expect(try await client.settle(id)["status"] == "ACTIVE")
                ids.append(id)
            }
            var hosts: Set<String> = []
            var pids: Set<Int32> = []
            for id in ids {
                let server = try await client.settle(id)
                #expect(server["status"] == "ACTIVE")
                let host = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
                hosts.insert(host)
                let driver = try #require(cloud.qemuDrivers[host])
                #expect(driver.settings.instancesPath.hasSuffix("/instances/\(host)"))
                #expect(FileManager.default.fileExists(atPath: driver.settings.instancesPath + "/\(id)/disk"))
                if let pid = QEMUFixture.pid(cloud, id) { pids.insert(pid) }
                _ = try await client.waitForConsole(id, TinyGuest.marker)
            }
            #expect(hosts.count == 2, "the second server went to the other host")
            #expect(pids.count == 2)
            #expect(try await client.call("DELETE", "/servers/\(ids[1])").status == 204)
            #expect(try await client.settle(ids[1])["status"] == "DELETED")
            // The same cloud and guest go on moving (boots are dear under TCG): cold first, while its console still
            // shows its boots (a live migration's destination starts a new console log), then live.
            try await coldMovesKeepTheDisk(cloud, client, ids[0])
            try await liveMigrationThereAndBack(cloud, client, ids[0])
        }
    }

    /// The guest's latest console heartbeat since its latest boot: its count and uptime.
    static func lastTick(_ console: String) -> (count: Int, uptime: Double)? {
        let thisBoot = console.range(of: TinyGuest.marker, options: .backwards).map { console[$0.upperBound...] } ?? console[...]
        for line in thisBoot.split(whereSeparator: \.isNewline).reversed() {
            let words = line.split(separator: " ")
            if let i = words.firstIndex(of: "tick"), i + 3 < words.count, let n = Int(words[i + 1]), let up = Double(words[i + 3]) {
                return (n, up)
            }
        }
        return nil
    }

    /// Seed-003: a destination that cannot prepare leaves the guest running on its source and nothing behind; then
    /// live block migration A → B → A → B: the guest keeps counting, its uptime never resets, each source's QEMU and
    /// directory are gone; a snapshot of the moved guest boots with its disk.
    func liveMigrationThereAndBack(_ cloud: ReadyCloud, _ client: ComputeClient, _ id: String) async throws {
        do {
            var server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            try await expectEventually(seconds: 60) { Self.lastTick(try await client.console(id)) != nil }
            var before = try #require(Self.lastTick(try await client.console(id)))
            // A destination that cannot prepare (its instance directory cannot be made: a file is in the way):
            // the guest runs on on its source, the destination holds nothing and is left clean.
            let first = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
            let other = first == "qemu-host-1" ? "qemu-host-2" : "qemu-host-1"
            let blocked = try #require(cloud.qemuDrivers[other]).settings.instancesPath + "/\(id)"
            #expect(FileManager.default.createFile(atPath: blocked, contents: Data("in the way".utf8)))
            let refused = try await client.call("POST", "/servers/\(id)/action", json: ["os-migrateLive": ["host": .string(other), "block_migration": "auto"]])
            #expect(refused.status == 202)
            try await expectEventually(seconds: 60) {
                let list = try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue ?? []
                return list.first?["status"] == "error"
            }
            server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(server["OS-EXT-SRV-ATTR:host"]?.stringValue == first)
            try await expectEventually { !FileManager.default.fileExists(atPath: blocked) }
            #expect(try await client.placementUsage(host: other) == 0)
            #expect(try await client.placementUsage(host: first) == 128)
            let stillCounting = before
            try await expectEventually(seconds: 30) { (Self.lastTick(try await client.console(id))?.count ?? 0) > stillCounting.count }
            before = try #require(Self.lastTick(try await client.console(id)))
            var completed = 0
            for round in 1...3 {
                let source = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
                let sourceDriver = try #require(cloud.qemuDrivers[source])
                // A named host the first time, the scheduler's choice after that.
                let host: JSON = round == 1 ? .string(source == "qemu-host-1" ? "qemu-host-2" : "qemu-host-1") : .null
                let reply = try await client.call("POST", "/servers/\(id)/action", json: ["os-migrateLive": ["host": host, "block_migration": "auto"]])
                #expect(reply.status == 202)
                completed += 1
                let done = completed
                try await expectEventually(seconds: 120) {
                    let list = try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue ?? []
                    // The newest first: this round's migration (its record is made before the API answers).
                    return list.filter { $0["status"] == "completed" }.count == done || list.first?["status"] == "failed"
                        || list.first?["status"] == "error"
                }
                let statuses = try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue ?? []
                #expect(statuses.first?["status"] == "completed", "round \(round): \(statuses.first?.encodedString() ?? "")")
                server = try await client.settle(id)
                #expect(server["status"] == "ACTIVE")
                let dest = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
                #expect(dest != source, "round \(round)")
                let destDriver = try #require(cloud.qemuDrivers[dest])
                #expect(FileManager.default.fileExists(atPath: destDriver.settings.instancesPath + "/\(id)/disk"))
                #expect(QEMUFixture.pid(cloud, id) != nil)
                // The source's copy is gone: no QEMU, no directory (so migrating back finds nothing in the way).
                #expect(!FileManager.default.fileExists(atPath: sourceDriver.settings.instancesPath + "/\(id)"), "round \(round)")
                #expect(await sourceDriver.listGuests()[id] == nil)
                // The same guest runs on: its heartbeat goes on counting and its uptime goes on growing.
                let previous = before
                try await expectEventually(seconds: 30) {
                    (Self.lastTick(try await client.console(id))?.count ?? 0) > previous.count
                }
                let after = try #require(Self.lastTick(try await client.console(id)))
                #expect(after.uptime > previous.uptime, "round \(round): uptime \(after.uptime) after \(previous.uptime)")
                #expect(!(try await client.console(id)).contains(TinyGuest.marker), "round \(round): the guest booted again")
                before = after
            }
            let usage = try await client.placementUsage(host: server["OS-EXT-SRV-ATTR:host"]?.stringValue)
            #expect(usage == 128)
            #expect(try await client.placementUsage() == 128)
            // A snapshot of the moved guest (createImage) boots on its own, with the disk's contents.
            let snap = try await client.call("POST", "/servers/\(id)/action", json: ["createImage": ["name": "wanderer-snap"]])
            #expect(snap.status == 202)
            let imageID = try #require(snap.json["image_id"]?.stringValue)
            try await expectEventually(seconds: 60) {
                try await client.http.request("GET", "/image/v2/images/\(imageID)", token: client.token).json["status"] == "active"
            }
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            let copy = try await client.boot("from-snapshot", image: imageID)
            #expect(try await client.settle(copy)["status"] == "ACTIVE")
            _ = try await client.waitForConsole(copy, "disk mounted: hello from the stratus-tiny disk")
            for server in [id, copy] {
                #expect(try await client.call("DELETE", "/servers/\(server)").status == 204)
                #expect(try await client.settle(server)["status"] == "DELETED")
            }
            for driver in cloud.qemuDrivers.values {
                #expect(await driver.listGuests().isEmpty)
                // Nothing kept by a move, no marker of a storage check: only the image cache is left.
                let left = try FileManager.default.contentsOfDirectory(atPath: driver.settings.instancesPath)
                #expect(left == ["_base"], "\(driver.settings.instancesPath) holds \(left)")
            }
        }
    }
}
