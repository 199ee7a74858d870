import Hummingbird
import StratusCore
import StratusIdentity

/// Keystone v3 at `/identity`: version documents, tokens, and CRUD for projects, users, roles and grants.
public struct IdentityAPI: Sendable {
    let identity: IdentityService
    let render: IdentityRenderer
    let bodyLimit: Int

    public init(identity: IdentityService, catalog: ServiceCatalog, bodyLimit: Int) {
        self.identity = identity
        self.render = IdentityRenderer(catalog: catalog)
        self.bodyLimit = bodyLimit
    }

    var store: IdentityStore { identity.store }

    public func register(on router: PolicedRouter) {
        registerVersions(on: router)
        registerAuth(on: router)
        registerProjects(on: router)
        registerUsers(on: router)
        registerRoles(on: router)
        registerGrants(on: router)
        registerCatalogRecords(on: router)
    }

    // MARK: Versions

    func versionJSON() -> JSON {
        ["id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
         "links": [["rel": "self", "href": .string(render.v3 + "/")]],
         "media-types": [["base": "application/json", "type": "application/vnd.openstack.identity-v3+json"]]]
    }

    func registerVersions(on router: PolicedRouter) {
        router.get("identity", .open) { _, _ in
            JSONResponse.make(status: .multipleChoices, ["versions": ["values": [versionJSON()]]])
        }
        router.get("identity/v3", .open) { _, _ in JSONResponse.make(status: .ok, ["version": versionJSON()]) }
    }

    func boolQuery(_ request: Request, _ name: String) throws -> Bool? {
        guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw StratusError.badRequest("Invalid value for query parameter '\(name)': '\(text)' is not a boolean.")
        }
    }

    func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }
}
