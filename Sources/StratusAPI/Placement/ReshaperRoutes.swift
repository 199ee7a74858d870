import Hummingbird
import StratusCore
import StratusPlacement

extension PlacementAPI {
    /// `POST /reshaper` (1.30): inventories and allocations replaced together, atomically.
    func registerReshaper(on router: PolicedRouter) {
        router.post("placement/reshaper", .rule("placement:reshaper:reshape")) { request, context in
            try require(context, 1, 30)
            let version = context.microversion
            let fields = try JSONFields(try await body(request), path: "")
            try fields.rejectUnknown(["inventories", "allocations"])
            let inventoryFields = try fields.fields("inventories", required: true)!
            var inventories: [String: PlacementStore.ReshapeInventory] = [:]
            for key in inventoryFields.object.keys.sorted() {
                guard let uuid = PlacementAPI.normalizedUUID(key) else {
                    throw PlacementFault.badRequest("JSON does not validate: '\(key)' is not a 'uuid'")
                }
                let entry = try inventoryFields.fields(key, required: true)!
                try entry.rejectUnknown(["resource_provider_generation", "inventories"])
                let records = try entry.fields("inventories", required: true)!
                var parsed: [String: Inventory] = [:]
                for resourceClass in records.object.keys.sorted() {
                    try Self.checkClassName(resourceClass)
                    parsed[resourceClass] = try inventory(try records.fields(resourceClass, required: true)!, allowed: Self.inventoryFields)
                }
                inventories[uuid] = .init(generation: try entry.int("resource_provider_generation", required: true)!, inventories: parsed)
            }
            let allocationFields = try fields.fields("allocations", required: true)!
            var allocations: [ConsumerAllocations] = []
            for key in allocationFields.object.keys.sorted() {
                guard let consumer = PlacementAPI.normalizedUUID(key) else {
                    throw PlacementFault.badRequest("JSON does not validate: '\(key)' is not a valid consumer uuid")
                }
                allocations.append(try consumerAllocations(
                    consumer, try allocationFields.fields(key, required: true)!, version: version, listFormat: false, allowEmpty: true))
            }
            try await store.reshape(inventories: inventories, allocations: allocations, reservedMayEqualTotal: true)
            return JSONResponse.empty()
        }
    }
}
