import NIOHTTP1
import StratusCore

/// How a host's size becomes Placement inventory: Nova's allocation-ratio and reserved-resource options, read
/// by the compute agent (as nova-compute reads them), not by the control plane.
public struct InventoryPolicy: Sendable, Equatable {
    /// `[DEFAULT] cpu_allocation_ratio`
    public var cpuAllocationRatio = 4.0
    /// `[DEFAULT] ram_allocation_ratio`
    public var ramAllocationRatio = 1.0
    /// `[DEFAULT] disk_allocation_ratio`
    public var diskAllocationRatio = 1.0
    /// `[DEFAULT] reserved_host_cpus`
    public var reservedHostCPUs = 0
    /// `[DEFAULT] reserved_host_memory_mb`
    public var reservedHostMemoryMB = 0
    /// `[DEFAULT] reserved_host_disk_mb` (rounded up to whole GB, as Nova does)
    public var reservedHostDiskMB = 0

    public init() {}

    /// VCPU, MEMORY_MB and DISK_GB for a host of this size (each at least 1, so a tiny host still has a provider
    /// the scheduler can reason about).
    public func inventories(for resources: HostResources) -> [String: ProviderInventory] {
        func one(_ total: Int, _ reserved: Int, _ ratio: Double) -> ProviderInventory {
            let total = max(1, total)
            return ProviderInventory(total: total, reserved: min(reserved, total), maxUnit: total, allocationRatio: ratio)
        }
        return [
            "VCPU": one(resources.vcpus, reservedHostCPUs, cpuAllocationRatio),
            "MEMORY_MB": one(resources.memoryMB, reservedHostMemoryMB, ramAllocationRatio),
            "DISK_GB": one(resources.localGB, (reservedHostDiskMB + 1023) / 1024, diskAllocationRatio),
        ]
    }
}

/// One resource class's inventory in Placement's own fields.
public struct ProviderInventory: Sendable, Equatable {
    public var total: Int
    public var reserved = 0
    public var minUnit = 1
    public var maxUnit: Int
    public var stepSize = 1
    public var allocationRatio: Double

    public init(total: Int, reserved: Int = 0, minUnit: Int = 1, maxUnit: Int, stepSize: Int = 1, allocationRatio: Double) {
        self.total = total
        self.reserved = reserved
        self.minUnit = minUnit
        self.maxUnit = maxUnit
        self.stepSize = stepSize
        self.allocationRatio = allocationRatio
    }

    init?(_ json: JSON) {
        guard let total = json["total"]?.intValue else { return nil }
        self.init(total: total, reserved: json["reserved"]?.intValue ?? 0, minUnit: json["min_unit"]?.intValue ?? 1,
                  maxUnit: json["max_unit"]?.intValue ?? total, stepSize: json["step_size"]?.intValue ?? 1,
                  allocationRatio: json["allocation_ratio"]?.doubleValue ?? 1)
    }

    var json: JSON {
        ["total": .int(total), "reserved": .int(reserved), "min_unit": .int(minUnit), "max_unit": .int(maxUnit),
         "step_size": .int(stepSize), "allocation_ratio": .number(allocationRatio)]
    }
}

/// What one compute node tells Placement about itself.
public struct ProviderReport: Sendable, Equatable {
    /// The compute node's uuid (the registration's answer), which is the resource provider's.
    public var uuid: String
    public var name: String
    public var inventories: [String: ProviderInventory]
    /// The driver's capabilities as traits: true ones are set, false ones removed; traits the driver does not
    /// name (an operator's CUSTOM_ ones) are kept, as Nova's resource tracker keeps them.
    public var capabilities: [String: Bool]

    public init(uuid: String, name: String, inventories: [String: ProviderInventory], capabilities: [String: Bool]) {
        self.uuid = uuid
        self.name = name
        self.inventories = inventories
        self.capabilities = capabilities
    }

    /// The traits to leave on the provider, given those it has now.
    func traits(replacing current: Set<String>) -> Set<String> {
        var traits = current
        for (trait, supported) in capabilities {
            if supported { traits.insert(trait) } else { traits.remove(trait) }
        }
        traits.insert("COMPUTE_NODE")  // Nova marks every compute node's provider so
        return traits
    }
}

/// Keeps a compute node's resource provider, inventory and traits in Placement through its HTTP API, with
/// generations, as nova-compute's report client does: create the provider if missing, then replace inventory
/// and traits only when they differ; a generation conflict (someone else wrote) re-reads and tries again.
public struct PlacementReporter: Sendable {
    let client: ControlPlaneClient
    static let version = [("OpenStack-API-Version", "placement 1.39")]
    static let attempts = 5

    public init(client: ControlPlaneClient) { self.client = client }

    public func report(_ report: ProviderReport) async throws {
        try await ensureProvider(report)
        try await retryingConflicts("inventory of \(report.name)") { try await syncInventory(report) }
        try await retryingConflicts("traits of \(report.name)") { try await syncTraits(report) }
    }

    private func ensureProvider(_ report: ProviderReport) async throws {
        let path = "/resource_providers/\(report.uuid)"
        if try await call(.GET, path, expect: [200, 404]).status == 200 { return }
        let created = try await call(.POST, "/resource_providers", ["uuid": .string(report.uuid), "name": .string(report.name)],
                                     expect: [200, 409])
        // 409: created meanwhile (a restart racing its old self), or the name is another provider's.
        if created.status == 409, try await call(.GET, path, expect: [200, 404]).status == 404 {
            throw ControlPlaneError(status: 409, message: "placement refused provider \(report.name) (\(report.uuid)): \(created.message)")
        }
    }

    /// True when it wrote; false when Placement already had it; nil on a generation conflict.
    private func syncInventory(_ report: ProviderReport) async throws -> Bool? {
        let path = "/resource_providers/\(report.uuid)/inventories"
        let current = try await call(.GET, path, expect: [200])
        let have = (current.json["inventories"]?.objectValue ?? [:]).compactMapValues(ProviderInventory.init)
        if have == report.inventories { return false }
        let body: JSON = ["resource_provider_generation": current.json["resource_provider_generation"] ?? .null,
                          "inventories": .object(report.inventories.mapValues(\.json))]
        return try await call(.PUT, path, body, expect: [200, 409]).status == 200 ? true : nil
    }

    private func syncTraits(_ report: ProviderReport) async throws -> Bool? {
        let path = "/resource_providers/\(report.uuid)/traits"
        let current = try await call(.GET, path, expect: [200])
        let have = Set((current.json["traits"]?.arrayValue ?? []).compactMap(\.stringValue))
        let want = report.traits(replacing: have)
        if have == want { return false }
        let body: JSON = ["resource_provider_generation": current.json["resource_provider_generation"] ?? .null,
                          "traits": .array(want.sorted().map { .string($0) })]
        return try await call(.PUT, path, body, expect: [200, 409]).status == 200 ? true : nil
    }

    private func retryingConflicts(_ what: String, _ attempt: () async throws -> Bool?) async throws {
        for _ in 0..<Self.attempts where try await attempt() != nil { return }
        throw ControlPlaneError(status: 409, message: "the \(what) kept changing under us (\(Self.attempts) generation conflicts)")
    }

    private func call(_ method: HTTPMethod, _ path: String, _ body: JSON? = nil,
                      expect: Set<Int>) async throws -> (status: Int, json: JSON, message: String) {
        let (status, json) = try await client.request(method, "placement", path, body: body, headers: Self.version)
        let message = json["errors"]?.arrayValue?.first?["detail"]?.stringValue ?? json.encodedString()
        guard expect.contains(status) else {
            throw ControlPlaneError(status: status, message: "placement \(method) \(path): \(message)")
        }
        return (status, json, message)
    }
}
