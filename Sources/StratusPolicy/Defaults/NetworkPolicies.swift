/// Neutron's policy-in-code (neutron/conf/policies), current defaults.
public enum NetworkPolicies {
    static let adminOrMember = "rule:admin_only or (role:member and project_id:%(project_id)s)"
    static let adminOrReader = "rule:admin_only or (role:reader and project_id:%(project_id)s)"
    static let admin = "rule:admin_only"

    public static let rules: [PolicyRule] = [
        PolicyRule("context_is_admin", "role:admin", "Decides what is an administrator."),
        PolicyRule("admin_only", "rule:context_is_admin", "Administrators only."),
        PolicyRule("service_api", "role:service", "Service-to-service calls."),
        PolicyRule("get_extension", "@", "Stratus: list API extensions (Neutron has no rule)."),
        PolicyRule("create_network", adminOrMember, "Create a network."),
        PolicyRule("create_network:shared", admin, "Create a shared network."),
        PolicyRule("create_network:router:external", admin, "Create an external network."),
        PolicyRule("create_network:provider:network_type", admin, "Set provider attributes of a new network."),
        PolicyRule("get_network", adminOrReader, "Show networks (shared and external ones are visible to every project)."),
        PolicyRule("update_network", adminOrMember, "Update a network."),
        PolicyRule("update_network:shared", admin, "Change whether a network is shared."),
        PolicyRule("update_network:router:external", admin, "Change whether a network is external."),
        PolicyRule("delete_network", adminOrMember, "Delete a network."),
        PolicyRule("create_subnet", adminOrMember, "Create a subnet (on the caller's network, or as admin)."),
        PolicyRule("get_subnet", adminOrReader, "Show subnets."),
        PolicyRule("update_subnet", adminOrMember, "Update a subnet."),
        PolicyRule("delete_subnet", adminOrMember, "Delete a subnet."),
        PolicyRule("create_port", adminOrMember, "Create a port."),
        PolicyRule("create_port:binding:host_id", admin, "Bind a new port to a host."),
        PolicyRule("get_port", adminOrReader, "Show ports."),
        PolicyRule("update_port", adminOrMember, "Update a port."),
        PolicyRule("update_port:binding:host_id", admin, "Change a port's host binding."),
        PolicyRule("delete_port", adminOrMember, "Delete a port."),
        PolicyRule("create_security_group", adminOrMember, "Create a security group."),
        PolicyRule("get_security_group", adminOrReader, "Show security groups."),
        PolicyRule("delete_security_group", adminOrMember, "Delete a security group."),
        PolicyRule("create_security_group_rule", adminOrMember, "Create a security group rule."),
        PolicyRule("get_security_group_rule", adminOrReader, "Show security group rules."),
        PolicyRule("delete_security_group_rule", adminOrMember, "Delete a security group rule."),
        PolicyRule("get_quota", adminOrReader, "Show a project's network quotas."),
    ]
}
