import SQLKit
import StratusCore
import StratusStorage

extension PlacementStore {
    /// Creates a provider; a parent must exist, and the name must be unique (409 `placement.duplicate_name`).
    public func createProvider(uuid: String, name: String, parentUUID: String?) async throws -> ResourceProvider {
        do {
            return try await write { tx in
                var root = uuid
                if let parentUUID {
                    guard let parent = try await tx.sql.raw("SELECT root_uuid FROM placement_providers WHERE uuid = \(bind: parentUUID)").first() else {
                        throw PlacementFault.badRequest("parent provider UUID \(parentUUID) does not exist.")
                    }
                    root = try parent.decode(column: "root_uuid", as: String.self)
                }
                let now = Clock.now()
                try await tx.sql.raw(
                    """
                    INSERT INTO placement_providers (uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at)
                    VALUES (\(bind: uuid), \(bind: name), 0, \(bind: parentUUID), \(bind: root), \(bind: now), \(bind: now))
                    """
                ).run()
                return (ResourceProvider(uuid: uuid, name: name, generation: 0, parentUUID: parentUUID, rootUUID: root), [uuid])
            }
        } catch where Storage.isUniqueViolation(error) {
            let existing = try? await storage.read { sql in
                try await sql.raw("SELECT uuid FROM placement_providers WHERE uuid = \(bind: uuid)").first()
            }
            if existing != nil {
                throw PlacementFault.conflict("Conflicting resource provider uuid: \(uuid) already exists.", code: "placement.duplicate_name")
            }
            throw PlacementFault.conflict("Conflicting resource provider name: \(name) already exists.", code: "placement.duplicate_name")
        }
    }

    /// Renames and (1.37) re-parents a provider. Re-parenting moves the whole subtree to the new root.
    public func updateProvider(uuid: String, name: String, parentUUID: String?, allowReparent: Bool) async throws -> ResourceProvider {
        do {
            return try await write { tx in
                let current = try await provider(uuid, in: tx)
                var root = current.rootUUID
                var touched: Set<String> = [uuid]
                if parentUUID != current.parentUUID {
                    if current.parentUUID != nil && !allowReparent {
                        throw PlacementFault.badRequest("The resource provider already has a parent; re-parenting needs microversion 1.37.")
                    }
                    if parentUUID == nil && !allowReparent {
                        throw PlacementFault.badRequest("Un-parenting a provider needs microversion 1.37.")
                    }
                    if let parentUUID {
                        let parent = try await provider(parentUUID, in: tx)
                        let loops = try await isDescendant(parent.uuid, of: uuid, in: tx)
                        if parent.uuid == uuid || loops {
                            throw PlacementFault.badRequest("creating loop in the provider tree is not allowed.")
                        }
                        root = parent.rootUUID
                    } else {
                        root = uuid
                    }
                    let subtree = try await descendants(of: uuid, in: tx) + [uuid]
                    for member in subtree {
                        try await tx.sql.raw("UPDATE placement_providers SET root_uuid = \(bind: root) WHERE uuid = \(bind: member)").run()
                        touched.insert(member)
                    }
                }
                try await tx.sql.raw(
                    """
                    UPDATE placement_providers SET name = \(bind: name), parent_uuid = \(bind: parentUUID),
                        updated_at = \(bind: Clock.now()) WHERE uuid = \(bind: uuid)
                    """
                ).run()
                let generation = try await bump(uuid, expected: current.generation, in: tx)
                return (ResourceProvider(uuid: uuid, name: name, generation: generation, parentUUID: parentUUID, rootUUID: root), touched)
            }
        } catch where Storage.isUniqueViolation(error) {
            throw PlacementFault.conflict("Conflicting resource provider name: \(name) already exists.", code: "placement.duplicate_name")
        }
    }

    func descendants(of uuid: String, in tx: Transaction) async throws -> [String] {
        var result: [String] = []
        var frontier = [uuid]
        while let next = frontier.popLast() {
            let children = try await tx.sql.raw("SELECT uuid FROM placement_providers WHERE parent_uuid = \(bind: next)")
                .all().map { try $0.decode(column: "uuid", as: String.self) }
            result += children
            frontier += children
        }
        return result
    }

    func isDescendant(_ candidate: String, of uuid: String, in tx: Transaction) async throws -> Bool {
        try await descendants(of: uuid, in: tx).contains(candidate)
    }

    /// Deletes a provider that has no allocations and no children.
    public func deleteProvider(uuid: String) async throws {
        try await write { tx in
            _ = try await provider(uuid, in: tx)
            if try await tx.sql.raw("SELECT 1 AS x FROM placement_allocations WHERE provider_uuid = \(bind: uuid) LIMIT 1").first() != nil {
                throw PlacementFault.conflict(
                    "Unable to delete resource provider \(uuid): Resource provider has allocations.",
                    code: "placement.resource_provider.inuse")
            }
            if try await tx.sql.raw("SELECT 1 AS x FROM placement_providers WHERE parent_uuid = \(bind: uuid) LIMIT 1").first() != nil {
                throw PlacementFault.conflict(
                    "Unable to delete parent resource provider \(uuid): It has child resource providers.",
                    code: "placement.resource_provider.cannot_delete_parent")
            }
            try await tx.sql.raw("DELETE FROM placement_inventories WHERE provider_uuid = \(bind: uuid)").run()
            try await tx.sql.raw("DELETE FROM placement_provider_traits WHERE provider_uuid = \(bind: uuid)").run()
            try await tx.sql.raw("DELETE FROM placement_provider_aggregates WHERE provider_uuid = \(bind: uuid)").run()
            try await tx.sql.raw("DELETE FROM placement_providers WHERE uuid = \(bind: uuid)").run()
            return ((), [uuid])
        }
    }

    // MARK: Traits and aggregates of a provider

    /// Replaces a provider's traits if `generation` matches; unknown traits are a 400.
    public func setTraits(uuid: String, traits: Set<String>, generation: Int) async throws -> Int {
        let known = try await knownTraits(traits)
        if let missing = traits.subtracting(known).sorted().first {
            throw PlacementFault.badRequest("No such trait(s): \(missing).")
        }
        return try await write { tx in
            let current = try await provider(uuid, in: tx)
            guard current.generation == generation else { throw generationConflict(uuid) }
            try await tx.sql.raw("DELETE FROM placement_provider_traits WHERE provider_uuid = \(bind: uuid)").run()
            for trait in traits.sorted() {
                try await tx.sql.raw("INSERT INTO placement_provider_traits (provider_uuid, trait) VALUES (\(bind: uuid), \(bind: trait))").run()
            }
            return (try await bump(uuid, expected: generation, in: tx), [uuid])
        }
    }

    /// Adds or removes one standard trait (Nova's resource tracker setting COMPUTE_STATUS_DISABLED), bumping the
    /// generation only when something changed; a concurrent writer's 409 is retried on the fresh generation.
    /// Returns whether the provider changed.
    @discardableResult
    public func setTrait(_ trait: String, present: Bool, on uuid: String) async throws -> Bool {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await write { tx in
                    let current = try await provider(uuid, in: tx)
                    let has = try await tx.sql.raw(
                        "SELECT 1 AS one FROM placement_provider_traits WHERE provider_uuid = \(bind: uuid) AND trait = \(bind: trait)"
                    ).first() != nil
                    guard has != present else { return (false, []) }
                    // A concurrent writer (another conductor, the API) may add or remove the same row meanwhile: only a
                    // row this transaction changed bumps the generation.
                    let changed = present
                        ? try await tx.sql.raw(
                            "INSERT INTO placement_provider_traits (provider_uuid, trait) VALUES (\(bind: uuid), \(bind: trait)) ON CONFLICT DO NOTHING RETURNING trait"
                        ).first() != nil
                        : try await tx.sql.raw(
                            "DELETE FROM placement_provider_traits WHERE provider_uuid = \(bind: uuid) AND trait = \(bind: trait) RETURNING trait"
                        ).first() != nil
                    guard changed else { return (false, []) }
                    _ = try await bump(uuid, expected: current.generation, in: tx)
                    return (true, [uuid])
                }
            } catch let error as StratusError where error.code.faultName == "placement.concurrent_update" && attempt < 5 {
                continue
            }
        }
    }

    /// The providers that have `trait`.
    public func providers(withTrait trait: String) async throws -> Set<String> {
        try await storage.read { sql in
            Set(try await sql.raw("SELECT provider_uuid FROM placement_provider_traits WHERE trait = \(bind: trait)").all()
                .map { try $0.decode(column: "provider_uuid", as: String.self) })
        }
    }

    /// Replaces a provider's aggregates; `generation` nil skips the check (before 1.19).
    public func setAggregates(uuid: String, aggregates: Set<String>, generation: Int?) async throws -> Int {
        try await write { tx in
            let current = try await provider(uuid, in: tx)
            if let generation, current.generation != generation { throw generationConflict(uuid) }
            try await tx.sql.raw("DELETE FROM placement_provider_aggregates WHERE provider_uuid = \(bind: uuid)").run()
            for aggregate in aggregates.sorted() {
                try await tx.sql.raw(
                    "INSERT INTO placement_provider_aggregates (provider_uuid, aggregate_uuid) VALUES (\(bind: uuid), \(bind: aggregate))"
                ).run()
            }
            return (try await bump(uuid, expected: current.generation, in: tx), [uuid])
        }
    }

    func generationConflict(_ uuid: String) -> StratusError {
        PlacementFault.concurrentUpdate(
            "resource provider generation conflict: provider \(uuid) changed since you read it; re-read and retry")
    }

    // MARK: Resource classes and traits

    public func customResourceClasses() async throws -> [String] {
        try await storage.read { sql in
            try await sql.raw("SELECT name FROM placement_resource_classes ORDER BY name").all()
                .map { try $0.decode(column: "name", as: String.self) }
        }
    }

    public func resourceClassExists(_ name: String) async throws -> Bool {
        if StandardVocabulary.isStandardClass(name) { return true }
        return try await storage.read { sql in
            try await sql.raw("SELECT name FROM placement_resource_classes WHERE name = \(bind: name)").first() != nil
        }
    }

    /// Creates a custom class; returns false if it already existed.
    @discardableResult
    public func createResourceClass(_ name: String) async throws -> Bool {
        if StandardVocabulary.isStandardClass(name) { return false }
        return try await insertName(name, into: "placement_resource_classes")
    }

    /// Inserts a custom name; false if it was already there. `table` is one of our own table names.
    private func insertName(_ name: String, into table: String) async throws -> Bool {
        do {
            try await storage.transaction { tx in
                try await tx.sql.raw(
                    "INSERT INTO \(unsafeRaw: table) (name, created_at) VALUES (\(bind: name), \(bind: Clock.now()))"
                ).run()
            }
            return true
        } catch where Storage.isUniqueViolation(error) {
            return false
        }
    }

    public func deleteResourceClass(_ name: String) async throws {
        if StandardVocabulary.isStandardClass(name) {
            throw PlacementFault.badRequest("Cannot delete standard resource class \(name).")
        }
        try await storage.transaction { tx in
            guard try await tx.sql.raw("SELECT name FROM placement_resource_classes WHERE name = \(bind: name)").first() != nil else {
                throw PlacementFault.notFound("No such resource class \(name).")
            }
            let inInventory = try await tx.sql.raw("SELECT 1 AS x FROM placement_inventories WHERE resource_class = \(bind: name) LIMIT 1").first() != nil
            let inAllocations = try await tx.sql.raw("SELECT 1 AS x FROM placement_allocations WHERE resource_class = \(bind: name) LIMIT 1").first() != nil
            if inInventory || inAllocations {
                throw PlacementFault.conflict("Cannot delete resource class \(name). Class is in use in inventory.")
            }
            try await tx.sql.raw("DELETE FROM placement_resource_classes WHERE name = \(bind: name)").run()
        }
    }

    public func customTraits() async throws -> [String] {
        try await storage.read { sql in
            try await sql.raw("SELECT name FROM placement_traits ORDER BY name").all().map { try $0.decode(column: "name", as: String.self) }
        }
    }

    /// Which of `names` exist (standard or custom).
    public func knownTraits(_ names: Set<String>) async throws -> Set<String> {
        var known = names.filter(StandardVocabulary.isStandardTrait)
        let custom = names.subtracting(known)
        if !custom.isEmpty {
            let all = Set(try await customTraits())
            known.formUnion(custom.intersection(all))
        }
        return known
    }

    /// Creates a custom trait; returns false if it already existed.
    @discardableResult
    public func createTrait(_ name: String) async throws -> Bool {
        if StandardVocabulary.isStandardTrait(name) { return false }
        return try await insertName(name, into: "placement_traits")
    }

    public func deleteTrait(_ name: String) async throws {
        if StandardVocabulary.isStandardTrait(name) {
            throw PlacementFault.badRequest("Cannot delete standard trait \(name).")
        }
        try await storage.transaction { tx in
            guard try await tx.sql.raw("SELECT name FROM placement_traits WHERE name = \(bind: name)").first() != nil else {
                throw PlacementFault.notFound("No such trait(s): \(name).")
            }
            if try await tx.sql.raw("SELECT 1 AS x FROM placement_provider_traits WHERE trait = \(bind: name) LIMIT 1").first() != nil {
                throw PlacementFault.conflict("The trait \(name) is in use by a resource provider.")
            }
            try await tx.sql.raw("DELETE FROM placement_traits WHERE name = \(bind: name)").run()
        }
    }
}

extension PlacementStore {
    /// Creates many root providers with inventory in large transactions, then reloads the index. For loading
    /// benchmarks and imports; the rows are exactly what `createProvider` + `setInventories` write.
    public func bulkCreate(_ providers: [(uuid: String, name: String, inventories: [String: Inventory])], batch: Int = 1000) async throws {
        var start = 0
        while start < providers.count {
            let slice = Array(providers[start..<min(start + batch, providers.count)])
            try await storage.transaction { tx in
                let now = Clock.now()
                for provider in slice {
                    try await tx.sql.raw(
                        """
                        INSERT INTO placement_providers (uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at)
                        VALUES (\(bind: provider.uuid), \(bind: provider.name), 1, NULL, \(bind: provider.uuid), \(bind: now), \(bind: now))
                        """
                    ).run()
                    for (resourceClass, inventory) in provider.inventories.sorted(by: { $0.key < $1.key }) {
                        try await tx.sql.raw(
                            """
                            INSERT INTO placement_inventories (provider_uuid, resource_class, total, reserved, min_unit, max_unit,
                                step_size, allocation_ratio, updated_at)
                            VALUES (\(bind: provider.uuid), \(bind: resourceClass), \(bind: inventory.total), \(bind: inventory.reserved),
                                \(bind: inventory.minUnit), \(bind: inventory.maxUnit), \(bind: inventory.stepSize),
                                \(bind: inventory.allocationRatio), \(bind: now))
                            """
                        ).run()
                    }
                }
            }
            start += batch
        }
        try await loadIndex()
    }
}
