/// IPv4 addresses and CIDRs as numbers, for IPAM. (IPv6 subnets are not supported yet.)
public struct IPv4: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isNumber), let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    public var description: String { "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)" }
    public static func < (a: IPv4, b: IPv4) -> Bool { a.value < b.value }
}

/// An IPv4 network in CIDR notation.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
    public let network: IPv4
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPv4(String(parts[0])), let prefix = Int(parts[1]), (0...32).contains(prefix) else { return nil }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        guard address.value & ~mask == 0 else { return nil }  // host bits set: Neutron refuses too
        self.network = address
        self.prefix = prefix
    }

    public var mask: UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }
    public var broadcast: IPv4 { IPv4(network.value | ~mask) }
    public var description: String { "\(network)/\(prefix)" }

    public func contains(_ address: IPv4) -> Bool { address.value & mask == network.value }

    /// Usable hosts: the network and broadcast addresses excluded (for prefixes up to /30).
    public var firstHost: IPv4 { IPv4(prefix >= 31 ? network.value : network.value + 1) }
    public var lastHost: IPv4 { IPv4(prefix >= 31 ? broadcast.value : broadcast.value - 1) }

    public func overlaps(_ other: IPv4Network) -> Bool { contains(other.network) || other.contains(network) }
}

/// An allocation pool: an inclusive range of addresses.
public struct AddressPool: Sendable, Hashable {
    public var start: IPv4
    public var end: IPv4

    public init(start: IPv4, end: IPv4) {
        self.start = start
        self.end = end
    }

    public func contains(_ address: IPv4) -> Bool { start <= address && address <= end }
    public func overlaps(_ other: AddressPool) -> Bool { start <= other.end && other.start <= end }
}
