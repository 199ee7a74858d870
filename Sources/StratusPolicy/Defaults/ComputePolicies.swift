/// Nova's policy-in-code (nova/policies), current defaults with `enforce_new_defaults`: admin, project member,
/// project reader, service.
public enum ComputePolicies {
    static let admin = "rule:context_is_admin"
    static let memberOrAdmin = "rule:project_member_or_admin"
    static let readerOrAdmin = "rule:project_reader_or_admin"
    static let anyone = "@"

    public static let rules: [PolicyRule] = base + servers + serverExtras + flavors + administration

    static let base: [PolicyRule] = [
        PolicyRule("context_is_admin", "role:admin", "Decides what is an administrator (nova/policies/base.py)."),
        PolicyRule("admin_api", "role:admin", "Default rule for most administrative APIs."),
        PolicyRule("project_member_api", "role:member and project_id:%(project_id)s", "A member of the target's project."),
        PolicyRule("project_reader_api", "role:reader and project_id:%(project_id)s", "A reader of the target's project."),
        PolicyRule("project_member_or_admin", "rule:project_member_api or rule:context_is_admin", "Project member or admin."),
        PolicyRule("project_reader_or_admin", "rule:project_reader_api or rule:context_is_admin", "Project reader or admin."),
        PolicyRule("service_api", "role:service", "Default rule for service-to-service APIs."),
    ]

    static let servers: [PolicyRule] = [
        PolicyRule("os_compute_api:servers:index", readerOrAdmin, "List servers."),
        PolicyRule("os_compute_api:servers:detail", readerOrAdmin, "List servers with details."),
        PolicyRule("os_compute_api:servers:index:get_all_tenants", admin, "List servers of all projects (all_tenants)."),
        PolicyRule("os_compute_api:servers:detail:get_all_tenants", admin, "List servers with details of all projects."),
        PolicyRule("os_compute_api:servers:allow_all_filters", admin, "Filter the server list by every attribute (host, node…)."),
        PolicyRule("os_compute_api:servers:show", readerOrAdmin, "Show a server."),
        PolicyRule("os_compute_api:servers:show:host_status", admin, "Show a server's host_status."),
        PolicyRule("os_compute_api:servers:create", memberOrAdmin, "Create a server."),
        PolicyRule("os_compute_api:servers:create:forced_host", admin, "Create a server on a named host or node."),
        PolicyRule("os_compute_api:servers:update", memberOrAdmin, "Update a server."),
        PolicyRule("os_compute_api:servers:delete", memberOrAdmin, "Delete a server."),
        PolicyRule("os_compute_api:servers:start", memberOrAdmin, "Start a server."),
        PolicyRule("os_compute_api:servers:stop", memberOrAdmin, "Stop a server."),
        PolicyRule("os_compute_api:servers:reboot", memberOrAdmin, "Reboot a server."),
        PolicyRule("os_compute_api:os-pause-server:pause", memberOrAdmin, "Pause a server."),
        PolicyRule("os_compute_api:os-pause-server:unpause", memberOrAdmin, "Unpause a server."),
        PolicyRule("os_compute_api:os-suspend-server:suspend", memberOrAdmin, "Suspend a server."),
        PolicyRule("os_compute_api:os-suspend-server:resume", memberOrAdmin, "Resume a suspended server."),
        PolicyRule("os_compute_api:os-lock-server:lock", memberOrAdmin, "Lock a server."),
        PolicyRule("os_compute_api:os-lock-server:unlock", memberOrAdmin, "Unlock a server."),
        PolicyRule("os_compute_api:os-lock-server:unlock:unlock_override", admin, "Unlock a server locked by someone else."),
        PolicyRule("os_compute_api:os-admin-actions:reset_state", admin, "Reset a server's state."),
        PolicyRule("os_compute_api:os-deferred-delete:force", memberOrAdmin, "Force-delete a server."),
        PolicyRule("os_compute_api:os-console-output", memberOrAdmin, "Show a server's console output."),
        PolicyRule("os_compute_api:os-extended-server-attributes", admin, "Show a server's extended attributes."),
    ]

    static let serverExtras: [PolicyRule] = [
        PolicyRule("os_compute_api:server-metadata:index", readerOrAdmin, "List a server's metadata."),
        PolicyRule("os_compute_api:server-metadata:show", readerOrAdmin, "Show one metadata item of a server."),
        PolicyRule("os_compute_api:server-metadata:create", memberOrAdmin, "Add metadata items to a server."),
        PolicyRule("os_compute_api:server-metadata:update_all", memberOrAdmin, "Replace a server's metadata."),
        PolicyRule("os_compute_api:server-metadata:update", memberOrAdmin, "Set one metadata item of a server."),
        PolicyRule("os_compute_api:server-metadata:delete", memberOrAdmin, "Delete one metadata item of a server."),
        PolicyRule("os_compute_api:os-server-tags:index", readerOrAdmin, "List a server's tags."),
        PolicyRule("os_compute_api:os-server-tags:show", readerOrAdmin, "Check one tag of a server."),
        PolicyRule("os_compute_api:os-server-tags:update_all", memberOrAdmin, "Replace a server's tags."),
        PolicyRule("os_compute_api:os-server-tags:delete_all", memberOrAdmin, "Delete every tag of a server."),
        PolicyRule("os_compute_api:os-server-tags:update", memberOrAdmin, "Add one tag to a server."),
        PolicyRule("os_compute_api:os-server-tags:delete", memberOrAdmin, "Delete one tag of a server."),
        PolicyRule("os_compute_api:os-instance-actions:list", readerOrAdmin, "List a server's actions."),
        PolicyRule("os_compute_api:os-instance-actions:show", readerOrAdmin, "Show one action of a server."),
        PolicyRule("os_compute_api:os-instance-actions:events", admin, "Show the events of an action."),
        PolicyRule("os_compute_api:os-instance-actions:events:details", admin, "Show the details of action events."),
        PolicyRule("os_compute_api:os-compute-agent", "rule:service_api", "Stratus addition: the compute agents' channel (claim, ack, report)."),
        PolicyRule("os_compute_api:os-server-external-events:create", "rule:service_api or rule:context_is_admin", "Send external events (network-vif-plugged…) to servers."),
        PolicyRule("os_compute_api:os-server-groups:index", readerOrAdmin, "List server groups."),
        PolicyRule("os_compute_api:os-server-groups:index:all_projects", admin, "List the server groups of all projects."),
        PolicyRule("os_compute_api:os-server-groups:show", readerOrAdmin, "Show a server group."),
        PolicyRule("os_compute_api:os-server-groups:create", "rule:project_member_api", "Create a server group."),
        PolicyRule("os_compute_api:os-server-groups:delete", memberOrAdmin, "Delete a server group."),
        PolicyRule("os_compute_api:os-keypairs:index", "(rule:context_is_admin) or user_id:%(user_id)s", "List key pairs."),
        PolicyRule("os_compute_api:os-keypairs:show", "(rule:context_is_admin) or user_id:%(user_id)s", "Show a key pair."),
        PolicyRule("os_compute_api:os-keypairs:create", "(rule:context_is_admin) or user_id:%(user_id)s", "Create or import a key pair."),
        PolicyRule("os_compute_api:os-keypairs:delete", "(rule:context_is_admin) or user_id:%(user_id)s", "Delete a key pair."),
    ]

    static let flavors: [PolicyRule] = [
        PolicyRule("os_compute_api:flavors:index", anyone, "Stratus: list flavors (Nova has no rule)."),
        PolicyRule("os_compute_api:flavors:show", anyone, "Stratus: show a flavor (Nova has no rule)."),
        PolicyRule("os_compute_api:os-flavor-manage:create", admin, "Create a flavor."),
        PolicyRule("os_compute_api:os-flavor-manage:update", admin, "Update a flavor's description."),
        PolicyRule("os_compute_api:os-flavor-manage:delete", admin, "Delete a flavor."),
        PolicyRule("os_compute_api:os-flavor-extra-specs:index", readerOrAdmin, "List a flavor's extra specs."),
        PolicyRule("os_compute_api:os-flavor-extra-specs:show", readerOrAdmin, "Show one extra spec of a flavor."),
        PolicyRule("os_compute_api:os-flavor-extra-specs:create", admin, "Add extra specs to a flavor."),
        PolicyRule("os_compute_api:os-flavor-extra-specs:update", admin, "Set one extra spec of a flavor."),
        PolicyRule("os_compute_api:os-flavor-extra-specs:delete", admin, "Delete one extra spec of a flavor."),
        PolicyRule("os_compute_api:os-flavor-access", admin, "List the projects with access to a private flavor."),
        PolicyRule("os_compute_api:os-flavor-access:add_tenant_access", admin, "Give a project access to a private flavor."),
        PolicyRule("os_compute_api:os-flavor-access:remove_tenant_access", admin, "Take a project's access to a private flavor."),
    ]

    static let administration: [PolicyRule] = [
        PolicyRule("os_compute_api:os-quota-sets:show", readerOrAdmin, "Show a project's quotas."),
        PolicyRule("os_compute_api:os-quota-sets:detail", readerOrAdmin, "Show a project's quotas with usage."),
        PolicyRule("os_compute_api:os-quota-sets:defaults", anyone, "Show the default quotas."),
        PolicyRule("os_compute_api:os-quota-sets:update", admin, "Update a project's quotas."),
        PolicyRule("os_compute_api:os-quota-sets:delete", admin, "Revert a project's quotas to the defaults."),
        PolicyRule("os_compute_api:limits", anyone, "Show the caller's limits and usage."),
        PolicyRule("os_compute_api:limits:other_project", admin, "Show another project's limits."),
        PolicyRule("os_compute_api:os-services:list", admin, "List compute services."),
        PolicyRule("os_compute_api:os-services:update", admin, "Enable, disable or force down a compute service."),
        PolicyRule("os_compute_api:os-services:delete", admin, "Delete a compute service."),
        PolicyRule("os_compute_api:os-hypervisors:list", admin, "List hypervisors."),
        PolicyRule("os_compute_api:os-hypervisors:list-detail", admin, "List hypervisors with details."),
        PolicyRule("os_compute_api:os-hypervisors:show", admin, "Show a hypervisor."),
        PolicyRule("os_compute_api:os-hypervisors:servers", admin, "List the servers of a hypervisor."),
        PolicyRule("os_compute_api:os-aggregates:index", admin, "List host aggregates."),
        PolicyRule("os_compute_api:os-aggregates:create", admin, "Create a host aggregate."),
        PolicyRule("os_compute_api:os-aggregates:show", admin, "Show a host aggregate."),
        PolicyRule("os_compute_api:os-aggregates:update", admin, "Update a host aggregate."),
        PolicyRule("os_compute_api:os-aggregates:delete", admin, "Delete a host aggregate."),
        PolicyRule("os_compute_api:os-aggregates:add_host", admin, "Add a host to an aggregate."),
        PolicyRule("os_compute_api:os-aggregates:remove_host", admin, "Remove a host from an aggregate."),
        PolicyRule("os_compute_api:os-aggregates:set_metadata", admin, "Set an aggregate's metadata."),
        PolicyRule("os_compute_api:os-availability-zone:list", anyone, "List availability zones."),
        PolicyRule("os_compute_api:os-availability-zone:detail", admin, "List availability zones with their hosts."),
    ]
}
