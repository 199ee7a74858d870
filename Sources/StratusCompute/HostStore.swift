import SQLKit
import StratusCore
import StratusStorage

/// Compute services (`os-services`) and compute nodes (`os-hypervisors`).
public struct HostStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    /// Wake-up channel announcing a change to services or aggregates, so schedulers re-read their host view.
    public static let changedChannel = "compute-hosts-changed"

    /// Tells every scheduler (in this process, and through NOTIFY in others) that the host view changed.
    public static func announceChange(_ storage: Storage) async throws {
        try await storage.transaction { tx in try await tx.wakeUpAfterCommit(changedChannel) }
    }

    /// A compute service row.
    public struct Service: Sendable, Equatable {
        public var id: String
        public var host: String
        public var binary: String
        public var zone: String
        public var disabled: Bool
        public var disabledReason: String?
        public var forcedDown: Bool
        public var lastSeen: Double
    }

    /// A compute node row; its uuid is also its placement resource provider's.
    public struct Node: Sendable, Equatable {
        public var uuid: String
        public var host: String
        public var hypervisorType: String
        public var vcpus: Int
        public var memoryMB: Int
        public var localGB: Int
        /// Nova's `hypervisor_version`.
        public var hypervisorVersion: Int = 1
        /// Nova's `cpu_info`, a JSON document.
        public var cpuInfo: String = "{}"
    }

    /// Creates or refreshes the service and node of a host; returns the node (existing uuid kept).
    public func register(host: String, zone: String, hypervisorType: String, vcpus: Int, memoryMB: Int, localGB: Int,
                         hypervisorVersion: Int = 1, cpuInfo: String = "{}") async throws -> Node {
        try await storage.transaction { tx in
            let now = Clock.now()
            if try await tx.sql.raw("SELECT id FROM compute_services WHERE host = \(bind: host) AND service_binary = 'nova-compute'").first() == nil {
                try await tx.sql.raw(
                    """
                    INSERT INTO compute_services (id, host, service_binary, zone, disabled, forced_down, last_seen, created_at)
                    VALUES (\(bind: Identifier.uuid()), \(bind: host), 'nova-compute', \(bind: zone), FALSE, FALSE, \(bind: now), \(bind: now))
                    """
                ).run()
            } else {
                try await tx.sql.raw(
                    "UPDATE compute_services SET last_seen = \(bind: now), zone = \(bind: zone) WHERE host = \(bind: host) AND service_binary = 'nova-compute'"
                ).run()
            }
            let existing = try await tx.sql.raw("SELECT uuid FROM compute_nodes WHERE host = \(bind: host)").first()
            let uuid = try existing?.decode(column: "uuid", as: String.self) ?? Identifier.uuid()
            if existing == nil {
                try await tx.sql.raw(
                    """
                    INSERT INTO compute_nodes (uuid, host, hypervisor_type, vcpus, memory_mb, local_gb, hypervisor_version, cpu_info, created_at)
                    VALUES (\(bind: uuid), \(bind: host), \(bind: hypervisorType), \(bind: vcpus), \(bind: memoryMB), \(bind: localGB),
                            \(bind: hypervisorVersion), \(bind: cpuInfo), \(bind: now))
                    """
                ).run()
            } else {
                try await tx.sql.raw(
                    """
                    UPDATE compute_nodes SET hypervisor_type = \(bind: hypervisorType), vcpus = \(bind: vcpus),
                        memory_mb = \(bind: memoryMB), local_gb = \(bind: localGB), hypervisor_version = \(bind: hypervisorVersion),
                        cpu_info = \(bind: cpuInfo) WHERE uuid = \(bind: uuid)
                    """
                ).run()
            }
            try await tx.wakeUpAfterCommit(Self.changedChannel)
            return Node(uuid: uuid, host: host, hypervisorType: hypervisorType, vcpus: vcpus, memoryMB: memoryMB, localGB: localGB,
                        hypervisorVersion: hypervisorVersion, cpuInfo: cpuInfo)
        }
    }

    /// Whether `host` has a compute service record (it registered once).
    public func isRegistered(host: String) async throws -> Bool {
        try await storage.read { sql in
            try await sql.raw("SELECT 1 AS one FROM compute_services WHERE host = \(bind: host)").first() != nil
        }
    }

    public func heartbeat(host: String) async throws {
        _ = try await heartbeat(hosts: [host])
    }

    /// Heartbeats of many hosts in one statement; returns the hosts that had a service record.
    public func heartbeat(hosts: [String]) async throws -> Set<String> {
        guard !hosts.isEmpty else { return [] }
        return try await storage.autocommit { sql in
            Set(try await sql.raw(
                "UPDATE compute_services SET last_seen = \(bind: Clock.now()) WHERE host IN (\(binds: hosts)) RETURNING host"
            ).all().map { try $0.decode(column: "host", as: String.self) })
        }
    }

    public func services() async throws -> [Service] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_services ORDER BY host").all().map { row in
                Service(
                    id: try row.decode(column: "id", as: String.self), host: try row.decode(column: "host", as: String.self),
                    binary: try row.decode(column: "service_binary", as: String.self), zone: try row.decode(column: "zone", as: String.self),
                    disabled: try row.decode(column: "disabled", as: Bool.self),
                    disabledReason: try row.decode(column: "disabled_reason", as: String?.self),
                    forcedDown: try row.decode(column: "forced_down", as: Bool.self),
                    lastSeen: try row.decode(column: "last_seen", as: Double.self))
            }
        }
    }

    public func nodes() async throws -> [Node] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_nodes ORDER BY host").all().map { row in
                Node(
                    uuid: try row.decode(column: "uuid", as: String.self), host: try row.decode(column: "host", as: String.self),
                    hypervisorType: try row.decode(column: "hypervisor_type", as: String.self),
                    vcpus: try row.decode(column: "vcpus", as: Int.self), memoryMB: try row.decode(column: "memory_mb", as: Int.self),
                    localGB: try row.decode(column: "local_gb", as: Int.self),
                    hypervisorVersion: try row.decode(column: "hypervisor_version", as: Int.self),
                    cpuInfo: try row.decode(column: "cpu_info", as: String.self))
            }
        }
    }

    /// Changes a service's status; nil leaves a field as it is. Returns the service, or nil if there is none.
    public func update(serviceID: String, disabled: Bool?, reason: String??, forcedDown: Bool?) async throws -> Service? {
        let found = try await storage.transaction { tx -> Bool in
            guard try await tx.sql.raw("SELECT id FROM compute_services WHERE id = \(bind: serviceID)").first() != nil else { return false }
            if let disabled {
                try await tx.sql.raw("UPDATE compute_services SET disabled = \(bind: disabled) WHERE id = \(bind: serviceID)").run()
            }
            if let reason {
                try await tx.sql.raw("UPDATE compute_services SET disabled_reason = \(bind: reason) WHERE id = \(bind: serviceID)").run()
            }
            if let forcedDown {
                try await tx.sql.raw("UPDATE compute_services SET forced_down = \(bind: forcedDown) WHERE id = \(bind: serviceID)").run()
            }
            try await tx.wakeUpAfterCommit(Self.changedChannel)
            return true
        }
        return found ? try await services().first { $0.id == serviceID } : nil
    }

    /// Removes a service and its compute node; returns the node's uuid (its resource provider) if it had one.
    public func delete(serviceID: String) async throws -> String? {
        try await storage.transaction { tx in
            guard let row = try await tx.sql.raw("SELECT host FROM compute_services WHERE id = \(bind: serviceID)").first() else { return nil }
            let host = try row.decode(column: "host", as: String.self)
            let node = try await tx.sql.raw("SELECT uuid FROM compute_nodes WHERE host = \(bind: host)").first()?.decode(column: "uuid", as: String.self)
            try await tx.sql.raw("DELETE FROM compute_nodes WHERE host = \(bind: host)").run()
            try await tx.sql.raw("DELETE FROM compute_services WHERE id = \(bind: serviceID)").run()
            try await tx.wakeUpAfterCommit(Self.changedChannel)
            return node
        }
    }
}
