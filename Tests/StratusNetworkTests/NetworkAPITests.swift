import Foundation
import StratusCloud
import StratusCore
import StratusNetwork
import StratusTesting
import Testing

/// A network API client for tests.
struct NetworkClient {
    let http: TestHTTP
    let token: String

    static func make(_ cloud: ReadyCloud, demo: Bool = false) async throws -> NetworkClient {
        let http = TestHTTP(baseURL: cloud.baseURL)
        let token = demo ? try await http.token(user: "demo", password: cloud.credentials.demoPassword, project: "demo")
            : try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
        return NetworkClient(http: http, token: token)
    }

    func call(_ method: String, _ path: String, json: JSON? = nil) async throws -> TestHTTP.Reply {
        try await http.request(method, "/network/v2.0" + path, token: token, json: json)
    }

    func network(_ name: String, cidr: String, pools: JSON? = nil) async throws -> (network: String, subnet: String) {
        let network = try await call("POST", "/networks", json: ["network": ["name": .string(name)]])
        let id = try #require(network.json["network"]?["id"]?.stringValue)
        var subnet: [String: JSON] = ["network_id": .string(id), "cidr": .string(cidr), "ip_version": 4, "name": .string(name + "-sub")]
        if let pools { subnet["allocation_pools"] = pools }
        let created = try await call("POST", "/subnets", json: ["subnet": .object(subnet)])
        return (id, try #require(created.json["subnet"]?["id"]?.stringValue, "\(created.json.encodedString())"))
    }
}

@Suite("Network API")
struct NetworkAPITests {
    @Test("1,000 ports created concurrently on a /22 get 1,000 distinct addresses inside the pools, never the gateway")
    func concurrentIPAM() async throws {
        try await CloudFixture.withCloud { cloud in
            let client = try await NetworkClient.make(cloud)
            let (network, subnet) = try await client.network("big", cidr: "10.20.0.0/22")
            let replies = try await withThrowingTaskGroup(of: TestHTTP.Reply.self) { group in
                for i in 0..<1000 {
                    group.addTask { try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network), "name": .string("p\(i)")]]) }
                }
                return try await group.reduce(into: [TestHTTP.Reply]()) { $0.append($1) }
            }
            let refused = replies.filter { $0.status != 201 }.map { "\($0.status) \(String(decoding: $0.body, as: UTF8.self))" }
            #expect(refused.isEmpty, "\(refused.prefix(5))")
            let addresses = replies.compactMap { $0.json["port"]?["fixed_ips"]?.arrayValue?.first?["ip_address"]?.stringValue }
            #expect(addresses.count == 1000)
            #expect(Set(addresses).count == 1000)
            let range = IPv4Network("10.20.0.0/22")!
            #expect(addresses.allSatisfy { IPv4($0).map { range.contains($0) && $0 > IPv4("10.20.0.1")! && $0 < IPv4("10.20.3.255")! } == true })
            #expect(!addresses.contains("10.20.0.1"))
            let macs = replies.compactMap { $0.json["port"]?["mac_address"]?.stringValue }
            #expect(Set(macs).count == 1000)
            #expect(replies.allSatisfy { $0.json["port"]?["fixed_ips"]?.arrayValue?.first?["subnet_id"]?.stringValue == subnet })
        }
    }

    @Test("an exhausted subnet is IpAddressGenerationFailure (409); a taken address 409; deleting a port frees its address")
    func exhaustionAndFixedIPs() async throws {
        try await CloudFixture.withCloud { cloud in
            let client = try await NetworkClient.make(cloud)
            let (network, subnet) = try await client.network("tiny", cidr: "10.30.0.0/29", pools: [["start": "10.30.0.2", "end": "10.30.0.4"]])
            var ports: [String] = []
            for _ in 0..<3 {
                let reply = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network)]])
                #expect(reply.status == 201)
                ports.append(reply.json["port"]?["id"]?.stringValue ?? "")
            }
            let full = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network)]])
            #expect(full.status == 409)
            #expect(full.json["NeutronError"]?["type"] == "IpAddressGenerationFailure")
            // A fixed address outside the pools but inside the subnet is allowed, as in Neutron; taken twice is 409.
            let fixed = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network),
                "fixed_ips": [["subnet_id": .string(subnet), "ip_address": "10.30.0.6"]]]])
            #expect(fixed.status == 201)
            let again = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network),
                "fixed_ips": [["ip_address": "10.30.0.6"]]]])
            #expect(again.status == 409)
            #expect(again.json["NeutronError"]?["type"] == "IpAddressAlreadyAllocated")
            #expect(try await client.call("DELETE", "/ports/\(ports[0])").status == 204)
            let reused = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network)]])
            #expect(reused.json["port"]?["fixed_ips"]?.arrayValue?.first?["ip_address"] == "10.30.0.2")
            #expect(try await client.call("DELETE", "/subnets/\(subnet)").status == 409)
            #expect(try await client.call("DELETE", "/networks/\(network)").status == 409)
        }
    }

    @Test("bad input: overlapping pools, gateway in a pool, overlapping subnets, IPs outside the subnet, MAC in use, IPv6, unknown attributes")
    func badInput() async throws {
        try await CloudFixture.withCloud { cloud in
            let client = try await NetworkClient.make(cloud)
            let (network, _) = try await client.network("n", cidr: "10.40.0.0/24")
            let cases: [(JSON, Int, String)] = [
                (["subnet": ["network_id": .string(network), "cidr": "10.41.0.0/24", "ip_version": 4,
                             "allocation_pools": [["start": "10.41.0.10", "end": "10.41.0.50"], ["start": "10.41.0.40", "end": "10.41.0.60"]]]], 400, "InvalidInput"),
                (["subnet": ["network_id": .string(network), "cidr": "10.42.0.0/24", "ip_version": 4,
                             "allocation_pools": [["start": "10.42.0.1", "end": "10.42.0.20"]]]], 409, "GatewayConflictWithAllocationPools"),
                (["subnet": ["network_id": .string(network), "cidr": "10.40.0.128/25", "ip_version": 4]], 400, "InvalidInput"),
                (["subnet": ["network_id": .string(network), "cidr": "10.43.0.5/24", "ip_version": 4]], 400, "InvalidInput"),
                (["subnet": ["network_id": .string(network), "cidr": "fd00::/64", "ip_version": 6]], 400, "InvalidInput"),
                (["subnet": ["network_id": .string(network), "cidr": "10.44.0.0/24", "ip_version": 4,
                             "allocation_pools": [["start": "10.45.0.10", "end": "10.45.0.20"]]]], 400, "InvalidInput"),
            ]
            for (body, status, type) in cases {
                let reply = try await client.call("POST", "/subnets", json: body)
                #expect(reply.status == status, "\(body.encodedString()) → \(reply.status) \(reply.json.encodedString())")
                #expect(reply.json["NeutronError"]?["type"]?.stringValue == type)
            }
            let outside = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network), "fixed_ips": [["ip_address": "10.99.0.5"]]]])
            #expect(outside.status == 400)
            let first = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network), "mac_address": "fa:16:3e:00:00:01"]])
            #expect(first.status == 201)
            let clash = try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network), "mac_address": "fa:16:3e:00:00:01"]])
            #expect(clash.status == 409)
            #expect(clash.json["NeutronError"]?["type"] == "MacAddressInUse")
            #expect(try await client.call("POST", "/ports", json: ["port": ["network_id": .string(network), "mac_address": "zz"]]).status == 400)
            #expect(try await client.call("POST", "/networks", json: ["network": ["name": "x", "colour": "red"]]).status == 400)
            #expect(try await client.call("GET", "/ports/nope").json["NeutronError"]?["type"] == "PortNotFound")
        }
    }

    @Test("policy: other projects' networks and ports are 404, shared networks are usable by all, only admins share or bind")
    func policy() async throws {
        try await CloudFixture.withCloud { cloud in
            let admin = try await NetworkClient.make(cloud)
            let demo = try await NetworkClient.make(cloud, demo: true)
            let (secret, _) = try await admin.network("secret", cidr: "10.50.0.0/24")
            #expect(try await demo.call("GET", "/networks/\(secret)").status == 404)
            #expect(try await demo.call("POST", "/ports", json: ["port": ["network_id": .string(secret)]]).status == 404)
            let names = try await demo.call("GET", "/networks").json["networks"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(Set(names) == ["public", "private"])
            let privateNet = try await demo.call("GET", "/networks?name=private").json["networks"]?.arrayValue?.first?["id"]?.stringValue ?? ""
            let port = try await demo.call("POST", "/ports", json: ["port": ["network_id": .string(privateNet)]])
            #expect(port.status == 201)
            #expect(port.json["port"]?["status"] == "DOWN")
            #expect(port.json["port"]?["security_groups"]?.arrayValue?.count == 1)
            let portID = port.json["port"]?["id"]?.stringValue ?? ""
            #expect(try await demo.call("PUT", "/ports/\(portID)", json: ["port": ["binding:host_id": "fake-1"]]).status == 403)
            let bound = try await admin.call("PUT", "/ports/\(portID)", json: ["port": ["binding:host_id": "fake-1"]])
            #expect(bound.json["port"]?["binding:vif_type"] == "bridge")
            #expect(try await demo.call("POST", "/networks", json: ["network": ["name": "s", "shared": true]]).status == 403)
            let adminPorts = try await admin.call("GET", "/ports").json["ports"]?.arrayValue?.count ?? 0
            #expect(adminPorts >= 1)
            #expect(try await demo.call("DELETE", "/security-groups/\(port.json["port"]?["security_groups"]?.arrayValue?.first?.stringValue ?? "")").status == 409)
        }
    }
}
