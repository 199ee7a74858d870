import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Servers and images")
struct ServerImageTests {
    func image(_ client: ComputeClient, _ fields: JSON, upload: Bool = true) async throws -> String {
        let created = try await client.http.request("POST", "/image/v2/images", token: client.token, json: fields)
        let id = try #require(created.json["id"]?.stringValue)
        if upload {
            let reply = try await client.http.request("PUT", "/image/v2/images/\(id)/file", token: client.token, rawBody: Data("bits".utf8),
                                                      headers: ["Content-Type": "application/octet-stream"])
            #expect(reply.status == 204)
        }
        return id
    }

    func boot(_ client: ComputeClient, image: String, flavor: String = "42") async throws -> TestHTTP.Reply {
        try await client.call("POST", "/servers", json: ["server": [
            "name": "img", "flavorRef": .string(flavor), "imageRef": .string(image), "networks": "none"]])
    }

    @Test("unknown, unfinished and others' private images are 400; min_ram and min_disk are checked against the flavor")
    func imageChecks() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            #expect(try await boot(client, image: "11111111-1111-4111-8111-111111111111").status == 400)
            let queued = try await image(client, ["name": "q", "disk_format": "raw", "container_format": "bare"], upload: false)
            let notActive = try await boot(client, image: queued)
            #expect(notActive.status == 400)
            #expect(notActive.json["badRequest"]?["message"]?.stringValue == "Image \(queued) is not active.")
            let hungry = try await image(client, ["name": "big", "disk_format": "raw", "container_format": "bare", "min_ram": 4096])
            let small = try await boot(client, image: hungry)
            #expect(small.status == 400)
            #expect(small.json["badRequest"]?["message"]?.stringValue == "Flavor's memory is too small for requested image.")
            let wide = try await image(client, ["name": "wide", "disk_format": "raw", "container_format": "bare", "min_disk": 20])
            #expect(try await boot(client, image: wide).status == 400)  // m1.nano has a 1 GB disk

            let demo = try await client.http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            let mine = try await image(client, ["name": "mine", "disk_format": "raw", "container_format": "bare", "visibility": "private"])
            let refused = try await client.http.request("POST", "/compute/v2.1/servers", token: demo, json: ["server": [
                "name": "x", "flavorRef": "42", "imageRef": .string(mine), "networks": "none"]], headers: ["OpenStack-API-Version": "compute 2.90"])
            #expect(refused.status == 400)
            #expect(try await boot(client, image: mine).status == 202)
        }
    }

    @Test("ImagePropertiesFilter: an aarch64 image finds no x86_64 host; the fault names the filter")
    func imageProperties() async throws {
        try await withComputeCloud(hosts: 2) { client, _ in
            let arm = try await image(client, ["name": "arm", "disk_format": "raw", "container_format": "bare", "hw_architecture": "aarch64"])
            let reply = try await boot(client, image: arm)
            let id = try #require(reply.json["server"]?["id"]?.stringValue)
            let server = try await client.settle(id)
            #expect(server["status"] == "ERROR")
            #expect(server["fault"]?["details"]?.stringValue?.contains("ImagePropertiesFilter removed 2") == true)
            let x86 = try await image(client, ["name": "x86", "disk_format": "raw", "container_format": "bare", "hw_architecture": "x86_64"])
            let fine = try #require(try await boot(client, image: x86).json["server"]?["id"]?.stringValue)
            #expect(try await client.settle(fine)["status"] == "ACTIVE")
        }
    }
}
