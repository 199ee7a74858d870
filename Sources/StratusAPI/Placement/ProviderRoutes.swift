import Hummingbird
import StratusCore
import StratusPlacement

extension PlacementAPI {
    func registerProviders(on router: PolicedRouter) {
        router.get("placement/resource_providers", .rule("placement:resource_providers:list")) { request, context in
            let version = context.microversion
            var allowed: Set<String> = ["name", "uuid"]
            if version.atLeast(1, 3) { allowed.insert("member_of") }
            if version.atLeast(1, 4) { allowed.insert("resources") }
            if version.atLeast(1, 14) { allowed.insert("in_tree") }
            if version.atLeast(1, 18) { allowed.insert("required") }
            try checkQuery(request, allowed: allowed)
            var group = RequestGroup(suffix: "")
            let filters = try CandidateParser(version: version, request: request)
            try filters.fill(&group, suffix: "")
            try await checkVocabulary([group])
            if let uuid = query(request, "uuid"), PlacementAPI.normalizedUUID(uuid) == nil {
                throw PlacementFault.badRequest("Invalid query string parameters: '\(uuid)' is not a 'uuid'")
            }
            let name = query(request, "name")
            let uuid = query(request, "uuid").flatMap(PlacementAPI.normalizedUUID)
            let state = store.index.current()
            let search = CandidateSearch(state: state, query: CandidateQuery())
            var providers: [ResourceProvider] = []
            for snapshot in state.providers.values.sorted(by: { $0.provider.uuid < $1.provider.uuid }) {
                let provider = snapshot.provider
                if let name, provider.name != name { continue }
                if let uuid, provider.uuid != uuid { continue }
                if let tree = group.inTree {
                    guard let anchor = state.providers[tree] else { providers = []; break }
                    if provider.rootUUID != anchor.provider.rootUUID { continue }
                }
                if !search.allowedByAggregates(provider.uuid, group) { continue }
                if !search.satisfies(snapshot.traits, required: group.requiredTraits, forbidden: group.forbiddenTraits) { continue }
                if !group.resources.allSatisfy({ search.fits($0.key, $0.value, on: provider.uuid, checkUnits: false) }) { continue }
                providers.append(provider)
            }
            return JSONResponse.make(status: .ok, ["resource_providers": .array(providers.map { providerJSON($0, version) })])
        }
        router.post("placement/resource_providers", .rule("placement:resource_providers:create")) { request, context in
            let version = context.microversion
            let fields = try JSONFields(try await body(request), path: "")
            var allowed: Set<String> = ["name", "uuid"]
            if version.atLeast(1, 14) { allowed.insert("parent_provider_uuid") }
            try fields.rejectUnknown(allowed)
            let name = try fields.requiredString("name", maxLength: 200)
            var uuid = Identifier.uuid()
            if let given = try fields.string("uuid") {
                guard let normalized = PlacementAPI.normalizedUUID(given) else {
                    throw PlacementFault.badRequest("JSON does not validate: '\(given)' is not a 'uuid'")
                }
                uuid = normalized
            }
            let parent = try parentUUID(fields)
            let provider = try await store.createProvider(uuid: uuid, name: name, parentUUID: parent)
            let location = baseURL() + "/placement/resource_providers/\(uuid)"
            if version.atLeast(1, 20) {
                return JSONResponse.make(status: .ok, providerJSON(provider, version), headers: [.location: location])
            }
            return JSONResponse.empty(.created, headers: [.location: location])
        }
        router.get("placement/resource_providers/:uuid", .rule("placement:resource_providers:show")) { _, context in
            let provider = try await store.provider(try uuidParameter(context))
            return JSONResponse.make(status: .ok, providerJSON(provider, context.microversion))
        }
        router.put("placement/resource_providers/:uuid", .rule("placement:resource_providers:update")) { request, context in
            let version = context.microversion
            let uuid = try uuidParameter(context)
            let fields = try JSONFields(try await body(request), path: "")
            var allowed: Set<String> = ["name"]
            if version.atLeast(1, 14) { allowed.insert("parent_provider_uuid") }
            try fields.rejectUnknown(allowed)
            let current = try await store.provider(uuid)
            let name = try fields.requiredString("name", maxLength: 200)
            let parent = fields.has("parent_provider_uuid") ? try parentUUID(fields) : current.parentUUID
            let updated = try await store.updateProvider(
                uuid: uuid, name: name, parentUUID: parent, allowReparent: version.atLeast(1, 37))
            return JSONResponse.make(status: .ok, providerJSON(updated, version))
        }
        router.delete("placement/resource_providers/:uuid", .rule("placement:resource_providers:delete")) { _, context in
            try await store.deleteProvider(uuid: try uuidParameter(context))
            return JSONResponse.empty()
        }
    }

    func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }

    private func parentUUID(_ fields: JSONFields) throws -> String? {
        guard let given = try fields.string("parent_provider_uuid", nullable: true) else { return nil }
        guard let normalized = PlacementAPI.normalizedUUID(given) else {
            throw PlacementFault.badRequest("JSON does not validate: '\(given)' is not a 'uuid'")
        }
        return normalized
    }
}
