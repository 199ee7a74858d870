import Hummingbird
import StratusCore
import StratusPlacement

extension PlacementAPI {
    /// What Placement records for consumers written before 1.8 gave a project and user.
    static let incompleteConsumer = "00000000-0000-0000-0000-000000000000"

    func registerAllocations(on router: PolicedRouter) {
        router.get("placement/allocations/:consumer", .rule("placement:allocations:list")) { _, context in
            let consumer = try consumerParameter(context)
            guard let record = try await store.consumer(consumer) else {
                return JSONResponse.make(status: .ok, ["allocations": [:]])
            }
            var body: [String: JSON] = [
                "allocations": .object(record.allocations.mapValues { entry in
                    ["generation": .int(entry.generation), "resources": Self.resourcesJSON(entry.resources)]
                }),
            ]
            if context.microversion.atLeast(1, 12) {
                body["project_id"] = .string(record.projectID)
                body["user_id"] = .string(record.userID)
            }
            if context.microversion.atLeast(1, 28) { body["consumer_generation"] = .int(record.generation) }
            if context.microversion.atLeast(1, 38) { body["consumer_type"] = .string(record.consumerType ?? "unknown") }
            return JSONResponse.make(status: .ok, .object(body))
        }
        router.put("placement/allocations/:consumer", .rule("placement:allocations:update")) { request, context in
            let consumer = try consumerParameter(context)
            let fields = try JSONFields(try await body(request), path: "")
            let parsed = try consumerAllocations(consumer, fields, version: context.microversion, listFormat: !context.microversion.atLeast(1, 12))
            try await store.replaceAllocations([parsed])
            return JSONResponse.empty()
        }
        router.delete("placement/allocations/:consumer", .rule("placement:allocations:delete")) { _, context in
            try await store.deleteAllocations(consumerUUID: try consumerParameter(context))
            return JSONResponse.empty()
        }
        router.post("placement/allocations", .rule("placement:allocations:manage")) { request, context in
            try require(context, 1, 13)
            let fields = try JSONFields(try await body(request), path: "")
            guard !fields.object.isEmpty else { throw PlacementFault.badRequest("JSON does not validate: {} does not have enough properties") }
            var all: [ConsumerAllocations] = []
            for key in fields.object.keys.sorted() {
                guard let consumer = PlacementAPI.normalizedUUID(key) else {
                    throw PlacementFault.badRequest("JSON does not validate: '\(key)' is not a valid consumer uuid")
                }
                let entry = try fields.fields(key, required: true)!
                all.append(try consumerAllocations(consumer, entry, version: context.microversion, listFormat: false, allowEmpty: true))
            }
            try await store.replaceAllocations(all)
            return JSONResponse.empty()
        }
        router.get("placement/resource_providers/:uuid/allocations", .rule("placement:resource_providers:allocations:list")) { _, context in
            let (generation, consumers) = try await store.allocations(onProvider: try uuidParameter(context))
            return JSONResponse.make(status: .ok, [
                "allocations": .object(consumers.mapValues { ["resources": Self.resourcesJSON($0)] }),
                "resource_provider_generation": .int(generation),
            ])
        }
        router.get("placement/resource_providers/:uuid/usages", .rule("placement:resource_providers:usages")) { _, context in
            let (generation, usage) = try await store.usages(ofProvider: try uuidParameter(context))
            return JSONResponse.make(status: .ok, ["usages": Self.resourcesJSON(usage), "resource_provider_generation": .int(generation)])
        }
        router.get("placement/usages", .rule("placement:usages", target: .parameters(["project_id": "project_id"]))) { request, context in
            try require(context, 1, 9)
            var allowed: Set<String> = ["project_id", "user_id"]
            if context.microversion.atLeast(1, 38) { allowed.insert("consumer_type") }
            try checkQuery(request, allowed: allowed)
            guard let project = query(request, "project_id") else {
                throw PlacementFault.badRequest("Invalid query string parameters: 'project_id' is a required property")
            }
            let user = query(request, "user_id")
            if context.microversion.atLeast(1, 38) {
                let type = query(request, "consumer_type")
                let usages = try await store.usages(projectID: project, userID: user, consumerType: type)
                let counts = try await store.consumerCounts(projectID: project, userID: user)
                var body: [String: JSON] = [:]
                if type == "all" {
                    var merged: [String: Int] = [:]
                    for (_, resources) in usages { merged.merge(resources, uniquingKeysWith: +) }
                    var entry = merged.mapValues { JSON.int($0) }
                    entry["consumer_count"] = .int(counts.values.reduce(0, +))
                    body["all"] = .object(entry)
                } else {
                    for (consumerType, resources) in usages {
                        var entry = resources.mapValues { JSON.int($0) }
                        entry["consumer_count"] = .int(counts[consumerType] ?? 0)
                        body[consumerType] = .object(entry)
                    }
                }
                return JSONResponse.make(status: .ok, ["usages": .object(body)])
            }
            var merged: [String: Int] = [:]
            for (_, resources) in try await store.usages(projectID: project, userID: user, consumerType: nil) {
                merged.merge(resources, uniquingKeysWith: +)
            }
            return JSONResponse.make(status: .ok, ["usages": Self.resourcesJSON(merged)])
        }
    }

    func consumerParameter(_ context: StratusRequestContext) throws -> String {
        let value = try context.parameters.require("consumer")
        guard let uuid = PlacementAPI.normalizedUUID(value) else {
            throw PlacementFault.badRequest("Malformed consumer_uuid: \(value)")
        }
        return uuid
    }

    /// One consumer's allocations in either body format, with the fields its microversion requires.
    func consumerAllocations(_ consumer: String, _ fields: JSONFields, version: Microversion, listFormat: Bool,
                             allowEmpty: Bool = false) throws -> ConsumerAllocations {
        var allowed: Set<String> = ["allocations"]
        if version.atLeast(1, 8) { allowed.formUnion(["project_id", "user_id"]) }
        if version.atLeast(1, 28) { allowed.insert("consumer_generation") }
        if version.atLeast(1, 38) { allowed.insert("consumer_type") }
        try fields.rejectUnknown(allowed)
        var allocations: [ProviderAllocation] = []
        guard let raw = fields.object["allocations"] else {
            throw PlacementFault.badRequest("JSON does not validate: 'allocations' is a required property")
        }
        if listFormat {
            guard case .array(let items) = raw, !items.isEmpty else {
                throw PlacementFault.badRequest("JSON does not validate: 'allocations' must be a non-empty list")
            }
            for (i, item) in items.enumerated() {
                let entry = try JSONFields(item, path: "allocations/\(i)")
                try entry.rejectUnknown(["resource_provider", "resources"])
                let provider = try entry.fields("resource_provider", required: true)!.requiredString("uuid")
                allocations.append(ProviderAllocation(providerUUID: try providerUUID(provider), resources: try resources(entry)))
            }
        } else {
            let map = try JSONFields(raw, path: "allocations")
            if map.object.isEmpty && !allowEmpty && !version.atLeast(1, 28) {
                throw PlacementFault.badRequest("JSON does not validate: {} does not have enough properties")
            }
            for key in map.object.keys.sorted() {
                let entry = try map.fields(key, required: true)!
                try entry.rejectUnknown(["resources", "generation"])
                allocations.append(ProviderAllocation(providerUUID: try providerUUID(key), resources: try resources(entry)))
            }
        }
        var project = Self.incompleteConsumer
        var user = Self.incompleteConsumer
        if version.atLeast(1, 8) {
            project = try fields.requiredString("project_id")
            user = try fields.requiredString("user_id")
        }
        var check = ConsumerAllocations.GenerationCheck.skip
        if version.atLeast(1, 28) {
            guard let generation = fields.object["consumer_generation"] else {
                throw PlacementFault.badRequest("JSON does not validate: 'consumer_generation' is a required property")
            }
            if generation.isNull { check = .newConsumer } else if let value = generation.intValue { check = .equals(value) } else {
                throw PlacementFault.badRequest("JSON does not validate: consumer_generation must be an integer or null")
            }
        }
        var type: String?
        if version.atLeast(1, 38) {
            type = try fields.string("consumer_type", required: true)
            guard let type, type.count <= 255, type.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) else {
                throw PlacementFault.badRequest("JSON does not validate: consumer_type must match '^[A-Z0-9_]+$'")
            }
        }
        return ConsumerAllocations(consumerUUID: consumer, allocations: allocations, projectID: project, userID: user,
                                   consumerType: type, expectedGeneration: check)
    }

    private func providerUUID(_ text: String) throws -> String {
        guard let uuid = PlacementAPI.normalizedUUID(text) else {
            throw PlacementFault.badRequest("JSON does not validate: '\(text)' is not a 'uuid'")
        }
        return uuid
    }

    private func resources(_ entry: JSONFields) throws -> [String: Int] {
        let map = try entry.fields("resources", required: true)!
        guard !map.object.isEmpty else { throw PlacementFault.badRequest("JSON does not validate: resources must not be empty") }
        var result: [String: Int] = [:]
        for key in map.object.keys.sorted() {
            try Self.checkClassName(key)
            result[key] = try map.int(key, required: true, range: 1...Inventory.maxInt)!
        }
        return result
    }
}
