import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

@Suite("Servers on networks")
struct ServerNetworkTests {
    func privateNetwork(_ client: ComputeClient) async throws -> String {
        let reply = try await client.http.request("GET", "/network/v2.0/networks?name=private", token: client.token)
        return try #require(reply.json["networks"]?.arrayValue?.first?["id"]?.stringValue)
    }

    func ports(_ client: ComputeClient) async throws -> [JSON] {
        try await client.http.request("GET", "/network/v2.0/ports", token: client.token).json["ports"]?.arrayValue ?? []
    }

    @Test("a server on a network gets a bound port and its address; delete removes the port it created, keeps the user's")
    func portsFollowServers() async throws {
        try await withComputeCloud(hosts: 1) { client, _ in
            let network = try await privateNetwork(client)
            let id = try await client.create("net", extra: ["networks": [["uuid": .string(network), "fixed_ip": "10.0.1.10"]]])
            let server = try await client.settle(id)
            #expect(server["status"] == "ACTIVE")
            #expect(server["addresses"]?["private"]?.arrayValue?.first?["addr"] == "10.0.1.10")
            let port = try #require(try await ports(client).first { $0["device_id"]?.stringValue == id })
            #expect(port["binding:host_id"] == "fake-1")
            #expect(port["device_owner"] == "compute:nova")
            #expect(port["status"] == "DOWN")  // honest: nothing wires it on the host yet
            #expect(server["addresses"]?["private"]?.arrayValue?.first?["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"])

            let mine = try await client.http.request("POST", "/network/v2.0/ports", token: client.token,
                                                     json: ["port": ["network_id": .string(network), "name": "keep-me"]])
            let portID = try #require(mine.json["port"]?["id"]?.stringValue)
            let withPort = try await client.create("byport", extra: ["networks": [["port": .string(portID)]]])
            #expect(try await client.settle(withPort)["status"] == "ACTIVE")
            let inUse = try await client.call("POST", "/servers", json: ["server": [
                "name": "steal", "flavorRef": "42", "imageRef": .string(CloudFixture.imageID), "networks": [["port": .string(portID)]]]])
            #expect(inUse.status == 409)

            #expect(try await client.call("DELETE", "/servers/\(id)").status == 204)
            #expect(try await client.call("DELETE", "/servers/\(withPort)").status == 204)
            _ = try await client.settle(id)
            _ = try await client.settle(withPort)
            let left = try await ports(client)
            #expect(!left.contains { $0["device_id"]?.stringValue == id })
            let kept = try #require(left.first { $0["id"]?.stringValue == portID })
            #expect(kept["device_id"] == "")
            #expect(kept["binding:host_id"] == "")
            #expect(kept["fixed_ips"]?.arrayValue?.count == 1)
        }
    }

    @Test("bad networks are 400 at create; no address left fails the build and gives back claim and ports")
    func badNetworksAndExhaustion() async throws {
        try await withComputeCloud(hosts: 1) { client, cloud in
            for networks: JSON in [[["uuid": "no-such-network"]], [["port": "no-such-port"]], "sideways",
                                   [["uuid": .string(try await privateNetwork(client)), "fixed_ip": "192.168.99.9"]]] {
                let reply = try await client.call("POST", "/servers", json: ["server": [
                    "name": "x", "flavorRef": "42", "imageRef": .string(CloudFixture.imageID), "networks": networks]])
                #expect(reply.status == 400, "\(networks.encodedString()) → \(reply.status)")
            }
            // A /30 has two usable addresses: one for the gateway, one for a server.
            let net = try await client.http.request("POST", "/network/v2.0/networks", token: client.token, json: ["network": ["name": "small"]])
            let netID = try #require(net.json["network"]?["id"]?.stringValue)
            _ = try await client.http.request("POST", "/network/v2.0/subnets", token: client.token,
                                              json: ["subnet": ["network_id": .string(netID), "cidr": "10.77.0.0/30", "ip_version": 4]])
            let first = try await client.create("one", extra: ["networks": [["uuid": .string(netID)]]])
            #expect(try await client.settle(first)["status"] == "ACTIVE")
            let second = try await client.create("two", extra: ["networks": [["uuid": .string(netID)]]])
            let failed = try await client.settle(second)
            #expect(failed["status"] == "ERROR")
            #expect(failed["fault"]?["message"]?.stringValue?.contains("No more IP addresses available") == true)
            #expect(!(try await ports(client)).contains { $0["device_id"]?.stringValue == second })
            var used = 0
            for _ in 0..<50 {  // the claim is given back right after the ERROR commits
                used = try await client.placementUsage()
                if used == 128 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(used == 128)
        }
    }
}
