/// Placement's policy-in-code (placement/policies), current defaults: admin or service role.
public enum PlacementPolicies {
    static let adminOrService = "rule:admin_or_service"

    public static let rules: [PolicyRule] = [
        PolicyRule("admin_api", "role:admin", "Default rule for most placement APIs."),
        PolicyRule("service_api", "role:service", "Default rule for service-to-service placement APIs."),
        PolicyRule("admin_or_service", "rule:admin_api or rule:service_api", "Admin or service."),
    ] + [
        ("resource_providers", ["list", "create", "show", "update", "delete"]),
        ("resource_providers:inventories", ["list", "create", "show", "update", "delete"]),
        ("resource_providers:aggregates", ["list", "update"]),
        ("resource_providers:traits", ["list", "update", "delete"]),
        ("resource_providers:usages", [""]),
        ("resource_providers:allocations", ["list"]),
        ("resource_classes", ["list", "create", "show", "update", "delete"]),
        ("traits", ["list", "show", "update", "delete"]),
        ("allocations", ["list", "manage", "update", "delete"]),
        ("allocation_candidates", ["list"]),
        ("usages", [""]),
        ("reshaper", ["reshape"]),
    ].flatMap(rules)

    /// `placement:RESOURCE:VERB` for each verb (`placement:RESOURCE` for the empty verb).
    static func rules(_ resource: String, _ verbs: [String]) -> [PolicyRule] {
        verbs.map { verb -> PolicyRule in
            let name: String = verb.isEmpty ? "placement:\(resource)" : "placement:\(resource):\(verb)"
            let what: String = resource.split(separator: ":").joined(separator: " ")
            return PolicyRule(name, check(name), "\(verb.isEmpty ? "show" : verb) \(what)")
        }
    }

    /// Admin or service; usages also for readers of the project asked about; the reshaper service-only, as Placement.
    static func check(_ name: String) -> String {
        switch name {
        case "placement:reshaper:reshape": return "rule:service_api"
        case "placement:usages": return adminOrService + " or (role:reader and project_id:%(project_id)s)"
        default: return adminOrService
        }
    }
}
