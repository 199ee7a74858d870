import Hummingbird
import StratusCore
import StratusPlacement

extension PlacementAPI {
    static let inventoryFields: Set<String> = ["total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio"]

    func registerInventories(on router: PolicedRouter) {
        let base = "placement/resource_providers/:uuid/inventories"
        router.get(base, .rule("placement:resource_providers:inventories:list")) { _, context in
            let (generation, inventories) = try await store.inventories(uuid: try uuidParameter(context))
            return JSONResponse.make(status: .ok, [
                "resource_provider_generation": .int(generation),
                "inventories": .object(inventories.mapValues { .object(Self.inventoryJSON($0)) }),
            ])
        }
        router.put(base, .rule("placement:resource_providers:inventories:update")) { request, context in
            let uuid = try uuidParameter(context)
            let fields = try JSONFields(try await body(request), path: "")
            try fields.rejectUnknown(["resource_provider_generation", "inventories"])
            let generation = try fields.int("resource_provider_generation", required: true)!
            let records = try fields.fields("inventories", required: true)!
            var inventories: [String: Inventory] = [:]
            for key in records.object.keys.sorted() {
                try Self.checkClassName(key)
                inventories[key] = try inventory(try records.fields(key, required: true)!, allowed: Self.inventoryFields)
            }
            let newGeneration = try await store.setInventories(
                uuid: uuid, generation: generation, inventories, reservedMayEqualTotal: context.microversion.atLeast(1, 26))
            return JSONResponse.make(status: .ok, [
                "resource_provider_generation": .int(newGeneration),
                "inventories": .object(inventories.mapValues { .object(Self.inventoryJSON($0)) }),
            ])
        }
        router.post(base, .rule("placement:resource_providers:inventories:create")) { request, context in
            let uuid = try uuidParameter(context)
            let fields = try JSONFields(try await body(request), path: "")
            let resourceClass = try fields.requiredString("resource_class")
            try Self.checkClassName(resourceClass)
            let record = try inventory(fields, allowed: Self.inventoryFields.union(["resource_class", "resource_provider_generation"]))
            let generation = try await store.setInventory(
                uuid: uuid, resourceClass: resourceClass, generation: nil, record, mustExist: false, mustBeNew: true,
                reservedMayEqualTotal: context.microversion.atLeast(1, 26))
            var body = Self.inventoryJSON(record)
            body["resource_provider_generation"] = .int(generation)
            return JSONResponse.make(
                status: .created, .object(body), headers: [.location: baseURL() + "/placement/resource_providers/\(uuid)/inventories/\(resourceClass)"])
        }
        router.delete(base, .rule("placement:resource_providers:inventories:delete")) { _, context in
            guard context.microversion.atLeast(1, 5) else {
                throw StratusError(PlacementFault.code(405, "placement.undefined_code"), "The method DELETE is not supported for this resource.")
            }
            _ = try await store.setInventories(uuid: try uuidParameter(context), generation: nil, [:], reservedMayEqualTotal: true)
            return JSONResponse.empty()
        }
        router.get(base + "/:resource_class", .rule("placement:resource_providers:inventories:show")) { _, context in
            let uuid = try uuidParameter(context)
            let resourceClass = try context.parameters.require("resource_class")
            let (generation, inventories) = try await store.inventories(uuid: uuid)
            guard let inventory = inventories[resourceClass] else {
                throw PlacementFault.notFound("No inventory of class \(resourceClass) for \(uuid)")
            }
            var body = Self.inventoryJSON(inventory)
            body["resource_provider_generation"] = .int(generation)
            return JSONResponse.make(status: .ok, .object(body))
        }
        router.put(base + "/:resource_class", .rule("placement:resource_providers:inventories:update")) { request, context in
            let uuid = try uuidParameter(context)
            let resourceClass = try context.parameters.require("resource_class")
            let fields = try JSONFields(try await body(request), path: "")
            let expected = try fields.int("resource_provider_generation", required: true)!
            let record = try inventory(fields, allowed: Self.inventoryFields.union(["resource_provider_generation"]))
            let generation = try await store.setInventory(
                uuid: uuid, resourceClass: resourceClass, generation: expected, record, mustExist: true, mustBeNew: false,
                reservedMayEqualTotal: context.microversion.atLeast(1, 26))
            var body = Self.inventoryJSON(record)
            body["resource_provider_generation"] = .int(generation)
            return JSONResponse.make(status: .ok, .object(body))
        }
        router.delete(base + "/:resource_class", .rule("placement:resource_providers:inventories:delete")) { _, context in
            try await store.deleteInventory(uuid: try uuidParameter(context), resourceClass: try context.parameters.require("resource_class"))
            return JSONResponse.empty()
        }
    }

    /// One inventory record, with Placement's defaults and bounds.
    func inventory(_ fields: JSONFields, allowed: Set<String>) throws -> Inventory {
        try fields.rejectUnknown(allowed)
        let max = Inventory.maxInt
        var inventory = Inventory(total: try fields.int("total", required: true, range: 1...max)!)
        inventory.reserved = try fields.int("reserved", range: 0...max) ?? 0
        inventory.minUnit = try fields.int("min_unit", range: 1...max) ?? 1
        inventory.maxUnit = try fields.int("max_unit", range: 1...max) ?? max
        inventory.stepSize = try fields.int("step_size", range: 1...max) ?? 1
        let ratio = try fields.double("allocation_ratio") ?? 1.0
        guard ratio > 0, ratio <= 3.40282e38 else {
            throw PlacementFault.badRequest("JSON does not validate: allocation_ratio \(ratio) must be a positive number.")
        }
        inventory.allocationRatio = ratio
        return inventory
    }

    static func checkClassName(_ name: String) throws {
        let valid = !name.isEmpty && name.count <= 255
            && name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        guard valid else {
            throw PlacementFault.badRequest("JSON does not validate: '\(name)' does not match '^[A-Z0-9_]+$'")
        }
    }
}
