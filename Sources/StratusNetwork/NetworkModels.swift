import StratusCore

/// A Neutron network.
public struct Network: Sendable, Equatable {
    public var id: String
    public var name: String
    public var projectID: String
    public var adminStateUp = true
    public var shared = false
    public var external = false
    public var mtu = 1500
    public var networkType = "local"
    public var physicalNetwork: String?
    public var segmentationID: Int?
    public var description = ""
    public var createdAt: Double
    public var updatedAt: Double

    public init(id: String = Identifier.uuid(), name: String, projectID: String, now: Double = Clock.now()) {
        self.id = id
        self.name = name
        self.projectID = projectID
        self.createdAt = now
        self.updatedAt = now
    }
}

/// An IPv4 subnet of a network, with the pools its addresses come from.
public struct Subnet: Sendable, Equatable {
    public var id: String
    public var networkID: String
    public var projectID: String
    public var name: String
    public var cidr: IPv4Network
    public var gateway: IPv4?
    public var enableDHCP = true
    public var pools: [AddressPool]
    public var dnsNameservers: [String] = []
    /// (destination CIDR, nexthop)
    public var hostRoutes: [HostRoute] = []
    public var description = ""
    public var createdAt: Double
    public var updatedAt: Double

    /// A static route handed to instances.
    public struct HostRoute: Sendable, Equatable {
        public var destination: String
        public var nexthop: String
        public init(destination: String, nexthop: String) {
            self.destination = destination
            self.nexthop = nexthop
        }
    }

    public init(id: String = Identifier.uuid(), networkID: String, projectID: String, name: String, cidr: IPv4Network,
                gateway: IPv4?, pools: [AddressPool], now: Double = Clock.now()) {
        self.id = id
        self.networkID = networkID
        self.projectID = projectID
        self.name = name
        self.cidr = cidr
        self.gateway = gateway
        self.pools = pools
        self.createdAt = now
        self.updatedAt = now
    }

    /// Neutron's default pool: every host address but the gateway.
    public static func defaultPools(_ cidr: IPv4Network, gateway: IPv4?) -> [AddressPool] {
        let first = cidr.firstHost, last = cidr.lastHost
        guard first <= last else { return [] }
        guard let gateway, cidr.contains(gateway), first <= gateway, gateway <= last else { return [AddressPool(start: first, end: last)] }
        var pools: [AddressPool] = []
        if gateway.value > first.value { pools.append(AddressPool(start: first, end: IPv4(gateway.value - 1))) }
        if gateway.value < last.value { pools.append(AddressPool(start: IPv4(gateway.value + 1), end: last)) }
        return pools
    }
}

/// A port: a MAC on a network with fixed IPs, maybe bound to a device on a host.
public struct Port: Sendable, Equatable {
    public var id: String
    public var networkID: String
    public var projectID: String
    public var name = ""
    public var macAddress: String
    public var adminStateUp = true
    /// DOWN until a host really wires it (Linux bridge and dnsmasq come in a later issue).
    public var status = "DOWN"
    public var deviceID = ""
    public var deviceOwner = ""
    public var bindingHostID = ""
    public var bindingVIFType = "unbound"
    public var bindingVNICType = "normal"
    public var securityGroups: [String] = []
    public var fixedIPs: [FixedIP] = []
    public var description = ""
    public var createdAt: Double
    public var updatedAt: Double

    /// One address of a port.
    public struct FixedIP: Sendable, Equatable {
        public var subnetID: String
        public var ipAddress: String
        public init(subnetID: String, ipAddress: String) {
            self.subnetID = subnetID
            self.ipAddress = ipAddress
        }
    }

    public init(id: String = Identifier.uuid(), networkID: String, projectID: String, macAddress: String, now: Double = Clock.now()) {
        self.id = id
        self.networkID = networkID
        self.projectID = projectID
        self.macAddress = macAddress
        self.createdAt = now
        self.updatedAt = now
    }
}

/// What a port create asks of IPAM: a subnet, an address, both, or neither (any subnet of the network).
public struct FixedIPRequest: Sendable, Equatable {
    public var subnetID: String?
    public var ipAddress: String?
    public init(subnetID: String? = nil, ipAddress: String? = nil) {
        self.subnetID = subnetID
        self.ipAddress = ipAddress
    }
}

/// A security group and its rules (stored; enforcement comes with host networking).
public struct SecurityGroup: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var name: String
    public var description: String
    public var rules: [SecurityGroupRule]
    public var createdAt: Double
    public var updatedAt: Double
}

/// One security group rule.
public struct SecurityGroupRule: Sendable, Equatable {
    public var id: String
    public var securityGroupID: String
    public var projectID: String
    public var direction: String
    public var ethertype: String
    public var protocolName: String?
    public var portRangeMin: Int?
    public var portRangeMax: Int?
    public var remoteIPPrefix: String?
    public var remoteGroupID: String?
    public var description: String
    public var createdAt: Double

    public init(id: String = Identifier.uuid(), securityGroupID: String, projectID: String, direction: String, ethertype: String,
                protocolName: String? = nil, portRangeMin: Int? = nil, portRangeMax: Int? = nil, remoteIPPrefix: String? = nil,
                remoteGroupID: String? = nil, description: String = "", createdAt: Double = Clock.now()) {
        self.id = id
        self.securityGroupID = securityGroupID
        self.projectID = projectID
        self.direction = direction
        self.ethertype = ethertype
        self.protocolName = protocolName
        self.portRangeMin = portRangeMin
        self.portRangeMax = portRangeMax
        self.remoteIPPrefix = remoteIPPrefix
        self.remoteGroupID = remoteGroupID
        self.description = description
        self.createdAt = createdAt
    }
}

/// Neutron's error types, mapped onto its `NeutronError` fault.
public enum NetworkError {
    public static func ipExhausted(_ network: String) -> StratusError {
        StratusError(.init(status: 409, faultName: "IpAddressGenerationFailure", title: "Conflict"),
                     "No more IP addresses available on network \(network).")
    }
    public static func ipInUse(_ ip: String, _ network: String) -> StratusError {
        StratusError(.init(status: 409, faultName: "IpAddressAlreadyAllocated", title: "Conflict"),
                     "IP address \(ip) already allocated in subnet of network \(network)")
    }
    public static func macInUse(_ mac: String, _ network: String) -> StratusError {
        StratusError(.init(status: 409, faultName: "MacAddressInUse", title: "Conflict"),
                     "Unable to complete operation for network \(network). The mac address \(mac) is in use.")
    }
    public static func inUse(_ kind: String, _ id: String, _ why: String) -> StratusError {
        StratusError(.init(status: 409, faultName: kind + "InUse", title: "Conflict"), "Unable to complete operation on \(kind.lowercased()) \(id). \(why)")
    }
    public static func notFound(_ kind: String, _ id: String) -> StratusError {
        StratusError(.init(status: 404, faultName: kind + "NotFound", title: "Not Found"), "\(kind) \(id) could not be found.")
    }
    public static func invalid(_ message: String) -> StratusError {
        StratusError(.init(status: 400, faultName: "InvalidInput", title: "Bad Request"), "Invalid input for operation: \(message)")
    }
}
