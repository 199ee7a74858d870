import Foundation
import Logging
import StratusCore
import StratusNetwork
import StratusStorage

/// `stratus bench ipam`: port creates/s over HTTP with C concurrent clients on one subnet (each create picks and
/// records an address under the subnet's lock), and a check that no two ports got the same address.
public struct IPAMBenchmark: Sendable {
    public var ports: Int
    public var clients: Int
    public var databaseURL: String?

    public init(ports: Int, clients: Int, databaseURL: String? = nil) {
        self.ports = ports
        self.clients = clients
        self.databaseURL = databaseURL
    }

    public func run(logger: Logger) async throws -> JSON {
        return try await BenchCloud.run("ipam", databaseURL: databaseURL, logger: logger) { cloud in
            let store = NetworkStore(storage: cloud.storage)
            var network = Network(name: "bench", projectID: "admin")
            network.shared = true
            try await store.create(network)
            let range = IPv4Network("10.128.0.0/16")!
            try await store.create(Subnet(networkID: network.id, projectID: "admin", name: "bench", cidr: range, gateway: range.firstHost,
                                          pools: Subnet.defaultPools(range, gateway: range.firstHost)))
            let port = Int(cloud.baseURL.split(separator: ":").last ?? "") ?? 0
            let headers = [("X-Auth-Token", "admin:admin"), ("Content-Type", "application/json")]
            let body: JSON = ["port": ["network_id": .string(network.id)]]
            let bytes = body.encodedBytes()
            let perClient = (ports + clients - 1) / clients
            let start = ContinuousClock.now
            let failures = try await withThrowingTaskGroup(of: Int.self) { group in
                for client in 0..<clients {
                    group.addTask {
                        let connection = try await BenchConnection.connect(host: "127.0.0.1", port: port)
                        var failed = 0
                        for i in 0..<perClient where client * perClient + i < ports {
                            let reply = try await connection.request(.POST, "/network/v2.0/ports", headers: headers, body: bytes)
                            if reply.status != 201 { failed += 1 }
                        }
                        await connection.close()
                        return failed
                    }
                }
                return try await group.reduce(0, +)
            }
            let seconds = (ContinuousClock.now - start).inSeconds
            let created = try await store.ports()
            let addresses = created.flatMap { $0.fixedIPs.map(\.ipAddress) }
            return [
                "benchmark": "ipam", "engine": .string(databaseURL == nil ? "sqlite" : "postgresql"), "ports": .int(ports),
                "clients": .int(clients), "failed": .int(failures), "ports_per_second": .number((Double(ports) / seconds).rounded()),
                "distinct_addresses": .int(Set(addresses).count), "addresses": .int(addresses.count),
                "peak_rss_mib": .int(BootBenchmark.peakRSSMiB()), "machine": MachineInfo.json(),
            ]
        }
    }
}
