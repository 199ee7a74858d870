import SQLKit
import StratusCore
import StratusStorage

/// Placement's records in the database (the truth) and the in-memory index kept in step with them.
/// Every write bumps the generation of each provider it touches and, after commit, refreshes those providers
/// in the index.
public struct PlacementStore: Sendable {
    public let storage: Storage
    public let index: PlacementIndex
    /// Group commit for claims, when running (see `ClaimBatcher`).
    public let batcher: ClaimBatcher?

    public init(storage: Storage, batching: Bool = false) {
        self.storage = storage
        self.index = PlacementIndex()
        self.batcher = batching ? ClaimBatcher() : nil
        self.batcher?.store = PlacementStore(storage: storage, index: index)
    }

    /// The same store without a batcher, for the batcher itself.
    private init(storage: Storage, index: PlacementIndex) {
        self.storage = storage
        self.index = index
        self.batcher = nil
    }

    /// Loads the whole index from the database (start-up).
    public func loadIndex() async throws {
        let snapshots = try await storage.read { sql in try await Self.snapshots(sql, uuids: nil) }
        index.replaceAll(snapshots)
    }

    /// Runs a write transaction, then refreshes the providers it reports as touched.
    func write<T: Sendable>(_ body: @Sendable (Transaction) async throws -> (T, Set<String>)) async throws -> T {
        let (value, touched) = try await storage.transaction { tx in try await body(tx) }
        if !touched.isEmpty { try await refresh(touched) }
        return value
    }

    func refresh(_ uuids: Set<String>) async throws {
        let snapshots = try await storage.read { sql in try await Self.snapshots(sql, uuids: uuids) }
        index.apply(snapshots, removing: uuids.subtracting(snapshots.map(\.provider.uuid)))
    }

    // MARK: Reading providers

    static func provider(_ row: any SQLRow) throws -> ResourceProvider {
        ResourceProvider(
            uuid: try row.decode(column: "uuid", as: String.self), name: try row.decode(column: "name", as: String.self),
            generation: try row.decode(column: "generation", as: Int.self),
            parentUUID: try row.decode(column: "parent_uuid", as: String?.self),
            rootUUID: try row.decode(column: "root_uuid", as: String.self))
    }

    public func provider(_ uuid: String) async throws -> ResourceProvider {
        guard let provider = try await storage.read({ sql in
            try await sql.raw("SELECT * FROM placement_providers WHERE uuid = \(bind: uuid)").first().map(Self.provider)
        }) else {
            throw PlacementFault.notFound(
                "No resource provider with uuid \(uuid) found", code: "placement.resource_provider.not_found")
        }
        return provider
    }

    func provider(_ uuid: String, in tx: Transaction) async throws -> ResourceProvider {
        guard let provider = try await tx.sql.raw("SELECT * FROM placement_providers WHERE uuid = \(bind: uuid)")
            .first().map(Self.provider)
        else {
            throw PlacementFault.notFound(
                "No resource provider with uuid \(uuid) found", code: "placement.resource_provider.not_found")
        }
        return provider
    }

    /// Bumps a provider's generation if it still is `expected`; otherwise Placement's 409 concurrent update.
    func bump(_ uuid: String, expected: Int, in tx: Transaction) async throws -> Int {
        guard let new = try await tx.bumpGeneration(table: "placement_providers", keyColumn: "uuid", key: uuid, expected: expected)
        else {
            throw PlacementFault.concurrentUpdate(
                "resource provider generation conflict: another client updated provider \(uuid); re-read it and retry")
        }
        return new
    }

    /// Full snapshots of providers (all when `uuids` is nil), for the index.
    static func snapshots(_ sql: any SQLDatabase, uuids: Set<String>?) async throws -> [ProviderSnapshot] {
        var byUUID: [String: ProviderSnapshot] = [:]
        let filter: SQLQueryString
        if let uuids {
            if uuids.isEmpty { return [] }
            var list = SQLQueryString("")
            for (i, uuid) in uuids.sorted().enumerated() {
                if i > 0 { list.appendLiteral(", ") }
                list.appendInterpolation(bind: uuid)
            }
            filter = " WHERE provider_uuid IN (" + list + ")"
            let providerFilter: SQLQueryString = " WHERE uuid IN (" + list + ")"
            for row in try await sql.raw("SELECT * FROM placement_providers" + providerFilter).all() {
                let provider = try Self.provider(row)
                byUUID[provider.uuid] = ProviderSnapshot(provider: provider)
            }
        } else {
            filter = ""
            for row in try await sql.raw("SELECT * FROM placement_providers").all() {
                let provider = try Self.provider(row)
                byUUID[provider.uuid] = ProviderSnapshot(provider: provider)
            }
        }
        for row in try await sql.raw("SELECT * FROM placement_inventories" + filter).all() {
            let uuid = try row.decode(column: "provider_uuid", as: String.self)
            byUUID[uuid]?.inventories[try row.decode(column: "resource_class", as: String.self)] = try Self.inventory(row)
        }
        for row in try await sql.raw(
            "SELECT provider_uuid, resource_class, CAST(SUM(used) AS BIGINT) AS used FROM placement_allocations" + filter
                + " GROUP BY provider_uuid, resource_class"
        ).all() {
            let uuid = try row.decode(column: "provider_uuid", as: String.self)
            byUUID[uuid]?.usage[try row.decode(column: "resource_class", as: String.self)] = try row.decode(column: "used", as: Int.self)
        }
        for row in try await sql.raw("SELECT * FROM placement_provider_traits" + filter).all() {
            let uuid = try row.decode(column: "provider_uuid", as: String.self)
            byUUID[uuid]?.traits.insert(try row.decode(column: "trait", as: String.self))
        }
        for row in try await sql.raw("SELECT * FROM placement_provider_aggregates" + filter).all() {
            let uuid = try row.decode(column: "provider_uuid", as: String.self)
            byUUID[uuid]?.aggregates.insert(try row.decode(column: "aggregate_uuid", as: String.self))
        }
        return Array(byUUID.values)
    }

    static func inventory(_ row: any SQLRow) throws -> Inventory {
        Inventory(
            total: try row.decode(column: "total", as: Int.self), reserved: try row.decode(column: "reserved", as: Int.self),
            minUnit: try row.decode(column: "min_unit", as: Int.self), maxUnit: try row.decode(column: "max_unit", as: Int.self),
            stepSize: try row.decode(column: "step_size", as: Int.self),
            allocationRatio: try row.decode(column: "allocation_ratio", as: Double.self))
    }
}

/// The room a compute node offers in the three classes a flavor asks for, as plain fields: the scheduler reads
/// them for every host of every decision, where hashing class names 10,000 times would dominate.
public struct ComputeRoom: Sendable, Equatable {
    /// One class: its inventory (nil: none) and what is left of its capacity.
    public struct Slot: Sendable, Equatable {
        public var inventory: Inventory?
        public var free: Int

        /// Whether `amount` fits: nothing asked always fits; otherwise inventory, units and room must allow it.
        public func fits(_ amount: Int) -> Bool {
            guard amount > 0 else { return true }
            guard let inventory else { return false }
            return inventory.permits(amount) && amount <= free
        }
    }

    public var vcpu: Slot
    public var memoryMB: Slot
    public var diskGB: Slot

    init(_ inventories: [String: Inventory], _ usage: [String: Int]) {
        func slot(_ name: String) -> Slot {
            let inventory = inventories[name]
            return Slot(inventory: inventory, free: inventory.map { $0.capacity - (usage[name] ?? 0) } ?? 0)
        }
        vcpu = slot("VCPU")
        memoryMB = slot("MEMORY_MB")
        diskGB = slot("DISK_GB")
    }

    public func fits(vcpus: Int, memoryMB: Int, diskGB: Int) -> Bool {
        vcpu.fits(vcpus) && self.memoryMB.fits(memoryMB) && self.diskGB.fits(diskGB)
    }
}

/// Everything the index holds about one provider.
public struct ProviderSnapshot: Sendable, Equatable {
    public var provider: ResourceProvider
    public var inventories: [String: Inventory] = [:] { didSet { room = ComputeRoom(inventories, usage) } }
    public var usage: [String: Int] = [:] { didSet { room = ComputeRoom(inventories, usage) } }
    public var traits: Set<String> = []
    public var aggregates: Set<String> = []
    /// VCPU, MEMORY_MB and DISK_GB room, kept in step with inventories and usage.
    public private(set) var room = ComputeRoom([:], [:])

    public init(provider: ResourceProvider) { self.provider = provider }

    public func used(_ resourceClass: String) -> Int { usage[resourceClass] ?? 0 }

    /// Room left for `resourceClass` (0 when there is no inventory).
    public func free(_ resourceClass: String) -> Int {
        guard let inventory = inventories[resourceClass] else { return 0 }
        return inventory.capacity - used(resourceClass)
    }
}
