import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Key pairs, aggregates, zones and services")
struct KeypairAndHostTests {
    static let publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmKqkXHqLFJqkiGoeMnBgNHvuj29dyHlvOBbXvtoQxm test@stratus"

    @Test("key pairs: import with Nova's MD5 fingerprint, generate before 2.92, duplicates 409, bad keys 400, key_name checked at boot")
    func keypairs() async throws {
        try await withComputeCloud(hosts: 0) { client, _ in
            let imported = try await client.call("POST", "/os-keypairs", json: ["keypair": ["name": "mine", "public_key": .string(Self.publicKey)]])
            #expect(imported.status == 201)
            #expect(imported.json["keypair"]?["fingerprint"] == "0e:41:04:ba:65:2a:fe:fb:af:00:f1:fc:d6:58:a0:8f")
            #expect(imported.json["keypair"]?["type"] == "ssh")
            #expect(try await client.call("POST", "/os-keypairs", json: ["keypair": ["name": "mine", "public_key": .string(Self.publicKey)]]).status == 409)
            for bad in ["ssh-rsa not-base64!", "ssh-rsa " + Data("hello world".utf8).base64EncodedString(), "nonsense"] {
                let reply = try await client.call("POST", "/os-keypairs", json: ["keypair": ["name": "bad", "public_key": .string(bad)]])
                #expect(reply.status == 400, "\(bad)")
            }
            let mustImport = try await client.http.request("POST", "/compute/v2.1/os-keypairs", token: client.token,
                json: ["keypair": ["name": "gen"]], headers: ["OpenStack-API-Version": "compute 2.92"])
            #expect(mustImport.status == 400)  // from 2.92 Nova no longer generates keys
            let generated = try await client.http.request("POST", "/compute/v2.1/os-keypairs", token: client.token,
                json: ["keypair": ["name": "gen2"]], headers: ["OpenStack-API-Version": "compute 2.2"])
            #expect(generated.status == 201)
            let privateKey = try #require(generated.json["keypair"]?["private_key"]?.stringValue)
            let publicKey = try #require(generated.json["keypair"]?["public_key"]?.stringValue)
            // ssh-keygen derives the same public key from the private key we handed out.
            let dir = NSTemporaryDirectory() + "stratus-key-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try privateKey.write(toFile: dir + "/id", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir + "/id")
            let derived = try await ProcessRunner.run("/usr/bin/ssh-keygen", ["-y", "-f", dir + "/id"])
            #expect(derived.status == 0)
            #expect(derived.stdout.split(separator: " ").prefix(2) == publicKey.split(separator: " ").prefix(2))

            let list = try await client.call("GET", "/os-keypairs").json["keypairs"]?.arrayValue ?? []
            #expect(list.compactMap { $0["keypair"]?["name"]?.stringValue } == ["gen2", "mine"])
            #expect(try await client.call("GET", "/os-keypairs/mine").json["keypair"]?["user_id"] != nil)
            let noKey = try await client.call("POST", "/servers", json: ["server": [
                "name": "k", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none", "key_name": "absent"]])
            #expect(noKey.status == 400)
            let withKey = try await client.call("POST", "/servers", json: ["server": [
                "name": "k", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none", "key_name": "mine"]])
            #expect(withKey.status == 202)
            #expect(try await client.call("DELETE", "/os-keypairs/mine").status == 204)
            #expect(try await client.call("DELETE", "/os-keypairs/mine").status == 404)
        }
    }

    @Test("aggregates: an AZ aggregate steers boots, extra specs match aggregate metadata, hosts mirrored into placement")
    func aggregatesAndZones() async throws {
        try await withComputeCloud(hosts: 3) { client, cloud in
            let created = try await client.call("POST", "/os-aggregates", json: ["aggregate": ["name": "fast", "availability_zone": "az-fast"]])
            #expect(created.status == 200)
            let id = try #require(created.json["aggregate"]?["id"]?.intValue)
            let uuid = try #require(created.json["aggregate"]?["uuid"]?.stringValue)
            #expect(try await client.call("POST", "/os-aggregates/\(id)/action", json: ["add_host": ["host": "fake-2"]]).status == 200)
            #expect(try await client.call("POST", "/os-aggregates/\(id)/action", json: ["add_host": ["host": "fake-2"]]).status == 409)
            #expect(try await client.call("POST", "/os-aggregates/\(id)/action", json: ["add_host": ["host": "nowhere"]]).status == 404)
            let node = try #require(cloud.placement.index.current().providers.values.first { $0.provider.name == "fake-2" })
            let aggregates = try await client.http.request("GET", "/placement/resource_providers/\(node.provider.uuid)/aggregates",
                                                           token: client.token, headers: ["OpenStack-API-Version": "placement 1.19"])
            #expect(aggregates.json["aggregates"] == [.string(uuid)])

            let zones = try await client.call("GET", "/os-availability-zone").json["availabilityZoneInfo"]?.arrayValue ?? []
            #expect(Set(zones.compactMap { $0["zoneName"]?.stringValue }) == ["nova", "az-fast"])
            let inZone = try await client.settle(try await client.create("z", extra: ["availability_zone": "az-fast"]))
            #expect(inZone["OS-EXT-SRV-ATTR:host"] == "fake-2")
            #expect(inZone["OS-EXT-AZ:availability_zone"] == "az-fast")
            #expect(try await client.call("POST", "/servers", json: ["server": [
                "name": "x", "flavorRef": "42", "imageRef": "00000000-0000-4000-8000-000000000001", "networks": "none", "availability_zone": "atlantis"]]).status == 400)

            // A flavor asking for ssd=true only fits hosts whose aggregate says so.
            #expect(try await client.call("POST", "/os-aggregates/\(id)/action", json: ["set_metadata": ["metadata": ["ssd": "true"]]]).status == 200)
            let flavor = try await client.call("POST", "/flavors", json: ["flavor": ["name": "ssd", "ram": 128, "vcpus": 1, "disk": 0]])
            let flavorID = try #require(flavor.json["flavor"]?["id"]?.stringValue)
            _ = try await client.call("POST", "/flavors/\(flavorID)/os-extra_specs",
                                      json: ["extra_specs": ["aggregate_instance_extra_specs:ssd": "true"]])
            let ssd = try await client.settle(try await client.create("fast", flavor: flavorID))
            #expect(ssd["OS-EXT-SRV-ATTR:host"] == "fake-2")

            #expect(try await client.call("DELETE", "/os-aggregates/\(id)").status == 400)  // still has a host
            #expect(try await client.call("POST", "/os-aggregates/\(id)/action", json: ["remove_host": ["host": "fake-2"]]).status == 200)
            #expect(try await client.call("DELETE", "/os-aggregates/\(id)").status == 200)
        }
    }

    @Test("services: disabled and forced-down hosts get no builds; deleting a host with servers is 409")
    func servicesControlScheduling() async throws {
        try await withComputeCloud(hosts: 2) { client, _ in
            let services = try await client.call("GET", "/os-services").json["services"]?.arrayValue ?? []
            let first = try #require(services.first { $0["host"] == "fake-1" }?["id"]?.stringValue)
            let second = try #require(services.first { $0["host"] == "fake-2" }?["id"]?.stringValue)
            let disabled = try await client.call("PUT", "/os-services/\(first)", json: ["status": "disabled", "disabled_reason": "maintenance"])
            #expect(disabled.json["service"]?["status"] == "disabled")
            #expect(disabled.json["service"]?["disabled_reason"] == "maintenance")
            for i in 0..<3 {
                #expect(try await client.settle(try await client.create("s\(i)"))["OS-EXT-SRV-ATTR:host"] == "fake-2")
            }
            #expect(try await client.call("PUT", "/os-services/\(second)", json: ["forced_down": true]).json["service"]?["state"] == "down")
            let none = try await client.settle(try await client.create("nohost"))
            #expect(none["status"] == "ERROR")
            #expect(try await client.call("PUT", "/os-services/\(second)", json: [:]).status == 400)
            #expect(try await client.call("PUT", "/os-services/\(second)", json: ["status": "sideways"]).status == 400)
            #expect(try await client.call("DELETE", "/os-services/\(second)").status == 409)
            #expect(try await client.call("DELETE", "/os-services/\(first)").status == 204)
            #expect(try await client.call("GET", "/os-services").json["services"]?.arrayValue?.count == 1)
        }
    }
}
