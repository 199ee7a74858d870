import Crypto
import Foundation
import Logging
import StratusAPI
import StratusCompute
import StratusCore
import StratusIdentity
import StratusPlacement
import StratusPolicy
import StratusQueue
import StratusStorage

/// `stratus policy list`: every rule with its default (and the override in force), and the routes that check it,
/// as oslopolicy-sample-generator prints them; or the same as the Markdown table of docs/security.md.
public enum PolicyCatalog {
    public enum Format: String, Sendable { case yaml, markdown }

    public static func render(_ config: CloudConfig, format: Format, logger: Logger) async throws -> String {
        let policy = try PolicySetup.enforcer(config)
        let routes = try await routeTable(config, policy: policy, logger: logger)
        var operations: [String: [String]] = [:]
        for route in routes {
            for (action, rule) in route.rules {
                operations[rule, default: []].append(route.description + (action.isEmpty ? "" : " {\"\(action)\": …}"))
            }
        }
        var lines: [String] = []
        if format == .markdown {
            lines.append("| rule | default | routes |")
            lines.append("|---|---|---|")
        }
        for (service, rules) in OpenStackPolicies.services {
            if format == .yaml { lines.append("# ---- \(service) ----") }
            for rule in rules {
                let routes = operations[rule.name] ?? []
                if format == .markdown {
                    let check = rule.defaultCheck.isEmpty ? "(any token)" : rule.defaultCheck
                    lines.append("| `\(rule.name)` | `\(check.replacingOccurrences(of: "|", with: "\\|"))` | \(routes.map { "`\($0)`" }.joined(separator: "<br>")) |")
                    continue
                }
                lines.append("# \(rule.description)")
                for route in routes { lines.append("# \(route)") }
                let effective = policy.effective[rule.name] ?? rule.defaultCheck
                if let line = policy.overridden[rule.name] {
                    lines.append("\"\(rule.name)\": \"\(effective)\"   # overridden in \(config.policyFile), line \(line); default \"\(rule.defaultCheck)\"")
                } else {
                    lines.append("#\"\(rule.name)\": \"\(rule.defaultCheck)\"")
                }
                lines.append("")
            }
        }
        let open = routes.filter(\.isOpen).map(\.description)
        lines.append(format == .markdown ? "\nRoutes served without a token: " + open.map { "`\($0)`" }.joined(separator: ", ") + "."
                                         : "# Served without a token: " + open.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    /// The routes of the listener, registered against a throwaway database that is never migrated or queried.
    static func routeTable(_ config: CloudConfig, policy: PolicyEnforcer, logger: Logger) async throws -> [RouteEntry] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stratus-policy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await Storage.withStorage(.sqlite(path: directory + "/routes.sqlite"), maxConnections: 1, logger: logger) { storage in
            let identity = IdentityService(storage: storage, tokenKey: SymmetricKey(size: .bits256), settings: .init())
            let catalog = ServiceCatalog(baseURL: "http://localhost", region: "RegionOne", services: [])
            let queue = Queue(storage: storage, settings: config.queueSettings)
            let compute = ComputeParts(flavors: FlavorStore(storage: storage), instances: InstanceStore(storage: storage),
                                       hosts: HostStore(storage: storage), queue: queue)
            let table = RouteTable()
            _ = AllInOneCloud.makeRouter(config: config, identity: identity, catalog: catalog, placement: PlacementStore(storage: storage),
                                         compute: compute, policy: policy, routes: table)
            return table.routes
        }
    }
}
