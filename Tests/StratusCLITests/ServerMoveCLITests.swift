import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// The real CLI moving servers between fake hosts: cold migration, resize, confirm and revert, migration list.
@Suite("The real openstack CLI: moving servers", .enabled(if: ProcessRunner.openstackCLI != nil, "python-openstackclient not installed"))
struct ServerMoveCLITests {
    @Test("server migrate --wait, resize confirm, resize --flavor --wait, resize revert, server migration list")
    func migrateAndResize() async throws {
        try await withFakeHostCloud(hosts: 2) { cloud, http, token in
            let admin = ["--os-cloud", "stratus-admin"]
            let created = try await http.request("POST", "/compute/v2.1/servers", token: token, json: ["server": [
                "name": "traveller", "flavorRef": "42", "imageRef": .string(CloudFixture.imageID), "networks": "none"]],
                headers: ["OpenStack-API-Version": "compute 2.90"])
            #expect(created.status == 202)
            let booted = try await waitForServer(cloud, admin, "traveller", status: "ACTIVE")
            let source = try #require(booted["OS-EXT-SRV-ATTR:host"]?.stringValue)

            let migrate = try await runOpenStack(cloud, admin + ["server", "migrate", "--wait", "traveller"])
            #expect(migrate.status == 0, "stderr: \(migrate.stderr)")
            let moved = try await waitForServer(cloud, admin, "traveller", status: "VERIFY_RESIZE")
            #expect(moved["status"] == "VERIFY_RESIZE")
            let dest = try #require(moved["OS-EXT-SRV-ATTR:host"]?.stringValue)
            #expect(dest != source)
            let confirm = try await runOpenStack(cloud, admin + ["server", "resize", "confirm", "traveller"])
            #expect(confirm.status == 0, "stderr: \(confirm.stderr)")
            #expect(try await waitForServer(cloud, admin, "traveller", status: "ACTIVE")["status"] == "ACTIVE")

            let resize = try await runOpenStack(cloud, admin + ["server", "resize", "--flavor", "m1.micro", "--wait", "traveller"])
            #expect(resize.status == 0, "stderr: \(resize.stderr)")
            let resized = try await waitForServer(cloud, admin, "traveller", status: "VERIFY_RESIZE")
            #expect(resized["flavor"]?.stringValue?.contains("m1.micro") == true || resized["flavor"]?["name"] == "m1.micro",
                    "\(resized["flavor"] ?? .null)")
            let revert = try await runOpenStack(cloud, admin + ["server", "resize", "revert", "traveller"])
            #expect(revert.status == 0, "stderr: \(revert.stderr)")
            let back = try await waitForServer(cloud, admin, "traveller", status: "ACTIVE")
            #expect(back["OS-EXT-SRV-ATTR:host"]?.stringValue == dest)
            #expect(back["flavor"]?.stringValue?.contains("m1.nano") == true || back["flavor"]?["name"] == "m1.nano")

            let list = try json(try await runOpenStack(
                cloud, admin + ["--os-compute-api-version", "2.80", "server", "migration", "list", "--server", "traveller", "-f", "json"]))
            let statuses = Set(list.arrayValue?.compactMap { $0["Status"]?.stringValue } ?? [])
            #expect(statuses == ["confirmed", "reverted"], "\(list.encodedString())")
            let types = Set(list.arrayValue?.compactMap { $0["Type"]?.stringValue } ?? [])
            #expect(types == ["migration", "resize"], "\(list.encodedString())")
        }
    }
}
