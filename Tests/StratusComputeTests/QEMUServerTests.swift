import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// The base a qcow2 overlay is backed by, as `qemu-img` reads it (shared: the guest may have the file open).
func backingFile(of disk: String) async throws -> String? {
    let info = try await ProcessRunner.run("/usr/bin/qemu-img", ["info", "-U", "--output=json", disk])
    return try JSON.parse(info.stdout)["backing-filename"]?.stringValue
}

/// A compute cloud whose host runs real QEMU guests (TCG), with the tiny guest registered.
func withQEMUCloud<T: Sendable>(extra: String = "", hosts: Int = 1,
                                _ body: @Sendable (ComputeClient, ReadyCloud) async throws -> T) async throws -> T {
    try await CloudFixture.withCloud(extraConfig: QEMUFixture.config(extra: extra)) { cloud in
        let client = try await ComputeClient(cloud)
        try await client.waitForHosts(hosts)
        return try await body(client, cloud)
    }
}

extension ComputeClient {
    /// The cloud reports ready once its hosts registered; this checks they did.
    func waitForHosts(_ count: Int) async throws {
        let services = try await call("GET", "/os-services").json["services"]?.arrayValue ?? []
        try #require(services.count == count, "\(services.count) of \(count) hosts registered")
    }

    /// The id of the image named `name`.
    func imageID(_ name: String) async throws -> String {
        let images = try await http.request("GET", "/image/v2/images?name=\(name)", token: token).json["images"]?.arrayValue ?? []
        return try #require(images.first?["id"]?.stringValue)
    }

    /// Boots `image` on m1.nano with the default private network.
    func boot(_ name: String, image: String, count: Int = 1) async throws -> String {
        try await create(name, count: count, extra: ["imageRef": .string(image), "networks": "auto"])
    }

    func console(_ id: String, length: Int? = nil) async throws -> String {
        let body: JSON = ["os-getConsoleOutput": length.map { ["length": .int($0)] } ?? [:]]
        return try await call("POST", "/servers/\(id)/action", json: body).json["output"]?.stringValue ?? ""
    }

    /// Waits (up to `seconds`) until the console shows `marker` at least `times` times.
    func waitForConsole(_ id: String, _ marker: String, times: Int = 1, seconds: Double = 90) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var output = ""
        var refusal = ""  // the last answer that was not the console, so a failure says why it saw nothing
        while Date() < deadline {
            let answer = try await call("POST", "/servers/\(id)/action", json: ["os-getConsoleOutput": [:]])
            if answer.status == 200 {
                output = answer.json["output"]?.stringValue ?? ""
                if output.components(separatedBy: marker).count - 1 >= times { return output }
            } else {
                refusal = "\(answer.status) \(answer.json.encodedString())"
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("console of \(id) never showed \(marker) \(times)×; last refusal: \(refusal.isEmpty ? "none" : refusal); it shows:\n\(output)")
        return output
    }

    /// Acts on a server and waits (up to a minute: a clean shutdown under TCG on a loaded machine is slow) until its
    /// task is done.
    func act(_ id: String, _ body: JSON) async throws -> JSON {
        let status = try await call("POST", "/servers/\(id)/action", json: body).status
        #expect(status == 202, "\(body.encodedString()) → \(status)")
        var server = JSON.null
        for _ in 0..<240 {
            server = try await call("GET", "/servers/\(id)").json["server"] ?? .null
            if server["OS-EXT-STS:task_state"] == .null { return server }
            try await Task.sleep(for: .milliseconds(250))
        }
        return server
    }
}

@Suite("Real guests under QEMU", .serialized, .enabled(if: QEMUFixture.available || QEMUFixture.required))
struct QEMUServerTests {
    @Test("the tiny guest boots to its marker; stop, start, reboot soft and hard, pause, suspend, live migration and evacuation on a shared instances_path and delete act on QEMU")
    func lifecycle() async throws {
        // Two hosts sharing one instances_path, as on NFS: each keeps its own files of a guest in UUID/HOST/.
        try await withQEMUCloud(extra: "[qemu]\nhost_count = 2\nshared_instances_path = true\n", hosts: 2) { client, cloud in
            let image = try await client.imageID(TinyGuest.imageName)
            let id = try await client.boot("tiny-one", image: image)
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            let host = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
            let driver = try #require(cloud.qemuDrivers[host])
            var console = try await client.waitForConsole(id, "stratus-tiny: eth0")
            #expect(console.contains("\(TinyGuest.marker) hostname=tiny-one"))
            #expect(console.contains("disk mounted: hello from the stratus-tiny disk"))
            #expect(try await client.console(id, length: 1).split(whereSeparator: \.isNewline).count == 1)

            // The instance directory holds the overlay (backed by the cached base) and the log; the host's own
            // subdirectory the launch plan, the sockets and the pid file.
            let dir = driver.settings.instancesPath + "/" + id
            for file in ["disk", "console.log", "\(host)/qmp.sock", "\(host)/serial.sock", "\(host)/guest.json", "\(host)/qemu.pid"] {
                #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file) missing")
            }
            #expect(try await backingFile(of: dir + "/disk") == driver.settings.instancesPath + "/_base/" + image)
            #expect(await driver.runState(id) == "running")
            // The hypervisor says what runs the guests: QEMU's version, and the accelerator in cpu_info.
            let hypervisors = try await client.http.request("GET", "/compute/v2.1/os-hypervisors/detail", token: client.token,
                                                            headers: ["OpenStack-API-Version": "compute 2.87"]).json["hypervisors"]?.arrayValue ?? []
            #expect(hypervisors.first?["hypervisor_type"] == "QEMU")
            #expect((hypervisors.first?["hypervisor_version"]?.intValue ?? 0) >= 7_000_000)
            let cpuInfo = try JSON.parse(hypervisors.first?["cpu_info"]?.stringValue ?? "")
            #expect(cpuInfo["accelerator"] == "tcg")
            // The port became a virtio NIC with the port's MAC.
            let ports = try await client.http.request("GET", "/network/v2.0/ports?device_id=\(id)", token: client.token).json["ports"]?.arrayValue ?? []
            let mac = try #require(ports.first?["mac_address"]?.stringValue)
            #expect(try String(contentsOfFile: dir + "/\(host)/guest.json", encoding: .utf8).contains(mac))

            #expect(try await client.act(id, ["os-stop": nil])["status"] == "SHUTOFF")
            #expect(QEMUFixture.pid(cloud, id) == nil)
            #expect(try await client.act(id, ["os-start": nil])["status"] == "ACTIVE")
            _ = try await client.waitForConsole(id, TinyGuest.marker, times: 2)
            #expect(try await client.act(id, ["reboot": ["type": "SOFT"]])["status"] == "ACTIVE")
            console = try await client.waitForConsole(id, TinyGuest.marker, times: 3)
            #expect(console.contains("reboot: Power down"))  // the soft reboot was a clean ACPI shutdown first
            #expect(try await client.act(id, ["reboot": ["type": "HARD"]])["status"] == "ACTIVE")
            _ = try await client.waitForConsole(id, TinyGuest.marker, times: 4)

            #expect(try await client.act(id, ["pause": nil])["status"] == "PAUSED")
            #expect(await driver.runState(id) == "paused")
            #expect(try await client.act(id, ["unpause": nil])["status"] == "ACTIVE")
            #expect(await driver.runState(id) == "running")
            #expect(try await client.act(id, ["suspend": nil])["status"] == "SUSPENDED")
            #expect(QEMUFixture.pid(cloud, id) == nil)
            #expect(FileManager.default.fileExists(atPath: dir + "/suspended.state"))
            #expect(try await client.act(id, ["resume": nil])["status"] == "ACTIVE")
            #expect(await driver.runState(id) == "running")
            #expect(!FileManager.default.fileExists(atPath: dir + "/suspended.state"))

            let current = try await sharedPathLiveMigration(client, cloud, id, from: host)
            try await sharedPathEvacuation(client, cloud, id, from: current, bootsSoFar: 4)

            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.settle(id)["status"] == "DELETED")
            #expect(!FileManager.default.fileExists(atPath: dir))
            #expect(try await client.placementUsage() == 0)
            for driver in cloud.qemuDrivers.values { #expect((await driver.listGuests()).isEmpty) }
            let left = try await client.http.request("GET", "/network/v2.0/ports?device_id=\(id)", token: client.token).json["ports"]?.arrayValue
            #expect(left?.isEmpty == true, "the build's port was not released")
        }
    }

    /// Live migration with one instances_path on both hosts: a block migration is refused with Nova's reason and the
    /// guest runs on; `auto` moves only the memory: the disk stays the same file, the guest goes on counting without
    /// a new boot, and the source's own files and QEMU are gone while the directory stays.
    @discardableResult
    func sharedPathLiveMigration(_ client: ComputeClient, _ cloud: ReadyCloud, _ id: String, from source: String) async throws -> String {
        let dir = try #require(cloud.qemuDrivers[source]).settings.instancesPath + "/" + id
        let disk = try FileManager.default.attributesOfItem(atPath: dir + "/disk")[.systemFileNumber] as? Int
        func migrations() async throws -> [JSON] {
            try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue ?? []
        }
        let refused = try await client.call("POST", "/servers/\(id)/action", json: ["os-migrateLive": ["host": .null, "block_migration": true]])
        #expect(refused.status == 202)
        try await expectEventually(seconds: 60) { try await migrations().first?["status"] == "error" }
        #expect(try await client.settle(id)["OS-EXT-SRV-ATTR:host"]?.stringValue == source)
        // A heartbeat of the guest's current boot (the console log holds every boot's).
        try await expectEventually(seconds: 60) { QEMUMultiHostTests.lastTick(try await client.console(id)) != nil }
        let before = try #require(QEMUMultiHostTests.lastTick(try await client.console(id)))

        let reply = try await client.call("POST", "/servers/\(id)/action", json: ["os-migrateLive": ["host": .null, "block_migration": "auto"]])
        #expect(reply.status == 202)
        try await expectEventually(seconds: 120) { ["completed", "failed", "error"].contains(try await migrations().first?["status"]?.stringValue ?? "") }
        let latest = try await migrations().first
        #expect(latest?["status"] == "completed", "\(latest?.encodedString() ?? "")")
        let server = try await client.settle(id)
        #expect(server["status"] == "ACTIVE")
        let dest = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
        #expect(dest != source)
        #expect(try FileManager.default.attributesOfItem(atPath: dir + "/disk")[.systemFileNumber] as? Int == disk, "the disk stayed the same file")
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + source), "the source's own files are gone")
        #expect(FileManager.default.fileExists(atPath: dir + "/\(dest)/qmp.sock"))
        #expect(await cloud.qemuDrivers[dest]?.runState(id) == "running")
        #expect(await cloud.qemuDrivers[source]?.listGuests()[id] == nil)
        try await expectEventually(seconds: 30) { (QEMUMultiHostTests.lastTick(try await client.console(id))?.count ?? 0) > before.count }
        let after = try #require(QEMUMultiHostTests.lastTick(try await client.console(id)))
        let shown = try await client.console(id, length: 30)
        #expect(after.uptime > before.uptime, "\(shown)")
        #expect(try await client.placementUsage(host: source) == 0)
        #expect(try await client.placementUsage(host: dest) == 128)
        return dest
    }

    /// Evacuation with one instances_path on both hosts: the guest's host dies (its QEMU killed, the service forced
    /// down), and the server is rebuilt on the other host from the disk it had (the same file, not a new overlay on
    /// the image), which boots again; the dead host's own files go once it reports, and its hold on placement.
    func sharedPathEvacuation(_ client: ComputeClient, _ cloud: ReadyCloud, _ id: String, from source: String,
                              bootsSoFar: Int) async throws {
        let dir = try #require(cloud.qemuDrivers[source]).settings.instancesPath + "/" + id
        let disk = try FileManager.default.attributesOfItem(atPath: dir + "/disk")[.systemFileNumber] as? Int
        let evacuations = ServerEvacuateTests()
        try await evacuations.forceDown(client, source)
        if let pid = cloud.qemuDrivers[source]?.pid(of: id) { kill(pid, SIGKILL) }
        // At 2.13, saying the disk is on shared storage: the destination checks that it really finds it there.
        let reply = try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: client.token,
                                                  json: ["evacuate": ["onSharedStorage": true]],
                                                  headers: ["OpenStack-API-Version": "compute 2.13"])
        #expect(reply.status == 200, "\(reply.json.encodedString())")
        #expect(reply.json["adminPass"]?.stringValue != nil)
        var server = try await client.settle(id)
        // Power sync may have seen the killed guest first and stopped the server: an evacuated stopped server stays so.
        if server["status"] == "SHUTOFF" { server = try await client.act(id, ["os-start": nil]) }
        #expect(server["status"] == "ACTIVE")
        let dest = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
        #expect(dest != source)
        _ = try await client.waitForConsole(id, TinyGuest.marker, times: bootsSoFar + 1)
        #expect(try FileManager.default.attributesOfItem(atPath: dir + "/disk")[.systemFileNumber] as? Int == disk, "the disk was kept")
        #expect(await cloud.qemuDrivers[dest]?.runState(id) == "running")
        try await expectEventually { try await client.placementUsage(host: source) == 0 }
        #expect(try await client.placementUsage(host: dest) == 128)
        // The dead host comes back: its stray files of the guest go, the shared directory stays for the new host.
        try await evacuations.forceDown(client, source, false)
        try await expectEventually { !FileManager.default.fileExists(atPath: dir + "/" + source) }
        #expect(FileManager.default.fileExists(atPath: dir + "/disk"))
    }
}
