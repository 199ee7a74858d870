import Foundation
import SQLKit
import StratusCore
import StratusStorage

/// Ports and IPAM. Each address is a row unique per subnet, and a port's addresses are chosen under its
/// subnet's row lock: concurrent creates are judged one after another and never share an address.
extension NetworkStore {
    /// Creates a port with addresses from `requests` (none: one address from the network's first subnet).
    public func create(_ port: Port, requests: [FixedIPRequest]) async throws -> Port {
        var port = port
        do {
            try await storage.transaction { [port] tx in
                let subnets = try await tx.sql.raw("SELECT * FROM net_subnets WHERE network_id = \(bind: port.networkID) ORDER BY created_at")
                    .all().map(Self.subnet)
                var wanted = requests
                if wanted.isEmpty, !subnets.isEmpty { wanted = [FixedIPRequest()] }
                if try await tx.sql.raw("SELECT id FROM net_ports WHERE mac_address = \(bind: port.macAddress)").first() != nil {
                    throw NetworkError.macInUse(port.macAddress, port.networkID)
                }
                try await tx.sql.raw(
                    """
                    INSERT INTO net_ports (id, network_id, project_id, name, mac_address, admin_state_up, status, device_id, device_owner,
                        binding_host_id, binding_vif_type, binding_vnic_type, security_groups, description, created_at, updated_at)
                    VALUES (\(bind: port.id), \(bind: port.networkID), \(bind: port.projectID), \(bind: port.name), \(bind: port.macAddress),
                        \(bind: port.adminStateUp), \(bind: port.status), \(bind: port.deviceID), \(bind: port.deviceOwner),
                        \(bind: port.bindingHostID), \(bind: port.bindingVIFType), \(bind: port.bindingVNICType),
                        \(bind: JSON.text(port.securityGroups)), \(bind: port.description), \(bind: port.createdAt),
                        \(bind: port.updatedAt))
                    """
                ).run()
                for request in wanted {
                    try await allocate(request, port: port, subnets: subnets, in: tx)
                }
            }
        } catch where Storage.isUniqueViolation(error) {
            throw NetworkError.macInUse(port.macAddress, port.networkID)
        }
        port = try await self.port(port.id) ?? port
        return port
    }

    func allocate(_ request: FixedIPRequest, port: Port, subnets: [Subnet], in tx: Transaction) async throws {
        let address = try request.ipAddress.map { text -> IPv4 in
            guard let address = IPv4(text) else { throw NetworkError.invalid("\(text) is not a valid IP address.") }
            return address
        }
        let subnet: Subnet
        if let id = request.subnetID {
            guard let found = subnets.first(where: { $0.id == id }) else {
                throw NetworkError.invalid("Failed to create port on network \(port.networkID), because fixed_ips included invalid subnet \(id).")
            }
            subnet = found
        } else if let address {
            guard let found = subnets.first(where: { $0.cidr.contains(address) }) else {
                throw NetworkError.invalid("IP address \(address) is not a valid IP for any of the subnets on the specified network.")
            }
            subnet = found
        } else {
            guard let first = subnets.first else { throw NetworkError.ipExhausted(port.networkID) }
            subnet = first
        }
        // The subnet's row lock: allocations in this subnet queue here until this transaction ends.
        try await tx.sql.raw("UPDATE net_subnets SET claims = claims + 1 WHERE id = \(bind: subnet.id)").run()
        let taken = Set(try await tx.sql.raw("SELECT ip_address FROM net_ip_allocations WHERE subnet_id = \(bind: subnet.id)").all()
            .compactMap { IPv4(try $0.decode(column: "ip_address", as: String.self)) })
        let chosen: IPv4
        if let address {
            guard subnet.cidr.contains(address), address >= subnet.cidr.firstHost, address <= subnet.cidr.lastHost else {
                throw NetworkError.invalid("IP address \(address) is not a valid IP for the specified subnet.")
            }
            guard address != subnet.gateway || port.deviceOwner.hasPrefix("network:router") else {
                throw NetworkError.invalid("IP address \(address) is the gateway of subnet \(subnet.id).")
            }
            guard !taken.contains(address) else { throw NetworkError.ipInUse(address.description, port.networkID) }
            chosen = address
        } else {
            var found: IPv4?
            search: for pool in subnet.pools {
                var candidate = pool.start.value
                while candidate <= pool.end.value {
                    if !taken.contains(IPv4(candidate)) {
                        found = IPv4(candidate)
                        break search
                    }
                    if candidate == UInt32.max { break }
                    candidate += 1
                }
            }
            guard let found else { throw NetworkError.ipExhausted(port.networkID) }
            chosen = found
        }
        try await tx.sql.raw(
            "INSERT INTO net_ip_allocations (subnet_id, ip_address, port_id) VALUES (\(bind: subnet.id), \(bind: chosen.description), \(bind: port.id))"
        ).run()
    }

    public func port(_ id: String) async throws -> Port? {
        try await ports(where: "id", id).first
    }

    /// Ports, all or those of one device.
    public func ports(device: String? = nil) async throws -> [Port] {
        try await ports(where: device == nil ? nil : "device_id", device ?? "")
    }

    /// The ports of one project, selected in the query.
    public func ports(project: String) async throws -> [Port] {
        try await ports(where: "project_id", project)
    }

    func ports(where column: String?, _ value: String) async throws -> [Port] {
        try await storage.read { sql in
            let rows: [any SQLRow]
            switch column {
            case "id": rows = try await sql.raw("SELECT * FROM net_ports WHERE id = \(bind: value)").all()
            case "device_id": rows = try await sql.raw("SELECT * FROM net_ports WHERE device_id = \(bind: value) ORDER BY created_at").all()
            case "project_id": rows = try await sql.raw("SELECT * FROM net_ports WHERE project_id = \(bind: value) ORDER BY created_at").all()
            default: rows = try await sql.raw("SELECT * FROM net_ports ORDER BY created_at").all()
            }
            var addresses: [String: [Port.FixedIP]] = [:]
            let allocations: [any SQLRow]
            if column == nil {
                allocations = try await sql.raw("SELECT * FROM net_ip_allocations").all()
            } else {
                let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
                allocations = ids.isEmpty ? [] : try await sql.raw("SELECT * FROM net_ip_allocations WHERE port_id IN (\(binds: ids))").all()
            }
            for row in allocations {
                addresses[try row.decode(column: "port_id", as: String.self), default: []].append(Port.FixedIP(
                    subnetID: try row.decode(column: "subnet_id", as: String.self), ipAddress: try row.decode(column: "ip_address", as: String.self)))
            }
            return try rows.map { row in
                var port = Port(
                    id: try row.decode(column: "id", as: String.self), networkID: try row.decode(column: "network_id", as: String.self),
                    projectID: try row.decode(column: "project_id", as: String.self),
                    macAddress: try row.decode(column: "mac_address", as: String.self), now: try row.decode(column: "created_at", as: Double.self))
                port.name = try row.decode(column: "name", as: String.self)
                port.adminStateUp = try row.decode(column: "admin_state_up", as: Bool.self)
                port.status = try row.decode(column: "status", as: String.self)
                port.deviceID = try row.decode(column: "device_id", as: String.self)
                port.deviceOwner = try row.decode(column: "device_owner", as: String.self)
                port.bindingHostID = try row.decode(column: "binding_host_id", as: String.self)
                port.bindingVIFType = try row.decode(column: "binding_vif_type", as: String.self)
                port.bindingVNICType = try row.decode(column: "binding_vnic_type", as: String.self)
                port.securityGroups = JSON.stringList(fromText: try row.decode(column: "security_groups", as: String.self))
                port.description = try row.decode(column: "description", as: String.self)
                port.updatedAt = try row.decode(column: "updated_at", as: Double.self)
                port.fixedIPs = (addresses[port.id] ?? []).sorted { (IPv4($0.ipAddress)?.value ?? 0) < (IPv4($1.ipAddress)?.value ?? 0) }
                return port
            }
        }
    }

    /// Writes the mutable fields (name, device, binding, status, security groups).
    public func save(_ port: Port) async throws {
        try await storage.autocommit { sql in
            try await sql.raw(
                """
                UPDATE net_ports SET name = \(bind: port.name), admin_state_up = \(bind: port.adminStateUp), status = \(bind: port.status),
                    device_id = \(bind: port.deviceID), device_owner = \(bind: port.deviceOwner), binding_host_id = \(bind: port.bindingHostID),
                    binding_vif_type = \(bind: port.bindingVIFType), binding_vnic_type = \(bind: port.bindingVNICType),
                    security_groups = \(bind: JSON.text(port.securityGroups)), description = \(bind: port.description),
                    updated_at = \(bind: Clock.now())
                WHERE id = \(bind: port.id)
                """
            ).run()
        }
    }

    /// Deletes a port and frees its addresses; true if it existed.
    @discardableResult
    public func deletePort(_ id: String) async throws -> Bool {
        try await storage.transaction { tx in
            guard try await tx.sql.raw("SELECT id FROM net_ports WHERE id = \(bind: id)").first() != nil else { return false }
            try await tx.sql.raw("DELETE FROM net_ip_allocations WHERE port_id = \(bind: id)").run()
            try await tx.sql.raw("DELETE FROM net_ports WHERE id = \(bind: id)").run()
            return true
        }
    }

    /// Creates `port` with a MAC drawn at random, drawing again when it collides with another port's (at 1,000
    /// ports a collision in the 24 random bits is a few per cent likely); Neutron's `mac_generation_retries`, 16.
    public func createWithGeneratedMAC(_ port: Port, requests: [FixedIPRequest] = []) async throws -> Port {
        var port = port
        for _ in 1..<Self.macGenerationRetries {
            port.macAddress = Self.randomMAC()
            do { return try await create(port, requests: requests) } catch let error as StratusError where error.code.faultName == "MacAddressInUse" {
                continue
            }
        }
        port.macAddress = Self.randomMAC()
        return try await create(port, requests: requests)
    }

    static let macGenerationRetries = 16

    /// A MAC in OpenStack's `fa:16:3e` range.
    public static func randomMAC() -> String {
        "fa:16:3e:" + (0..<3).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined(separator: ":")
    }
}
