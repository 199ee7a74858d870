import Hummingbird
import StratusCore
import StratusIdentity
import StratusPlacement

/// The Placement API at `/placement`, microversions 1.0 to 1.39.
public struct PlacementAPI: Sendable {
    public static let minimum = Microversion(1, 0)
    public static let maximum = Microversion(1, 39)

    let store: PlacementStore
    let bodyLimit: Int
    let randomizeCandidates: Bool
    /// `http://host:port`, known once the listener is bound; Location headers are absolute, as webob makes them.
    let baseURL: @Sendable () -> String

    public init(store: PlacementStore, bodyLimit: Int, randomizeCandidates: Bool, baseURL: @escaping @Sendable () -> String) {
        self.store = store
        self.baseURL = baseURL
        self.bodyLimit = bodyLimit
        self.randomizeCandidates = randomizeCandidates
    }

    public static func microversions() -> MicroversionMiddleware {
        MicroversionMiddleware(service: "placement", pathPrefix: "/placement", minimum: minimum, maximum: maximum)
    }

    public func register(on router: PolicedRouter) {
        router.get("placement", .open) { _, _ in
            JSONResponse.make(status: .ok, ["versions": [[
                "id": "v1.0", "min_version": .string(Self.minimum.description), "max_version": .string(Self.maximum.description),
                "status": "CURRENT", "links": [["rel": "self", "href": ""]],
            ]]])
        }
        registerProviders(on: router)
        registerInventories(on: router)
        registerTraitsAndClasses(on: router)
        registerAllocations(on: router)
        registerCandidates(on: router)
        registerReshaper(on: router)
    }

    // MARK: Shared helpers

    /// Routes that exist only from `major.minor` answer 404 below it, as Placement does.
    func require(_ context: StratusRequestContext, _ major: Int, _ minor: Int) throws {
        guard context.microversion.atLeast(major, minor) else {
            throw PlacementFault.notFound("The resource could not be found.")
        }
    }

    func body(_ request: Request) async throws -> JSON {
        try await request.jsonObject(limit: bodyLimit)
    }

    /// Refuses query parameters outside `allowed` (and, for granular requests, `prefix` + suffix), as
    /// Placement's per-microversion schemas do.
    func checkQuery(_ request: Request, allowed: Set<String>, granularPrefixes: [String] = []) throws {
        for (key, _) in request.uri.queryParameters {
            let name = String(key)
            if allowed.contains(name) { continue }
            if granularPrefixes.contains(where: { name.hasPrefix($0) && name.count > $0.count }) { continue }
            throw PlacementFault.badRequest(
                "Invalid query string parameters: Additional properties are not allowed ('\(name)' was unexpected)")
        }
    }

    func queryValues(_ request: Request, _ name: String) -> [String] {
        request.uri.queryParameters.getAll(name).map { String($0) }
    }

    func uuidParameter(_ context: StratusRequestContext, _ name: String = "uuid") throws -> String {
        let value = try context.parameters.require(name)
        guard Self.isUUID(value) else {
            throw PlacementFault.notFound("No resource provider with uuid \(value) found", code: "placement.resource_provider.not_found")
        }
        return value.lowercased()
    }

    static func isUUID(_ text: String) -> Bool {
        let hex = text.replacingOccurrences(of: "-", with: "")
        return hex.count == 32 && hex.allSatisfy(\.isHexDigit) && (text.count == 32 || text.count == 36)
    }

    /// Normalises a UUID to the dashed lowercase form.
    static func normalizedUUID(_ text: String) -> String? {
        guard isUUID(text) else { return nil }
        let hex = Array(text.replacingOccurrences(of: "-", with: "").lowercased())
        return String(hex[0..<8]) + "-" + String(hex[8..<12]) + "-" + String(hex[12..<16]) + "-" + String(hex[16..<20]) + "-" + String(hex[20..<32])
    }

    func providerJSON(_ provider: ResourceProvider, _ version: Microversion) -> JSON {
        let base = "/placement/resource_providers/\(provider.uuid)"
        var links: [JSON] = [["rel": "self", "href": .string(base)], ["rel": "inventories", "href": .string(base + "/inventories")],
                             ["rel": "usages", "href": .string(base + "/usages")]]
        if version.atLeast(1, 1) { links.append(["rel": "aggregates", "href": .string(base + "/aggregates")]) }
        if version.atLeast(1, 6) { links.append(["rel": "traits", "href": .string(base + "/traits")]) }
        if version.atLeast(1, 11) { links.append(["rel": "allocations", "href": .string(base + "/allocations")]) }
        var body: [String: JSON] = ["uuid": .string(provider.uuid), "name": .string(provider.name),
                                    "generation": .int(provider.generation), "links": .array(links)]
        if version.atLeast(1, 14) {
            body["parent_provider_uuid"] = .optional(provider.parentUUID)
            body["root_provider_uuid"] = .string(provider.rootUUID)
        }
        return .object(body)
    }

    static func inventoryJSON(_ inventory: Inventory) -> [String: JSON] {
        ["total": .int(inventory.total), "reserved": .int(inventory.reserved), "min_unit": .int(inventory.minUnit),
         "max_unit": .int(inventory.maxUnit), "step_size": .int(inventory.stepSize),
         "allocation_ratio": .number(inventory.allocationRatio)]
    }

    static func resourcesJSON(_ resources: [String: Int]) -> JSON {
        .object(resources.mapValues { .int($0) })
    }
}
