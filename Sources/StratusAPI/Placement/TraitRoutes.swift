import Hummingbird
import StratusCore
import StratusPlacement

extension PlacementAPI {
    func registerTraitsAndClasses(on router: PolicedRouter) {
        // Resource classes
        router.get("placement/resource_classes", .rule("placement:resource_classes:list")) { _, context in
            let names = StandardVocabulary.resourceClasses + (try await store.customResourceClasses())
            return JSONResponse.make(status: .ok, ["resource_classes": .array(names.map(classJSON))])
        }
        router.post("placement/resource_classes", .rule("placement:resource_classes:create")) { request, context in
            try require(context, 1, 2)
            let fields = try JSONFields(try await body(request), path: "")
            try fields.rejectUnknown(["name"])
            let name = try fields.requiredString("name")
            guard StandardVocabulary.isValidCustomName(name) else {
                throw PlacementFault.badRequest("JSON does not validate: '\(name)' does not match '^CUSTOM_[A-Z0-9_]+$'")
            }
            guard try await store.createResourceClass(name) else {
                throw PlacementFault.conflict("Conflicting resource class already exists: \(name)", code: "placement.duplicate_name")
            }
            return JSONResponse.empty(.created, headers: [.location: baseURL() + "/placement/resource_classes/\(name)"])
        }
        router.get("placement/resource_classes/:name", .rule("placement:resource_classes:show")) { _, context in
            let name = try context.parameters.require("name")
            guard try await store.resourceClassExists(name) else {
                throw PlacementFault.notFound("No such resource class \(name).")
            }
            return JSONResponse.make(status: .ok, classJSON(name))
        }
        router.put("placement/resource_classes/:name", .rule("placement:resource_classes:update")) { _, context in
            try require(context, 1, 7)
            let name = try context.parameters.require("name")
            guard StandardVocabulary.isValidCustomName(name) else {
                throw PlacementFault.badRequest("JSON does not validate: '\(name)' does not match '^CUSTOM_[A-Z0-9_]+$'")
            }
            let created = try await store.createResourceClass(name)
            return JSONResponse.empty(created ? .created : .noContent, headers: [.location: baseURL() + "/placement/resource_classes/\(name)"])
        }
        router.delete("placement/resource_classes/:name", .rule("placement:resource_classes:delete")) { _, context in
            try await store.deleteResourceClass(try context.parameters.require("name"))
            return JSONResponse.empty()
        }

        // Traits
        router.get("placement/traits", .rule("placement:traits:list")) { request, context in
            try require(context, 1, 6)
            try checkQuery(request, allowed: ["name", "associated"])
            var names = StandardVocabulary.traits + (try await store.customTraits())
            if let filter = query(request, "name") {
                if filter.hasPrefix("in:") {
                    let wanted = Set(filter.dropFirst(3).split(separator: ",").map(String.init))
                    names = names.filter { wanted.contains($0) }
                } else if filter.hasPrefix("startswith:") {
                    let prefix = String(filter.dropFirst("startswith:".count))
                    names = names.filter { $0.hasPrefix(prefix) }
                } else {
                    throw PlacementFault.badRequest("Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"\(filter)\"")
                }
            }
            if let associated = query(request, "associated") {
                guard associated == "true" || associated == "false" else {
                    throw PlacementFault.badRequest("The query parameter \"associated\" only accepts \"true\" or \"false\"")
                }
                var used: Set<String> = []
                for snapshot in store.index.current().providers.values { used.formUnion(snapshot.traits) }
                names = names.filter { used.contains($0) == (associated == "true") }
            }
            return JSONResponse.make(status: .ok, ["traits": .array(names.sorted().map { .string($0) })])
        }
        router.get("placement/traits/:name", .rule("placement:traits:show")) { _, context in
            try require(context, 1, 6)
            let name = try context.parameters.require("name")
            guard try await store.knownTraits([name]).contains(name) else {
                throw PlacementFault.notFound("No such trait(s): \(name).")
            }
            return JSONResponse.empty()
        }
        router.put("placement/traits/:name", .rule("placement:traits:update")) { _, context in
            try require(context, 1, 6)
            let name = try context.parameters.require("name")
            guard StandardVocabulary.isValidCustomName(name) else {
                throw PlacementFault.badRequest("The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\"")
            }
            let created = try await store.createTrait(name)
            return JSONResponse.empty(created ? .created : .noContent, headers: [.location: baseURL() + "/placement/traits/\(name)"])
        }
        router.delete("placement/traits/:name", .rule("placement:traits:delete")) { _, context in
            try require(context, 1, 6)
            try await store.deleteTrait(try context.parameters.require("name"))
            return JSONResponse.empty()
        }

        // A provider's traits
        let providerTraits = "placement/resource_providers/:uuid/traits"
        router.get(providerTraits, .rule("placement:resource_providers:traits:list")) { _, context in
            try require(context, 1, 6)
            let provider = try await store.provider(try uuidParameter(context))
            let traits = store.index.snapshot(provider.uuid)?.traits ?? []
            return JSONResponse.make(status: .ok, [
                "traits": .array(traits.sorted().map { .string($0) }), "resource_provider_generation": .int(provider.generation),
            ])
        }
        router.put(providerTraits, .rule("placement:resource_providers:traits:update")) { request, context in
            try require(context, 1, 6)
            let uuid = try uuidParameter(context)
            let fields = try JSONFields(try await body(request), path: "")
            try fields.rejectUnknown(["traits", "resource_provider_generation"])
            let traits = Set(try fields.stringArray("traits", required: true)!)
            let generation = try fields.int("resource_provider_generation", required: true)!
            _ = try await store.provider(uuid)
            let new = try await store.setTraits(uuid: uuid, traits: traits, generation: generation)
            return JSONResponse.make(status: .ok, [
                "traits": .array(traits.sorted().map { .string($0) }), "resource_provider_generation": .int(new),
            ])
        }
        router.delete(providerTraits, .rule("placement:resource_providers:traits:delete")) { _, context in
            try require(context, 1, 6)
            let provider = try await store.provider(try uuidParameter(context))
            _ = try await store.setTraits(uuid: provider.uuid, traits: [], generation: provider.generation)
            return JSONResponse.empty()
        }

        // A provider's aggregates
        let aggregates = "placement/resource_providers/:uuid/aggregates"
        router.get(aggregates, .rule("placement:resource_providers:aggregates:list")) { _, context in
            try require(context, 1, 1)
            let provider = try await store.provider(try uuidParameter(context))
            let list = (store.index.snapshot(provider.uuid)?.aggregates ?? []).sorted().map { JSON.string($0) }
            if context.microversion.atLeast(1, 19) {
                return JSONResponse.make(status: .ok, ["aggregates": .array(list), "resource_provider_generation": .int(provider.generation)])
            }
            return JSONResponse.make(status: .ok, ["aggregates": .array(list)])
        }
        router.put(aggregates, .rule("placement:resource_providers:aggregates:update")) { request, context in
            try require(context, 1, 1)
            let uuid = try uuidParameter(context)
            let json = try await request.jsonValue(limit: bodyLimit)
            var list: [String]
            var generation: Int?
            if context.microversion.atLeast(1, 19) {
                let fields = try JSONFields(json, path: "")
                try fields.rejectUnknown(["aggregates", "resource_provider_generation"])
                list = try fields.stringArray("aggregates", required: true)!
                generation = try fields.int("resource_provider_generation", required: true)!
            } else {
                guard case .array(let items) = json else {
                    throw PlacementFault.badRequest("JSON does not validate: expected a list of aggregate uuids")
                }
                list = try items.map { item in
                    guard let text = item.stringValue else { throw PlacementFault.badRequest("JSON does not validate: \(item.typeName) is not a 'uuid'") }
                    return text
                }
            }
            let normalized = try list.map { item -> String in
                guard let uuid = PlacementAPI.normalizedUUID(item) else { throw PlacementFault.badRequest("JSON does not validate: '\(item)' is not a 'uuid'") }
                return uuid
            }
            guard Set(normalized).count == normalized.count else {
                throw PlacementFault.badRequest("JSON does not validate: aggregates has non-unique elements")
            }
            _ = try await store.provider(uuid)
            let new = try await store.setAggregates(uuid: uuid, aggregates: Set(normalized), generation: generation)
            let body: JSON = context.microversion.atLeast(1, 19)
                ? ["aggregates": .array(normalized.sorted().map { .string($0) }), "resource_provider_generation": .int(new)]
                : ["aggregates": .array(normalized.sorted().map { .string($0) })]
            return JSONResponse.make(status: .ok, body)
        }
    }

    func classJSON(_ name: String) -> JSON {
        ["name": .string(name), "links": [["rel": "self", "href": .string("/placement/resource_classes/\(name)")]]]
    }
}
