/// Keystone's policy-in-code (keystone/common/policies), current defaults. Stratus issues only project-scoped
/// and unscoped tokens, so the `system_scope:all` and domain-scoped branches of Keystone's defaults never pass
/// and are kept only where they document the rule.
public enum IdentityPolicies {
    static let admin = "rule:admin_required"
    static let adminOrSystemReader = "rule:admin_required or (role:reader and system_scope:all)"

    public static let rules: [PolicyRule] = [
        PolicyRule("admin_required", "role:admin", "Decides what is an administrator."),
        PolicyRule("service_role", "role:service", "A service user."),
        PolicyRule("service_or_admin", "rule:admin_required or rule:service_role", "Admin or service."),
        PolicyRule("owner", "user_id:%(user_id)s", "The caller is the target user."),
        PolicyRule("admin_or_owner", "rule:admin_required or rule:owner", "Admin or the target user."),
        PolicyRule("token_subject", "user_id:%(target.token.user_id)s", "The caller owns the subject token."),
        PolicyRule("admin_or_token_subject", "rule:admin_required or rule:token_subject", "Admin or the subject token's owner."),
        PolicyRule("service_admin_or_token_subject", "rule:service_or_admin or rule:token_subject", "Service, admin or the subject token's owner."),
        PolicyRule("identity:validate_token", "rule:service_admin_or_token_subject", "Validate a token (GET /v3/auth/tokens)."),
        PolicyRule("identity:check_token", adminOrSystemReader + " or rule:token_subject", "Check a token (HEAD /v3/auth/tokens)."),
        PolicyRule("identity:revoke_token", "rule:admin_or_token_subject", "Revoke a token (DELETE /v3/auth/tokens)."),
        PolicyRule("identity:get_auth_catalog", "", "The catalog of the caller's token."),
        PolicyRule("identity:get_auth_projects", "", "The projects the caller can scope to (unscoped tokens too)."),
        PolicyRule("identity:get_auth_domains", "", "The domains the caller can scope to."),
        PolicyRule("identity:get_auth_system", "", "The system scopes the caller has."),
        PolicyRule("identity:list_projects", adminOrSystemReader, "List projects."),
        PolicyRule("identity:get_project", adminOrSystemReader + " or project_id:%(target.project.id)s", "Show a project (one's own too)."),
        PolicyRule("identity:create_project", admin, "Create a project."),
        PolicyRule("identity:update_project", admin, "Update a project."),
        PolicyRule("identity:delete_project", admin, "Delete a project."),
        PolicyRule("identity:list_users", adminOrSystemReader, "List users."),
        PolicyRule("identity:get_user", adminOrSystemReader + " or user_id:%(target.user.id)s", "Show a user (oneself too)."),
        PolicyRule("identity:create_user", admin, "Create a user."),
        PolicyRule("identity:update_user", admin, "Update a user."),
        PolicyRule("identity:delete_user", admin, "Delete a user."),
        PolicyRule("identity:list_user_projects", adminOrSystemReader + " or user_id:%(target.user.id)s", "List a user's projects (one's own too)."),
        PolicyRule("identity:list_roles", adminOrSystemReader, "List roles."),
        PolicyRule("identity:get_role", adminOrSystemReader, "Show a role."),
        PolicyRule("identity:create_role", admin, "Create a role."),
        PolicyRule("identity:update_role", admin, "Update a role."),
        PolicyRule("identity:delete_role", admin, "Delete a role."),
        PolicyRule("identity:check_grant", adminOrSystemReader, "Check a role assignment."),
        PolicyRule("identity:list_grants", adminOrSystemReader, "List a user's roles on a project."),
        PolicyRule("identity:create_grant", admin, "Assign a role."),
        PolicyRule("identity:revoke_grant", admin, "Remove a role assignment."),
        PolicyRule("identity:list_role_assignments", adminOrSystemReader, "List role assignments."),
        PolicyRule("identity:list_services", adminOrSystemReader, "List services."),
        PolicyRule("identity:list_endpoints", adminOrSystemReader, "List endpoints."),
        PolicyRule("identity:list_regions", "", "List regions."),
        PolicyRule("identity:list_domains", adminOrSystemReader, "List domains."),
        PolicyRule("identity:get_domain", adminOrSystemReader + " or token.project.domain.id:%(target.domain.id)s", "Show a domain (one's own too)."),
    ]
}
