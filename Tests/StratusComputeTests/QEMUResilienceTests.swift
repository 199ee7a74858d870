import Foundation
import StratusCloud
import StratusComputeAgent
import StratusCore
import StratusTesting
import Testing

extension ComputeClient {
    /// Creates a public image and uploads `data`; returns its id.
    func uploadImage(_ name: String, diskFormat: String, data: Data, properties: [String: JSON] = [:]) async throws -> String {
        var body: [String: JSON] = ["name": .string(name), "disk_format": .string(diskFormat), "container_format": "bare",
                                    "visibility": "public"]
        body.merge(properties) { _, new in new }
        let created = try await http.request("POST", "/image/v2/images", token: token, json: .object(body))
        let id = try #require(created.json["id"]?.stringValue, "image create: \(created.status) \(created.json.encodedString())")
        let upload = try await http.request("PUT", "/image/v2/images/\(id)/file", token: token, rawBody: data,
                                            headers: ["Content-Type": "application/octet-stream"])
        #expect(upload.status == 204)
        return id
    }
}

/// A 1 MiB raw disk whose boot sector writes `message` to COM1 and halts: a BIOS-bootable image in a few bytes.
func bootSectorDisk(_ message: String) -> Data {
    // cli; cld; xor ax,ax; mov ds,ax; mov si,0x7c17; mov dx,0x3f8; next: lodsb; test al,al; jz done; out dx,al;
    // jmp next; done: hlt; jmp done; then the message at 0x7c17.
    var sector: [UInt8] = [0xFA, 0xFC, 0x31, 0xC0, 0x8E, 0xD8, 0xBE, 0x17, 0x7C, 0xBA, 0xF8, 0x03, 0xAC, 0x84, 0xC0, 0x74, 0x03,
                           0xEE, 0xEB, 0xF8, 0xF4, 0xEB, 0xFD]
    sector += Array((message + "\r\n").utf8) + [0]
    sector += [UInt8](repeating: 0, count: 510 - sector.count) + [0x55, 0xAA]
    return Data(sector + [UInt8](repeating: 0, count: (1 << 20) - 512))
}

@Suite("Real guests: cache, restarts and failures", .serialized, .enabled(if: QEMUFixture.available || QEMUFixture.required))
struct QEMUResilienceTests {
    @Test("two servers from one image share one cached base, downloaded once; unused bases go after the minimum age")
    func sharedBase() async throws {
        try await withQEMUCloud(extra: "[image_cache]\nremove_unused_original_minimum_age_seconds = 1") { client, cloud in
            let driver = try #require(cloud.qemuDriver)
            let image = try await client.imageID(TinyGuest.imageName)
            let first = try await client.boot("pair", image: image, count: 2)
            let servers = try await client.call("GET", "/servers?name=pair").json["servers"]?.arrayValue ?? []
            let ids = servers.compactMap { $0["id"]?.stringValue }
            #expect(ids.count == 2 && ids.contains(first))
            for id in ids { #expect(try await client.settle(id)["status"] == "ACTIVE") }
            // kernel, initrd and disk: each downloaded once although both builds asked at the same time
            #expect(await driver.images.downloads == 3)
            let base = driver.settings.instancesPath + "/_base/" + image
            for id in ids {
                #expect(try await backingFile(of: driver.settings.instancesPath + "/\(id)/disk") == base)
                _ = try await client.waitForConsole(id, TinyGuest.marker)
            }
            try await Task.sleep(for: .seconds(1.2))
            await driver.maintain()
            #expect(FileManager.default.fileExists(atPath: base), "a base in use was removed")
            for id in ids {
                #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
                #expect(try await client.settle(id)["status"] == "DELETED")
            }
            try await Task.sleep(for: .seconds(1.2))
            await driver.maintain()
            #expect(!FileManager.default.fileExists(atPath: base))
            let left = try FileManager.default.contentsOfDirectory(atPath: driver.settings.instancesPath + "/_base")
            #expect(left.isEmpty)
        }
    }

    @Test("guests outlive a restart of the agent and stay ACTIVE; a killed QEMU makes the server SHUTOFF with an event")
    func survivesRestartAndNoticesDeath() async throws {
        let config = QEMUFixture.config()
        let first = try await CloudFixture.withRestartingCloud([config, config]) { round, cloud in
            let client = try await ComputeClient(cloud)
            try await client.waitForHosts(1)
            if round == 0 {
                let id = try await client.boot("survivor", image: try await client.imageID(TinyGuest.imageName))
                #expect(try await client.settle(id)["status"] == "ACTIVE")
                _ = try await client.waitForConsole(id, TinyGuest.marker)
                return (id, QEMUFixture.pid(cloud, id))
            }
            let servers = try await client.call("GET", "/servers").json["servers"]?.arrayValue ?? []
            let id = try #require(servers.first?["id"]?.stringValue)
            let pid = try #require(QEMUFixture.pid(cloud, id), "the guest did not survive the restart")
            // Several power syncs (every 2 s) pass: the guest runs, so nothing changes.
            try await Task.sleep(for: .seconds(5))
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            #expect(try await client.console(id).contains(TinyGuest.marker))
            kill(pid, SIGKILL)
            var status = ""
            for _ in 0..<60 {
                status = try await client.settle(id)["status"]?.stringValue ?? ""
                if status == "SHUTOFF" { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(status == "SHUTOFF")
            let actions = try await client.call("GET", "/servers/\(id)/os-instance-actions").json["instanceActions"]?.arrayValue ?? []
            let stop = try #require(actions.first { $0["action"] == "stop" }?["request_id"]?.stringValue)
            let events = try await client.call("GET", "/servers/\(id)/os-instance-actions/\(stop)").json["instanceAction"]?["events"]?.arrayValue ?? []
            #expect(events.first?["event"] == "compute_sync_power_state")
            // It starts again from its disk.
            #expect(try await client.act(id, ["os-start": nil])["status"] == "ACTIVE")
            _ = try await client.waitForConsole(id, TinyGuest.marker, times: 2)
            return (id, pid)
        }
        #expect(first[0].0 == first[1].0)
        #expect(first[0].1 == first[1].1, "the same QEMU process ran across the agent restart")
    }

    @Test("disk images boot through the BIOS; a bad checksum, a corrupt qcow2 and a QEMU that refuses to start fail the build with the reason, caching nothing")
    func diskBootAndBadImages() async throws {
        try await withQEMUCloud { client, cloud in
            let driver = try #require(cloud.qemuDriver)
            let disk = try await client.uploadImage("boot-sector", diskFormat: "raw", data: bootSectorDisk("STRATUS-BIOS-BOOT"))
            let booted = try await client.create("bios", extra: ["imageRef": .string(disk), "networks": "none"])
            #expect(try await client.settle(booted)["status"] == "ACTIVE")
            _ = try await client.waitForConsole(booted, "STRATUS-BIOS-BOOT", seconds: 30)
            // A hard reboot is the way out of PAUSED and SUSPENDED too (Nova's ALLOW_HARD_REBOOT); from SUSPENDED it
            // boots afresh and drops the saved state.
            #expect(try await client.act(booted, ["pause": nil])["status"] == "PAUSED")
            #expect(try await client.act(booted, ["reboot": ["type": "HARD"]])["status"] == "ACTIVE")
            #expect(await driver.runState(booted) == "running")
            _ = try await client.waitForConsole(booted, "STRATUS-BIOS-BOOT", times: 2, seconds: 30)
            #expect(try await client.act(booted, ["suspend": nil])["status"] == "SUSPENDED")
            #expect(try await client.act(booted, ["reboot": ["type": "HARD"]])["status"] == "ACTIVE")
            #expect(!FileManager.default.fileExists(atPath: driver.settings.instancesPath + "/\(booted)/suspended.state"))
            _ = try await client.waitForConsole(booted, "STRATUS-BIOS-BOOT", times: 3, seconds: 30)

            // Bits changed in the image store after upload: the host's checksum check refuses them.
            let tampered = try await client.uploadImage("tampered", diskFormat: "raw", data: bootSectorDisk("ORIGINAL"))
            let imageDirectory = (driver.settings.instancesPath as NSString).deletingLastPathComponent + "/images/"
            try bootSectorDisk("CHANGED!").write(to: URL(fileURLWithPath: imageDirectory + tampered))
            // Garbage that claims to be qcow2.
            let corrupt = try await client.uploadImage("corrupt", diskFormat: "qcow2", data: Data(repeating: 0x5A, count: 4096))
            // A "kernel" QEMU cannot load: QEMU itself refuses to start.
            let badKernel = try await client.uploadImage("bad-kernel", diskFormat: "aki", data: Data(repeating: 0x42, count: 8192))
            let kernelBoot = try await client.uploadImage("needs-bad-kernel", diskFormat: "raw", data: bootSectorDisk("NEVER"),
                                                          properties: ["kernel_id": .string(badKernel)])
            let expectations = [(tampered, "failed its checksum"), (corrupt, "is not a valid qcow2 image"), (kernelBoot, "QEMU failed to start")]
            for (image, reason) in expectations {
                let id = try await client.create("bad-\(image.prefix(4))", extra: ["imageRef": .string(image), "networks": "none"])
                let server = try await client.settle(id)
                #expect(server["status"] == "ERROR")
                let details = server["fault"]?["details"]?.stringValue ?? ""
                #expect(details.contains(reason), "fault for \(reason): \(server["fault"]?.encodedString() ?? "none")")
                #expect(!FileManager.default.fileExists(atPath: driver.settings.instancesPath + "/" + id), "instance dir left behind")
            }
            let again = details(of: try await client.settle(try await client.create("x", extra: ["imageRef": .string(kernelBoot), "networks": "none"])))
            #expect(again.contains("qemu: invalid kernel header"), "the fault carries QEMU's own words: \(again)")
            let cached = Set(try FileManager.default.contentsOfDirectory(atPath: driver.settings.instancesPath + "/_base"))
            #expect(!cached.contains(tampered) && !cached.contains(corrupt))
            #expect(cached.allSatisfy { !$0.hasSuffix(".part") })

            // The image's min_ram is checked before anything is scheduled.
            let small = try await client.call("POST", "/flavors", json: ["flavor": ["name": "too-small", "ram": 32, "vcpus": 1, "disk": 1]])
            let flavorID = try #require(small.json["flavor"]?["id"]?.stringValue)
            let refused = try await client.call("POST", "/servers", json: ["server": [
                "name": "small", "flavorRef": .string(flavorID), "imageRef": .string(try await client.imageID(TinyGuest.imageName)),
                "networks": "none"]])
            #expect(refused.status == 400)
            #expect(refused.json["badRequest"]?["message"]?.stringValue == "Flavor's memory is too small for requested image.")
        }
    }
}

private func details(of server: JSON) -> String { server["fault"]?["details"]?.stringValue ?? "" }
