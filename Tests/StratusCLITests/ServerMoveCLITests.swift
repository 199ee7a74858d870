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

    @Test("server migrate --live-migration --host --block-migration --wait, migration show/abort/force complete/list; compute service set --down and server evacuate; server image create --wait and a boot of the snapshot")
    func liveMigration() async throws {
        try await withFakeHostCloud(hosts: 2) { cloud, http, token in
            let admin = ["--os-cloud", "stratus-admin", "--os-compute-api-version", "2.90"]
            let created = try await http.request("POST", "/compute/v2.1/servers", token: token, json: ["server": [
                "name": "runner", "flavorRef": "42", "imageRef": .string(CloudFixture.imageID), "networks": "none"]],
                headers: ["OpenStack-API-Version": "compute 2.90"])
            #expect(created.status == 202)
            let booted = try await waitForServer(cloud, admin, "runner", status: "ACTIVE")
            let source = try #require(booted["OS-EXT-SRV-ATTR:host"]?.stringValue)
            let other = source == "fake-1" ? "fake-2" : "fake-1"

            let live = try await runOpenStack(cloud, admin + ["server", "migrate", "--live-migration", "--host", other, "--block-migration", "--wait", "runner"])
            #expect(live.status == 0, "stderr: \(live.stderr)")
            let moved = try await waitForServer(cloud, admin, "runner", status: "ACTIVE")
            #expect(moved["OS-EXT-SRV-ATTR:host"]?.stringValue == other)

            // A slow copy from here on: abort one, force the next to complete.
            let driver = try #require(cloud.fakeDrivers[other])
            driver.setLiveMigrationCopyTime(.seconds(120))
            // Polled over HTTP (each CLI run costs seconds): the running migration's id and uuid.
            func liveMigrationID() async throws -> (id: String, uuid: String) {
                for _ in 0..<600 {
                    let list = try await http.request("GET", "/compute/v2.1/os-migrations?status=running", token: token,
                                                      headers: ["OpenStack-API-Version": "compute 2.90"]).json["migrations"]?.arrayValue ?? []
                    if let found = list.first, let id = found["id"]?.intValue, let uuid = found["uuid"]?.stringValue {
                        return (String(id), uuid)
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                throw StratusError.badRequest("no running live migration")
            }
            #expect(try await runOpenStack(cloud, admin + ["server", "migrate", "--live-migration", "runner"]).status == 0)
            let first = try await liveMigrationID()
            // By UUID: this client passes an integer id to the SDK in the wrong argument order (against Nova too).
            let shown = try json(try await runOpenStack(cloud, admin + ["server", "migration", "show", "runner", first.uuid, "-f", "json"]))
            #expect(shown["Status"] == "running", "\(shown.encodedString())")
            let abort = try await runOpenStack(cloud, admin + ["server", "migration", "abort", "runner", first.id])
            #expect(abort.status == 0, "stderr: \(abort.stderr)")
            #expect(try await waitForServer(cloud, admin, "runner", status: "ACTIVE")["OS-EXT-SRV-ATTR:host"]?.stringValue == other)

            #expect(try await runOpenStack(cloud, admin + ["server", "migrate", "--live-migration", "runner"]).status == 0)
            let second = try await liveMigrationID()
            let force = try await runOpenStack(cloud, admin + ["server", "migration", "force", "complete", "runner", second.id])
            #expect(force.status == 0, "stderr: \(force.stderr)")
            var statuses: [String] = []
            for _ in 0..<600 {
                let list = try json(try await runOpenStack(cloud, admin + ["server", "migration", "list", "--server", "runner", "-f", "json"]))
                statuses = list.arrayValue?.compactMap { $0["Status"]?.stringValue } ?? []
                if !statuses.contains(where: { ["running", "accepted", "preparing", "queued"].contains($0) }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(statuses.sorted() == ["cancelled", "completed", "completed"], "\(statuses)")
            #expect(try await waitForServer(cloud, admin, "runner", status: "ACTIVE")["OS-EXT-SRV-ATTR:host"]?.stringValue == source)

            // Evacuate, and a snapshot: on the same cloud, with a server of their own.
            do {
            let created = try await http.request("POST", "/compute/v2.1/servers", token: token, json: ["server": [
                "name": "refugee", "flavorRef": "42", "imageRef": .string(CloudFixture.imageID), "networks": "none"]],
                headers: ["OpenStack-API-Version": "compute 2.90"])
            #expect(created.status == 202)
            let source = try #require(try await waitForServer(cloud, admin, "refugee", status: "ACTIVE")["OS-EXT-SRV-ATTR:host"]?.stringValue)
            let early = try await runOpenStack(cloud, admin + ["server", "evacuate", "refugee"])
            #expect(early.status != 0)
            #expect(early.stderr.contains("is still in use"), "stderr: \(early.stderr)")
            let down = try await runOpenStack(cloud, admin + ["compute", "service", "set", "--down", source, "nova-compute"])
            #expect(down.status == 0, "stderr: \(down.stderr)")
            // Without --wait: this client's `server evacuate --wait` compares the lowercased status with 'ACTIVE' and
            // never finishes, against Nova too; the server is polled instead.
            let evacuate = try await runOpenStack(cloud, admin + ["server", "evacuate", "refugee"])
            #expect(evacuate.status == 0, "stderr: \(evacuate.stderr)")
            let moved = try await waitForServer(cloud, admin, "refugee", status: "ACTIVE")
            #expect(moved["OS-EXT-SRV-ATTR:host"]?.stringValue != source)
            let list = try json(try await runOpenStack(cloud, admin + ["server", "migration", "list", "--server", "refugee", "-f", "json"]))
            #expect(list.arrayValue?.first?["Type"] == "evacuation", "\(list.encodedString())")
            #expect(list.arrayValue?.first?["Status"] == "done", "\(list.encodedString())")

            // A snapshot of it, waited for, then booted.
            let snap = try await runOpenStack(cloud, admin + ["server", "image", "create", "--wait", "--name", "refugee-snap", "refugee"])
            #expect(snap.status == 0, "stderr: \(snap.stderr)")
            let image = try json(try await runOpenStack(cloud, admin + ["image", "show", "refugee-snap", "-f", "json"]))
            #expect(image["status"] == "active", "\(image.encodedString())")
            let boot = try await runOpenStack(cloud, admin + ["server", "create", "--image", "refugee-snap", "--flavor", "m1.nano",
                                                              "--nic", "none", "copy"])
            #expect(boot.status == 0, "stderr: \(boot.stderr)")
            #expect(try await waitForServer(cloud, admin, "copy", status: "ACTIVE")["status"] == "ACTIVE")
            }
        }
    }
}
