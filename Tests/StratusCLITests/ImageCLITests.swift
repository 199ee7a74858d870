import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// The real CLI on images, and `server create --image … --wait` from them.
@Suite("The real openstack CLI: images", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed"))
struct ImageCLITests {
    @Test("image create --file/list/show/set/save/delete; server create --image --wait, with --hint group; bad uploads refused")
    func imagesAndBoots() async throws {
        try await CloudFixture.withCloud(extraConfig: "[fake_driver]\nhost_count = 2\n") { cloud in
            let admin = ["--os-cloud", "stratus-admin"]
            let dir = NSTemporaryDirectory() + "stratus-cli-image-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var bytes = [UInt8](repeating: 0, count: 256 * 1024)
            bytes.replaceSubrange(0..<4, with: [0x51, 0x46, 0x49, 0xfb])
            bytes[28] = 0x40  // virtual size 1 GiB (0x40000000), big-endian at 24–31
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/disk.qcow2"))

            let created = try json(try await runOpenStack(cloud, admin + [
                "image", "create", "--file", dir + "/disk.qcow2", "--disk-format", "qcow2", "--container-format", "bare", "--public",
                "--property", "hw_architecture=x86_64", "tiny", "-f", "json"]))
            #expect(created["status"] == "active")
            #expect(created["size"] == .int(bytes.count))
            #expect(created["virtual_size"] == .int(1 << 30))
            // Glance's checksums, compared with the coreutils tools.
            let md5 = try await ProcessRunner.run("/usr/bin/md5sum", [dir + "/disk.qcow2"])
            #expect(created["checksum"]?.stringValue == md5.stdout.split(separator: " ").first.map(String.init))
            let sha512 = try await ProcessRunner.run("/usr/bin/sha512sum", [dir + "/disk.qcow2"])
            #expect(created["properties"]?["os_hash_value"]?.stringValue == sha512.stdout.split(separator: " ").first.map(String.init))
            let list = try json(try await runOpenStack(cloud, admin + ["image", "list", "-f", "json"]))
            #expect(list.arrayValue?.contains { $0["Name"] == "tiny" && $0["Status"] == "active" } == true)
            let saved = try await runOpenStack(cloud, admin + ["image", "save", "--file", dir + "/back.qcow2", "tiny"])
            #expect(saved.status == 0, "stderr: \(saved.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/back.qcow2")) == Data(bytes))
            let set = try await runOpenStack(cloud, admin + ["image", "set", "--min-ram", "64", "--tag", "gold", "tiny"])
            #expect(set.status == 0, "stderr: \(set.stderr)")
            let shown = try json(try await runOpenStack(cloud, admin + ["image", "show", "tiny", "-f", "json"]))
            #expect(shown["min_ram"] == 64)

            let server = try json(try await runOpenStack(cloud, admin + [
                "server", "create", "--image", "tiny", "--flavor", "m1.nano", "--nic", "none", "--wait", "vm1", "-f", "json"]))
            #expect(server["status"] == "ACTIVE")
            let group = try json(try await runOpenStack(cloud, admin + ["server", "group", "create", "--policy", "anti-affinity", "apart", "-f", "json"]))
            let groupID = try #require(group["id"]?.stringValue)
            var hosts: [String] = []
            for name in ["g1", "g2"] {
                let member = try json(try await runOpenStack(cloud, admin + [
                    "server", "create", "--image", "tiny", "--flavor", "m1.nano", "--nic", "none", "--hint", "group=\(groupID)", "--wait",
                    name, "-f", "json"]))
                #expect(member["status"] == "ACTIVE")
                hosts.append(member["OS-EXT-SRV-ATTR:host"]?.stringValue ?? "")
            }
            #expect(Set(hosts).count == 2)
            let third = try await runOpenStack(cloud, admin + [
                "server", "create", "--image", "tiny", "--flavor", "m1.nano", "--nic", "none", "--hint", "group=\(groupID)", "--wait", "g3"])
            #expect(third.status != 0)  // ERROR: no third host for the group

            let deleted = try await runOpenStack(cloud, admin + ["image", "delete", "tiny"])
            #expect(deleted.status == 0, "stderr: \(deleted.stderr)")
            let missing = try await runOpenStack(cloud, admin + ["image", "show", "tiny"])
            #expect(missing.status != 0)
        }
    }
}
