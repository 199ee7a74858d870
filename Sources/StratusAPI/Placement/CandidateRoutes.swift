import Hummingbird
import StratusCore
import StratusPlacement

extension PlacementAPI {
    func registerCandidates(on router: PolicedRouter) {
        router.get("placement/allocation_candidates", .rule("placement:allocation_candidates:list")) { request, context in
            try require(context, 1, 10)
            let version = context.microversion
            let query = try candidateQuery(request, version)
            try await checkVocabulary(query.groups, extraTraits: Set(query.rootRequired.flatMap { $0 }).union(query.rootForbidden))
            let state = store.index.current()
            let result = CandidateSearch(state: state, query: query).run()
            return JSONResponse.bytes(status: .ok, renderBytes(result, query, version, state: state))
        }
    }

    func candidateQuery(_ request: Request, _ version: Microversion) throws -> CandidateQuery {
        var allowed: Set<String> = ["resources"]
        var prefixes: [String] = []
        if version.atLeast(1, 16) { allowed.insert("limit") }
        if version.atLeast(1, 17) { allowed.insert("required") }
        if version.atLeast(1, 21) { allowed.insert("member_of") }
        if version.atLeast(1, 25) {
            allowed.insert("group_policy")
            prefixes += ["resources", "required", "member_of"]
        }
        if version.atLeast(1, 31) {
            allowed.insert("in_tree")
            prefixes.append("in_tree")
        }
        if version.atLeast(1, 35) { allowed.insert("root_required") }
        if version.atLeast(1, 36) { allowed.insert("same_subtree") }
        try checkQuery(request, allowed: allowed, granularPrefixes: prefixes)

        let parser = try CandidateParser(version: version, request: request)
        var query = CandidateQuery()
        query.randomize = randomizeCandidates
        query.nestedAware = version.atLeast(1, 29)
        var unsuffixed = RequestGroup(suffix: "")
        try parser.fill(&unsuffixed, suffix: "")
        if !unsuffixed.resources.isEmpty || !unsuffixed.requiredTraits.isEmpty || !unsuffixed.forbiddenTraits.isEmpty
            || !unsuffixed.memberOf.isEmpty || unsuffixed.inTree != nil {
            query.groups.append(unsuffixed)
        }
        let suffixes = version.atLeast(1, 25) ? try parser.suffixes() : []
        for suffix in suffixes {
            var group = RequestGroup(suffix: suffix)
            try parser.fill(&group, suffix: suffix)
            if group.resources.isEmpty && !version.atLeast(1, 33) {
                throw PlacementFault.badRequest("All request groups must specify resources.")
            }
            query.groups.append(group)
        }
        guard query.groups.contains(where: { !$0.resources.isEmpty }) else {
            throw PlacementFault.badRequest("Invalid query string parameters: 'resources' is a required property")
        }
        if unsuffixed.resources.isEmpty && !unsuffixed.requiredTraits.isEmpty && !version.atLeast(1, 33) {
            throw PlacementFault.badRequest("All request groups must specify resources.")
        }
        if let policy = parser.values("group_policy").last {
            guard policy == "none" || policy == "isolate" else {
                throw PlacementFault.badRequest("Invalid query string parameters: '\(policy)' is not one of ['none', 'isolate']")
            }
            query.isolate = policy == "isolate"
        } else if suffixes.count > 1 {
            throw PlacementFault.badRequest(
                "The \"group_policy\" parameter is required when specifying more than one \"resources{N}\" parameter.")
        }
        if let limit = parser.values("limit").last {
            guard let value = Int(limit), value > 0 else {
                throw PlacementFault.badRequest("Invalid query string parameters: '\(limit)' is not a positive integer")
            }
            query.limit = value
        }
        for text in parser.values("root_required") {
            let (required, forbidden) = try parser.traits(text, parameter: "root_required")
            query.rootRequired += required
            query.rootForbidden.formUnion(forbidden)
        }
        for text in parser.values("same_subtree") {
            let names = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for name in names where !suffixes.contains(name) {
                throw PlacementFault.badRequest("Real suffixes should be specified in same_subtree: '\(name)' is not a request group suffix.")
            }
            query.sameSubtree.append(names)
        }
        return query
    }

    /// The response written straight to bytes: a thousand candidates are ~400 KB of JSON, and building `JSON`
    /// values first cost four times the search itself.
    public func renderBytes(_ result: CandidateResult, _ query: CandidateQuery, _ version: Microversion,
                            state: PlacementIndex.State) -> [UInt8] {
        var out = JSONWriter(capacity: 256 + result.requests.count * 200 + result.summaryProviders.count * 300)
        out.beginObject()
        out.key("allocation_requests")
        out.beginArray()
        // The common answer — one group, each candidate a single provider — is spliced from pre-built pieces.
        var single: (resources: [UInt8], mappings: Bool)?
        if version.atLeast(1, 12), query.groups.count == 1, query.groups[0].isUnsuffixed {
            var resources = JSONWriter(capacity: 64)
            writeResources(query.groups[0].resources, &resources)
            single = (resources.bytes, version.atLeast(1, 34))
        }
        for request in result.requests {
            if let single, request.allocations.count == 1, let uuid = request.allocations.keys.first {
                var piece: [UInt8] = Array("{\"allocations\":{\"".utf8)
                piece.append(contentsOf: uuid.utf8)
                piece.append(contentsOf: "\":{\"resources\":".utf8)
                piece.append(contentsOf: single.resources)
                piece.append(contentsOf: "}}".utf8)
                if single.mappings {
                    piece.append(contentsOf: ",\"mappings\":{\"\":[\"".utf8)
                    piece.append(contentsOf: uuid.utf8)
                    piece.append(contentsOf: "\"]}".utf8)
                }
                piece.append(0x7D)
                out.raw(piece)
                continue
            }
            out.beginObject()
            out.key("allocations")
            if version.atLeast(1, 12) {
                out.beginObject()
                for (uuid, resources) in request.allocations.sorted(by: { $0.key < $1.key }) {
                    out.key(uuid)
                    out.beginObject()
                    out.key("resources")
                    writeResources(resources, &out)
                    out.endObject()
                }
                out.endObject()
            } else {
                out.beginArray()
                for (uuid, resources) in request.allocations.sorted(by: { $0.key < $1.key }) {
                    out.beginObject()
                    out.key("resource_provider")
                    out.beginObject(); out.key("uuid"); out.string(uuid); out.endObject()
                    out.key("resources")
                    writeResources(resources, &out)
                    out.endObject()
                }
                out.endArray()
            }
            if version.atLeast(1, 34) {
                out.key("mappings")
                out.beginObject()
                for (suffix, uuids) in request.mappings.sorted(by: { $0.key < $1.key }) {
                    out.key(suffix)
                    out.beginArray()
                    for uuid in uuids { out.string(uuid) }
                    out.endArray()
                }
                out.endObject()
            }
            out.endObject()
        }
        out.endArray()
        out.key("provider_summaries")
        out.beginObject()
        let requestedClasses = Set(query.groups.flatMap { $0.resources.keys })
        for uuid in result.summaryProviders {
            guard let snapshot = state.providers[uuid] else { continue }
            out.key(uuid)
            out.raw(summaryBytes(snapshot, version, requestedClasses))
        }
        out.endObject()
        out.endObject()
        return out.bytes
    }

    /// One provider summary, appended by hand: at thousands of providers it is most of the response.
    private func summaryBytes(_ snapshot: ProviderSnapshot, _ version: Microversion, _ requested: Set<String>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
        append("{\"resources\":{")
        var first = true
        for resourceClass in snapshot.inventories.keys.sorted() where version.atLeast(1, 27) || requested.contains(resourceClass) {
            if !first { bytes.append(0x2C) }
            first = false
            JSON.appendString(resourceClass, to: &bytes)
            append(":{\"capacity\":")
            append(String(snapshot.inventories[resourceClass]!.capacity))
            append(",\"used\":")
            append(String(snapshot.used(resourceClass)))
            bytes.append(0x7D)
        }
        bytes.append(0x7D)
        if version.atLeast(1, 17) {
            append(",\"traits\":[")
            for (i, trait) in snapshot.traits.sorted().enumerated() {
                if i > 0 { bytes.append(0x2C) }
                JSON.appendString(trait, to: &bytes)
            }
            bytes.append(0x5D)
        }
        if version.atLeast(1, 29) {
            append(",\"parent_provider_uuid\":")
            if let parent = snapshot.provider.parentUUID { JSON.appendString(parent, to: &bytes) } else { append("null") }
            append(",\"root_provider_uuid\":")
            JSON.appendString(snapshot.provider.rootUUID, to: &bytes)
        }
        bytes.append(0x7D)
        return bytes
    }

    private func writeResources(_ resources: [String: Int], _ out: inout JSONWriter) {
        out.beginObject()
        for (resourceClass, amount) in resources.sorted(by: { $0.key < $1.key }) {
            out.key(resourceClass)
            out.int(amount)
        }
        out.endObject()
    }

    /// The same response as `JSON` values (tests compare it with the byte writer's output).
    public func render(_ result: CandidateResult, _ query: CandidateQuery, _ version: Microversion) -> JSON {
        let requests: [JSON] = result.requests.map { request in
            var body: [String: JSON] = [:]
            if version.atLeast(1, 12) {
                body["allocations"] = .object(request.allocations.mapValues { ["resources": Self.resourcesJSON($0)] })
            } else {
                body["allocations"] = .array(request.allocations.keys.sorted().map { uuid in
                    ["resource_provider": ["uuid": .string(uuid)], "resources": Self.resourcesJSON(request.allocations[uuid]!)]
                })
            }
            if version.atLeast(1, 34) {
                body["mappings"] = .object(request.mappings.mapValues { .array($0.map { .string($0) }) })
            }
            return .object(body)
        }
        let requestedClasses = Set(query.groups.flatMap { $0.resources.keys })
        let state = store.index.current()
        var summaries: [String: JSON] = [:]
        for uuid in result.summaryProviders {
            guard let snapshot = state.providers[uuid] else { continue }
            var resources: [String: JSON] = [:]
            for (resourceClass, inventory) in snapshot.inventories
            where version.atLeast(1, 27) || requestedClasses.contains(resourceClass) {
                resources[resourceClass] = ["capacity": .int(inventory.capacity), "used": .int(snapshot.used(resourceClass))]
            }
            var summary: [String: JSON] = ["resources": .object(resources)]
            if version.atLeast(1, 17) { summary["traits"] = .array(snapshot.traits.sorted().map { .string($0) }) }
            if version.atLeast(1, 29) {
                summary["parent_provider_uuid"] = .optional(snapshot.provider.parentUUID)
                summary["root_provider_uuid"] = .string(snapshot.provider.rootUUID)
            }
            summaries[uuid] = .object(summary)
        }
        return ["allocation_requests": .array(requests), "provider_summaries": .object(summaries)]
    }
}
