import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

extension QEMUMultiHostTests {
    /// The guest's latest report of its disk: how often it booted from that disk, the disk's size in sectors.
    static func lastDiskBoot(_ console: String) -> (boots: Int, sectors: Int)? {
        for line in console.split(whereSeparator: \.isNewline).reversed() {
            guard let range = line.range(of: "disk boot ") else { continue }
            let words = line[range.upperBound...].split(separator: " ")
            if words.count >= 2, let boots = Int(words[0].dropLast()), let sectors = Int(words[1]) { return (boots, sectors) }
        }
        return nil
    }

    /// Waits for the guest to report booting from its disk for the `boots`-th time, and returns the disk's sectors.
    func diskBoot(_ client: ComputeClient, _ id: String, _ boots: Int) async throws -> Int? {
        _ = try await client.waitForConsole(id, "disk boot \(boots),")
        let seen = Self.lastDiskBoot(try await client.console(id))
        #expect(seen?.boots == boots, "the guest reports \(String(describing: seen)), expected boot \(boots)")
        return seen?.sectors
    }

    /// Acts on the server and returns it once the action is done (a confirm: once the source is clean, which is when
    /// the server leaves VERIFY_RESIZE).
    func status(_ client: ComputeClient, _ id: String, after body: JSON) async throws -> JSON {
        let reply = try await client.call("POST", "/servers/\(id)/action", json: body)
        #expect(reply.status == 202 || reply.status == 204, "\(body.encodedString()) → \(reply.status)")
        if reply.status == 204 { try await expectEventually(seconds: 60) { try await client.settle(id)["status"] != "VERIFY_RESIZE" } }
        return try await client.settle(id)
    }

    /// Cold resize, revert and cold migration with confirm, on real guests: the disk goes with the guest (the count the
    /// guest keeps on it goes on), a resize grows it, a revert brings back the disk from before the move; the source
    /// keeps the guest (and serves its disk) only until confirm or revert, and nothing is left on either host.
    func coldMovesKeepTheDisk(_ cloud: ReadyCloud, _ client: ComputeClient, _ id: String) async throws {
        var server = try await client.settle(id)
        let home = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
        let homePath = try #require(cloud.qemuDrivers[home]).settings.instancesPath
        let shown = try await client.waitForConsole(id, "sectors, ")
        let boots = try #require(Self.lastDiskBoot(shown)?.boots, "\(shown)")
        let grown = try await client.call("POST", "/flavors", json: ["flavor": ["name": "m1.grown", "ram": 192, "vcpus": 1, "disk": 2]])
        #expect(grown.status == 200)
        let grownID = try #require(grown.json["flavor"]?["id"]?.stringValue)

        // Resize (to the other host: allow_resize_to_same_host is off): the guest boots there from its own disk, grown.
        server = try await status(client, id, after: ["resize": ["flavorRef": .string(grownID)]])
        #expect(server["status"] == "VERIFY_RESIZE")
        let away = try #require(server["OS-EXT-SRV-ATTR:host"]?.stringValue)
        #expect(away != home)
        #expect(try await diskBoot(client, id, boots + 1) == 4_194_304, "the 2 GB root disk of the new flavor")
        let keptDisk = homePath + "/\(id)_resize/disk"
        #expect(FileManager.default.fileExists(atPath: keptDisk))
        #expect(!FileManager.default.fileExists(atPath: homePath + "/\(id)"))
        let export = try #require(Int32(try String(contentsOfFile: homePath + "/\(id)_resize/nbd.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try await client.placementUsage(host: home) == 128, "the migration holds the source")
        #expect(try await client.placementUsage(host: away) == 192)

        // Revert: back home with the old flavor and the disk from before the move (the count it had then, again).
        server = try await status(client, id, after: ["revertResize": nil])
        #expect(server["status"] == "ACTIVE")
        #expect(server["OS-EXT-SRV-ATTR:host"]?.stringValue == home)
        #expect(try await diskBoot(client, id, boots + 1) == 2_097_152, "the old flavor's 1 GB disk")
        #expect(!FileManager.default.fileExists(atPath: homePath + "/\(id)_resize"))
        #expect(kill(export, 0) != 0, "the disk export ended")
        #expect(!FileManager.default.fileExists(atPath: try #require(cloud.qemuDrivers[away]).settings.instancesPath + "/\(id)"))
        try await expectEventually { try await client.placementUsage(host: away) == 0 }

        // Cold migration, confirmed: the disk goes on counting there, and the source holds nothing afterwards.
        server = try await status(client, id, after: ["migrate": nil])
        #expect(server["status"] == "VERIFY_RESIZE")
        #expect(server["OS-EXT-SRV-ATTR:host"]?.stringValue == away)
        #expect(try await diskBoot(client, id, boots + 2) == 2_097_152)
        server = try await status(client, id, after: ["confirmResize": nil])
        #expect(server["status"] == "ACTIVE")
        #expect(!FileManager.default.fileExists(atPath: homePath + "/\(id)_resize"))
        #expect(!FileManager.default.fileExists(atPath: homePath + "/\(id)"))
        try await expectEventually { try await client.placementUsage(host: home) == 0 }
        #expect(try await client.placementUsage(host: away) == 128)
        let statuses = (try await client.call("GET", "/os-migrations?instance_uuid=\(id)").json["migrations"]?.arrayValue ?? [])
            .prefix(2).compactMap { $0["status"]?.stringValue }
        #expect(statuses == ["confirmed", "reverted"])
    }
}
