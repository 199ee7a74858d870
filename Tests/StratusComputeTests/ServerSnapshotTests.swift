import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// `createImage` on fake hosts: the image made, filled by the host through the Image API, bootable again.
@Suite("Snapshots: createImage")
struct ServerSnapshotTests {
    let moves = ServerMoveTests()

    func image(_ client: ComputeClient, _ id: String) async throws -> TestHTTP.Reply {
        try await client.http.request("GET", "/image/v2/images/\(id)", token: client.token)
    }

    @Test("createImage: 2.45 image_id (Location before), the image active with Nova's snapshot properties, bootable; failures remove the image; bad input refused")
    func snapshotAndBoot() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            let id = try await client.create("original")
            _ = try await client.settle(id)
            let reply = try await moves.act(client, id, ["createImage": ["name": "snap-1", "metadata": ["purpose": "test"]]])
            #expect(reply.status == 202)
            let imageID = try #require(reply.json["image_id"]?.stringValue)
            try await expectEventually { try await image(client, imageID).json["status"] == "active" }
            let made = try await image(client, imageID).json
            #expect(made["image_type"] == "snapshot")
            #expect(made["instance_uuid"]?.stringValue == id)
            #expect(made["base_image_ref"]?.stringValue == CloudFixture.imageID)
            #expect(made["purpose"] == "test")
            #expect(made["visibility"] == "private")
            #expect((made["size"]?.intValue ?? 0) > 0)
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            let names = try await moves.events(client, id, action: "createImage").compactMap { $0["event"]?.stringValue }
            #expect(names == ["compute_snapshot_instance"])
            // The snapshot boots.
            let again = try await client.create("from-snapshot", extra: ["imageRef": .string(imageID)])
            #expect(try await client.settle(again)["status"] == "ACTIVE")

            // Before 2.45: no body, the image in Location.
            let old = try await client.http.request("POST", "/compute/v2.1/servers/\(id)/action", token: client.token,
                                                    json: ["createImage": ["name": "snap-2"]], headers: ["OpenStack-API-Version": "compute 2.44"])
            #expect(old.status == 202)
            let location = try #require(old.header("Location"))
            #expect(location.contains("/image/v2/images/"))
            let oldID = String(location.split(separator: "/").last ?? "")
            try await expectEventually { try await image(client, oldID).json["status"] == "active" }

            // A failed snapshot: the server is as it was, its half-made image gone.
            _ = try await client.settle(id)  // the image is active a moment before the task ends
            let host = try #require(moves.host(server))
            cloud.fakeDrivers[host]?.failNextSnapshots()
            let failing = try await moves.act(client, id, ["createImage": ["name": "snap-3"]])
            let failedID = try #require(failing.json["image_id"]?.stringValue)
            try await expectEventually { try await image(client, failedID).status == 404 }
            #expect(try await client.settle(id)["status"] == "ACTIVE")
            #expect(try await moves.events(client, id, action: "createImage").last?["result"] == "Error")

            #expect(try await moves.act(client, id, ["createImage": [:]]).status == 400)
            #expect(try await moves.act(client, id, ["createImage": ["name": "x", "metadata": ["k": 1]]]).status == 400)
            #expect(try await moves.act(client, id, ["os-stop": nil]).status == 202)
            #expect(try await client.settle(id)["status"] == "SHUTOFF")
            let stopped = try await moves.act(client, id, ["createImage": ["name": "snap-stopped"]])
            #expect(stopped.status == 202)
            let stoppedID = try #require(stopped.json["image_id"]?.stringValue)
            try await expectEventually { try await image(client, stoppedID).json["status"] == "active" }
            #expect(try await client.settle(id)["status"] == "SHUTOFF")
        }
    }
}
