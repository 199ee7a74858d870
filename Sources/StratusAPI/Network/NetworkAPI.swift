import Foundation
import Hummingbird
import StratusCore
import StratusIdentity
import StratusNetwork

/// The Network API (Neutron v2.0 subset) at `/network`: networks, IPv4 subnets, ports with exact IPAM, security
/// groups and rules. Ports are bookkeeping here: they stay `DOWN` until host networking exists.
public struct NetworkAPI: Sendable {
    let store: NetworkStore
    let bodyLimit: Int
    let baseURL: @Sendable () -> String

    public init(store: NetworkStore, bodyLimit: Int, baseURL: @escaping @Sendable () -> String) {
        self.store = store
        self.bodyLimit = bodyLimit
        self.baseURL = baseURL
    }

    static let extensions: [(alias: String, name: String)] = [
        ("binding", "Port Binding"), ("security-group", "security-group"), ("external-net", "Neutron external network"),
        ("provider", "Provider Network"), ("net-mtu", "Network MTU"), ("standard-attr-description", "standard-attr-description"),
        ("quotas", "Quota management support"),
    ]

    public func register(on router: PolicedRouter) {
        router.get("network", .open) { _, _ in
            JSONResponse.make(status: .ok, ["versions": [["id": "v2.0", "status": "CURRENT",
                                                            "links": [["rel": "self", "href": .string(baseURL() + "/network/v2.0/")]]]]])
        }
        router.get("network/v2.0/extensions", .rule("get_extension")) { _, _ in
            JSONResponse.make(status: .ok, ["extensions": .array(Self.extensions.map {
                ["alias": .string($0.alias), "name": .string($0.name), "description": .string($0.name), "updated": "2013-01-01T00:00:00-00:00", "links": []]
            })])
        }
        registerNetworks(on: router)
        registerSubnets(on: router)
        registerPorts(on: router)
        registerSecurityGroups(on: router)
        registerQuotas(on: router)
    }

    /// Networks a caller may see and use: its own, shared ones, everything for admins.
    func visible(_ network: Network, _ auth: AuthContext) -> Bool {
        auth.isAdmin || network.projectID == auth.projectID || network.shared || network.external
    }

    func visibleNetwork(_ id: String, _ auth: AuthContext) async throws -> Network {
        guard let network = try await store.network(id), visible(network, auth) else { throw NetworkError.notFound("Network", id) }
        return network
    }

    func requireOwner(_ projectID: String, _ auth: AuthContext, _ what: String) throws {
        guard auth.isAdmin || projectID == auth.projectID else {
            throw StratusError.forbidden("(rule:\(what)) is disallowed by policy")
        }
    }

    /// The object under `key`, refusing unknown attributes as Neutron does.
    func body(_ request: Request, _ key: String, allowed: Set<String>) async throws -> JSONFields {
        let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: key)
        for name in fields.object.keys where !allowed.contains(name) {
            throw StratusError.badRequest("Unrecognized attribute(s) '\(name)'")
        }
        return fields
    }

    /// Neutron's list filters: every query parameter that names a field of the resource must match it.
    func filtered(_ items: [JSON], _ request: Request) -> [JSON] {
        let skip: Set<String> = ["fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"]
        var result = items
        for (key, value) in request.uri.queryParameters where !skip.contains(String(key)) {
            let name = String(key), wanted = String(value)
            result = result.filter { item in
                switch item[name] {
                case .string(let text)?: return text == wanted
                case .bool(let flag)?: return String(flag) == wanted.lowercased()
                case .number?: return item[name]?.intValue.map(String.init) == wanted
                case .array(let values)?: return values.contains(.string(wanted))
                default: return true
                }
            }
        }
        return result
    }

    static func timestamps(_ created: Double, _ updated: Double) -> [String: JSON] {
        ["created_at": .string(Clock.iso8601(created)), "updated_at": .string(Clock.iso8601(updated)), "revision_number": 1, "tags": []]
    }
}

extension NetworkAPI {
    /// Neutron's default quotas, shown (read-only; Stratus does not enforce network quotas yet).
    static let quotas: [String: Int] = [
        "network": 100, "subnet": 100, "port": 500, "security_group": 10, "security_group_rule": 100, "router": 10,
        "floatingip": 50, "rbac_policy": 10, "subnetpool": -1,
    ]

    func registerQuotas(on router: PolicedRouter) {
        router.get("network/v2.0/quotas/:project", .rule("get_quota", target: .parameters(["project_id": "project"]))) { _, context in
            _ = try context.requireAuth()
            return JSONResponse.make(status: .ok, ["quota": .object(Self.quotas.mapValues { .int($0) })])
        }
        router.get("network/v2.0/quotas/:project/details", .rule("get_quota", target: .parameters(["project_id": "project"]))) { _, context in
            let auth = try context.requireAuth()
            let project = try context.parameters.require("project")
            guard auth.isAdmin || project == auth.projectID else { throw StratusError.forbidden("(rule:get_quota) is disallowed by policy") }
            let used: [String: Int] = [
                "network": try await store.networks().filter { $0.projectID == project }.count,
                "subnet": try await store.subnets().filter { $0.projectID == project }.count,
                "port": try await store.ports().filter { $0.projectID == project }.count,
                "security_group": try await store.securityGroups(project: project).count,
                "security_group_rule": try await store.securityGroups(project: project).flatMap(\.rules).count,
            ]
            return JSONResponse.make(status: .ok, ["quota": .object(Self.quotas.mapValues { .int($0) }.reduce(into: [:]) { result, entry in
                result[entry.key] = ["limit": entry.value, "used": .int(used[entry.key] ?? 0), "reserved": 0]
            })])
        }
    }
}
