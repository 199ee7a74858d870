/// Every service's rules, in one namespace as Stratus serves all five APIs from one process. Base rules that
/// several services define alike (`context_is_admin`, `admin_api`, `service_api`) are registered once.
public enum OpenStackPolicies {
    /// The services in the order `stratus policy list` prints them.
    public static let services: [(name: String, rules: [PolicyRule])] = [
        ("identity", IdentityPolicies.rules), ("compute", ComputePolicies.rules), ("placement", PlacementPolicies.rules),
        ("image", ImagePolicies.rules), ("network", NetworkPolicies.rules),
    ]

    /// Each rule once; a base rule repeated by a later service must have the same default, or it is a bug here.
    public static let rules: [PolicyRule] = {
        var seen: [String: PolicyRule] = [:]
        var result: [PolicyRule] = []
        for (_, rules) in services {
            for rule in rules {
                if let earlier = seen[rule.name] {
                    precondition(earlier.defaultCheck == rule.defaultCheck, "policy rule \(rule.name) registered with two defaults")
                    continue
                }
                seen[rule.name] = rule
                result.append(rule)
            }
        }
        return result
    }()

    /// The enforcer with the defaults and the overrides of a policy file's text.
    public static func enforcer(policyFile text: String? = nil, path: String = "policy.yaml") throws(PolicyError) -> PolicyEnforcer {
        try PolicyEnforcer(rules: rules, overrides: try text.map { text throws(PolicyError) in try PolicyFile.parse(text, path: path) } ?? [])
    }
}
