import Hummingbird
import StratusCore
import StratusPlacement

/// Parses the query language shared by `GET /resource_providers` and `GET /allocation_candidates`:
/// `resources`, `required` (with `!forbidden` and `in:` any-of), `member_of` (with `in:` and `!`), `in_tree`,
/// their suffixed forms, `group_policy`, `limit`, `root_required` and `same_subtree`, each from the microversion
/// that introduced it.
struct CandidateParser {
    let version: Microversion
    let request: Request

    init(version: Microversion, request: Request) throws {
        self.version = version
        self.request = request
    }

    func values(_ name: String) -> [String] { request.uri.queryParameters.getAll(name).map { String($0) } }

    /// The suffixes of granular groups present in the query (`resources1`, `required_NET`, …).
    func suffixes() throws -> [String] {
        var found: Set<String> = []
        for (key, _) in request.uri.queryParameters {
            let name = String(key)
            for prefix in ["resources", "required", "member_of", "in_tree"] where name.hasPrefix(prefix) && name.count > prefix.count {
                let suffix = String(name.dropFirst(prefix.count))
                let valid = version.atLeast(1, 33)
                    ? suffix.count <= 64 && suffix.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
                    : suffix.allSatisfy(\.isNumber)
                guard valid else {
                    throw PlacementFault.badRequest("Invalid query string parameters: '\(name)' is not a valid request group name.")
                }
                found.insert(suffix)
            }
        }
        return found.sorted()
    }

    /// Fills one group from `resources{suffix}`, `required{suffix}`, `member_of{suffix}`, `in_tree{suffix}`.
    func fill(_ group: inout RequestGroup, suffix: String) throws {
        for text in values("resources" + suffix) { group.resources.merge(try resources(text), uniquingKeysWith: { $1 }) }
        let required = values("required" + suffix)
        if required.count > 1 && !version.atLeast(1, 39) {
            throw PlacementFault.badRequest("Query parameter 'required\(suffix)' is specified multiple times.", code: "placement.query.duplicate_key")
        }
        for text in required {
            let (all, forbidden) = try traits(text, parameter: "required" + suffix)
            group.requiredTraits += all
            group.forbiddenTraits.formUnion(forbidden)
        }
        let memberOf = values("member_of" + suffix)
        if memberOf.count > 1 && !version.atLeast(1, 24) {
            throw PlacementFault.badRequest("Query parameter 'member_of\(suffix)' is specified multiple times.", code: "placement.query.duplicate_key")
        }
        for text in memberOf {
            if text.hasPrefix("!") {
                guard version.atLeast(1, 32) else { throw badMemberOf(text) }
                let body = String(text.dropFirst())
                let list = body.hasPrefix("in:") ? String(body.dropFirst(3)) : body
                group.forbiddenAggregates.formUnion(try uuids(list, text))
            } else {
                let list = text.hasPrefix("in:") ? String(text.dropFirst(3)) : text
                group.memberOf.append(Set(try uuids(list, text)))
            }
        }
        if let tree = values("in_tree" + suffix).last {
            guard let uuid = PlacementAPI.normalizedUUID(tree) else {
                throw PlacementFault.badRequest("Invalid query string parameters: Expected 'in_tree\(suffix)' parameter to be a format of uuid. Got: \(tree).")
            }
            group.inTree = uuid
        }
    }

    func resources(_ text: String) throws -> [String: Int] {
        var result: [String: Int] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw PlacementFault.badRequest(
                    "Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: \(text).")
            }
            guard let amount = Int(parts[1]), amount > 0 else {
                throw PlacementFault.badRequest("Requested resource \(parts[0]) expected positive integer amount. Got: \(parts[1]).")
            }
            result[String(parts[0])] = amount
        }
        return result
    }

    /// `A,!B,in:C,D`: returns the AND-of-any-of sets and the forbidden traits.
    func traits(_ text: String, parameter: String) throws -> ([Set<String>], Set<String>) {
        if text.hasPrefix("in:") {
            guard version.atLeast(1, 39) else { throw PlacementFault.badRequest("Invalid query string parameters: The 'in:' syntax in '\(parameter)' needs microversion 1.39.") }
            let names = text.dropFirst(3).split(separator: ",").map(String.init)
            guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("!") }) else { throw badTraits(parameter, text) }
            return ([Set(names)], [])
        }
        var required: [Set<String>] = []
        var forbidden: Set<String> = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty, item != "!" else { throw badTraits(parameter, text) }
            if item.hasPrefix("!") {
                guard version.atLeast(1, 22) else { throw badTraits(parameter, text) }
                forbidden.insert(String(item.dropFirst()))
            } else {
                required.append([item])
            }
        }
        return (required, forbidden)
    }

    func uuids(_ list: String, _ original: String) throws -> [String] {
        let items = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return try items.map { item in
            guard let uuid = PlacementAPI.normalizedUUID(item) else { throw badMemberOf(original) }
            return uuid
        }
    }

    func badMemberOf(_ text: String) -> StratusError {
        PlacementFault.badRequest("Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: \(text)")
    }

    func badTraits(_ parameter: String, _ text: String) -> StratusError {
        PlacementFault.badRequest("Invalid query string parameters: Expected '\(parameter)' parameter value of the form: HW_CPU_X86_VMX,!CUSTOM_MAGIC. Got: \(text)")
    }
}

extension PlacementAPI {
    /// Unknown resource classes and traits named in a query are 400, as in Placement.
    func checkVocabulary(_ groups: [RequestGroup], extraTraits: Set<String> = []) async throws {
        for group in groups {
            for resourceClass in group.resources.keys.sorted() where !(try await store.resourceClassExists(resourceClass)) {
                throw PlacementFault.badRequest("Invalid resource class in resources parameter: No such resource class \(resourceClass).")
            }
        }
        var names = extraTraits
        for group in groups {
            names.formUnion(group.forbiddenTraits)
            for set in group.requiredTraits { names.formUnion(set) }
        }
        let known = try await store.knownTraits(names)
        if let missing = names.subtracting(known).sorted().first {
            throw PlacementFault.badRequest("No such trait(s): \(missing)")
        }
    }
}
