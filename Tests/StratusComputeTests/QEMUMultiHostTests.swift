import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// Several QEMU compute hosts on one machine (`stratus up --hosts N`), each as if on a machine of its own.
@Suite("Real guests on two QEMU hosts", .enabled(if: QEMUFixture.available || QEMUFixture.required))
struct QEMUMultiHostTests {
    @Test("two hosts: one server lands on each, in that host's instances_path, with its own QEMU; both boot to the marker")
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
            for id in ids {
                #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
                #expect(try await client.settle(id)["status"] == "DELETED")
            }
            for driver in cloud.qemuDrivers.values { #expect(await driver.listGuests().isEmpty) }
        }
    }
}
