import Foundation
import SQLKit
import StratusCore
import StratusStorage

/// Networks, subnets and security groups. Ports and IPAM are in `NetworkStore+Ports`.
public struct NetworkStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    // MARK: Networks

    public func create(_ network: Network) async throws {
        try await storage.autocommit { sql in
            try await sql.raw(
                """
                INSERT INTO net_networks (id, name, project_id, admin_state_up, shared, external, mtu, network_type, physical_network,
                    segmentation_id, description, created_at, updated_at)
                VALUES (\(bind: network.id), \(bind: network.name), \(bind: network.projectID), \(bind: network.adminStateUp),
                    \(bind: network.shared), \(bind: network.external), \(bind: network.mtu), \(bind: network.networkType),
                    \(bind: network.physicalNetwork), \(bind: network.segmentationID), \(bind: network.description),
                    \(bind: network.createdAt), \(bind: network.updatedAt))
                """
            ).run()
        }
    }

    public func networks() async throws -> [Network] {
        try await storage.read { sql in try await sql.raw("SELECT * FROM net_networks ORDER BY created_at").all().map(Self.network) }
    }

    public func network(_ id: String) async throws -> Network? {
        try await storage.read { sql in try await sql.raw("SELECT * FROM net_networks WHERE id = \(bind: id)").first().map(Self.network) }
    }

    public func save(_ network: Network) async throws {
        try await storage.autocommit { sql in
            try await sql.raw(
                """
                UPDATE net_networks SET name = \(bind: network.name), admin_state_up = \(bind: network.adminStateUp),
                    shared = \(bind: network.shared), external = \(bind: network.external), mtu = \(bind: network.mtu),
                    description = \(bind: network.description), updated_at = \(bind: Clock.now())
                WHERE id = \(bind: network.id)
                """
            ).run()
        }
    }

    /// Deletes a network and its subnets; refused (409 NetworkInUse) while it has ports.
    public func deleteNetwork(_ id: String) async throws {
        try await storage.transaction { tx in
            let ports = try await tx.sql.raw("SELECT COUNT(*) AS n FROM net_ports WHERE network_id = \(bind: id)").first()?.decode(column: "n", as: Int.self) ?? 0
            guard ports == 0 else { throw NetworkError.inUse("Network", id, "There are \(ports) ports on this network.") }
            try await tx.sql.raw("DELETE FROM net_subnets WHERE network_id = \(bind: id)").run()
            try await tx.sql.raw("DELETE FROM net_networks WHERE id = \(bind: id)").run()
        }
    }

    // MARK: Subnets

    /// Adds a subnet after Neutron's checks: no overlap with the network's other subnets, gateway and pools
    /// inside the CIDR, pools not overlapping each other nor holding the gateway.
    public func create(_ subnet: Subnet) async throws {
        if let gateway = subnet.gateway, !subnet.cidr.contains(gateway) {
            throw NetworkError.invalid("Gateway IP \(gateway) is not in subnet \(subnet.cidr).")
        }
        for (i, pool) in subnet.pools.enumerated() {
            guard pool.start <= pool.end, subnet.cidr.contains(pool.start), subnet.cidr.contains(pool.end),
                  pool.start >= subnet.cidr.firstHost, pool.end <= subnet.cidr.lastHost else {
                throw NetworkError.invalid("The allocation pool \(pool.start)-\(pool.end) spans beyond the subnet cidr \(subnet.cidr).")
            }
            for other in subnet.pools[(i + 1)...] where pool.overlaps(other) {
                throw NetworkError.invalid("Found overlapping allocation pools: \(pool.start)-\(pool.end) and \(other.start)-\(other.end).")
            }
            if let gateway = subnet.gateway, pool.contains(gateway) {
                throw StratusError(.init(status: 409, faultName: "GatewayConflictWithAllocationPools", title: "Conflict"),
                                   "Gateway ip \(gateway) conflicts with allocation pool \(pool.start)-\(pool.end).")
            }
        }
        try await storage.transaction { tx in
            for row in try await tx.sql.raw("SELECT cidr FROM net_subnets WHERE network_id = \(bind: subnet.networkID)").all() {
                if let other = IPv4Network(try row.decode(column: "cidr", as: String.self)), other.overlaps(subnet.cidr) {
                    throw NetworkError.invalid("Requested subnet with cidr: \(subnet.cidr) for network: \(subnet.networkID) overlaps with another subnet.")
                }
            }
            try await tx.sql.raw(
                """
                INSERT INTO net_subnets (id, network_id, project_id, name, cidr, ip_version, gateway_ip, enable_dhcp, allocation_pools,
                    dns_nameservers, host_routes, description, created_at, updated_at)
                VALUES (\(bind: subnet.id), \(bind: subnet.networkID), \(bind: subnet.projectID), \(bind: subnet.name),
                    \(bind: subnet.cidr.description), 4, \(bind: subnet.gateway?.description), \(bind: subnet.enableDHCP),
                    \(bind: Self.encode(pools: subnet.pools)), \(bind: JSON.text(subnet.dnsNameservers)),
                    \(bind: Self.encode(routes: subnet.hostRoutes)), \(bind: subnet.description), \(bind: subnet.createdAt),
                    \(bind: subnet.updatedAt))
                """
            ).run()
        }
    }

    public func subnets(network: String? = nil) async throws -> [Subnet] {
        try await storage.read { sql in
            if let network {
                return try await sql.raw("SELECT * FROM net_subnets WHERE network_id = \(bind: network) ORDER BY created_at").all().map(Self.subnet)
            }
            return try await sql.raw("SELECT * FROM net_subnets ORDER BY created_at").all().map(Self.subnet)
        }
    }

    public func subnet(_ id: String) async throws -> Subnet? {
        try await storage.read { sql in try await sql.raw("SELECT * FROM net_subnets WHERE id = \(bind: id)").first().map(Self.subnet) }
    }

    public func save(_ subnet: Subnet) async throws {
        try await storage.autocommit { sql in
            try await sql.raw(
                """
                UPDATE net_subnets SET name = \(bind: subnet.name), enable_dhcp = \(bind: subnet.enableDHCP),
                    dns_nameservers = \(bind: JSON.text(subnet.dnsNameservers)),
                    host_routes = \(bind: Self.encode(routes: subnet.hostRoutes)), description = \(bind: subnet.description),
                    updated_at = \(bind: Clock.now())
                WHERE id = \(bind: subnet.id)
                """
            ).run()
        }
    }

    /// Deletes a subnet; refused (409 SubnetInUse) while ports hold addresses in it.
    public func deleteSubnet(_ id: String) async throws {
        try await storage.transaction { tx in
            let used = try await tx.sql.raw("SELECT COUNT(*) AS n FROM net_ip_allocations WHERE subnet_id = \(bind: id)").first()?.decode(column: "n", as: Int.self) ?? 0
            guard used == 0 else { throw NetworkError.inUse("Subnet", id, "One or more ports have an IP allocation from this subnet.") }
            try await tx.sql.raw("DELETE FROM net_subnets WHERE id = \(bind: id)").run()
        }
    }

    // MARK: Rows

    static func encode(pools: [AddressPool]) -> String {
        JSON.array(pools.map { ["start": .string($0.start.description), "end": .string($0.end.description)] }).encodedString()
    }
    static func encode(routes: [Subnet.HostRoute]) -> String {
        JSON.array(routes.map { ["destination": .string($0.destination), "nexthop": .string($0.nexthop)] }).encodedString()
    }
    static func parse(_ text: String) -> JSON { (try? JSON.parse(text)) ?? .null }

    static func network(_ row: any SQLRow) throws -> Network {
        var network = Network(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                              projectID: try row.decode(column: "project_id", as: String.self),
                              now: try row.decode(column: "created_at", as: Double.self))
        network.adminStateUp = try row.decode(column: "admin_state_up", as: Bool.self)
        network.shared = try row.decode(column: "shared", as: Bool.self)
        network.external = try row.decode(column: "external", as: Bool.self)
        network.mtu = try row.decode(column: "mtu", as: Int.self)
        network.networkType = try row.decode(column: "network_type", as: String.self)
        network.physicalNetwork = try row.decode(column: "physical_network", as: String?.self)
        network.segmentationID = try row.decode(column: "segmentation_id", as: Int?.self)
        network.description = try row.decode(column: "description", as: String.self)
        network.updatedAt = try row.decode(column: "updated_at", as: Double.self)
        return network
    }

    static func subnet(_ row: any SQLRow) throws -> Subnet {
        let cidr = IPv4Network(try row.decode(column: "cidr", as: String.self)) ?? IPv4Network("0.0.0.0/32")!
        let pools = parse(try row.decode(column: "allocation_pools", as: String.self)).arrayValue?.compactMap { pool -> AddressPool? in
            guard let start = pool["start"]?.stringValue.flatMap(IPv4.init), let end = pool["end"]?.stringValue.flatMap(IPv4.init) else { return nil }
            return AddressPool(start: start, end: end)
        } ?? []
        var subnet = Subnet(
            id: try row.decode(column: "id", as: String.self), networkID: try row.decode(column: "network_id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self), name: try row.decode(column: "name", as: String.self),
            cidr: cidr, gateway: try row.decode(column: "gateway_ip", as: String?.self).flatMap(IPv4.init), pools: pools,
            now: try row.decode(column: "created_at", as: Double.self))
        subnet.enableDHCP = try row.decode(column: "enable_dhcp", as: Bool.self)
        subnet.dnsNameservers = JSON.stringList(fromText: try row.decode(column: "dns_nameservers", as: String.self))
        subnet.hostRoutes = parse(try row.decode(column: "host_routes", as: String.self)).arrayValue?.compactMap { route in
            guard let destination = route["destination"]?.stringValue, let nexthop = route["nexthop"]?.stringValue else { return nil }
            return Subnet.HostRoute(destination: destination, nexthop: nexthop)
        } ?? []
        subnet.description = try row.decode(column: "description", as: String.self)
        subnet.updatedAt = try row.decode(column: "updated_at", as: Double.self)
        return subnet
    }
}
