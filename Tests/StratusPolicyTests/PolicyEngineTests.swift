import StratusPolicy
import Testing

@Suite("Policy engine: oslo.policy's check language, defaults and overrides")
struct PolicyEngineTests {
    static let member = PolicyCredentials(userID: "u1", projectID: "p1", userDomainID: "default", projectDomainID: "default",
                                          roles: ["member", "reader"])
    static let reader = PolicyCredentials(userID: "u2", projectID: "p1", userDomainID: "default", projectDomainID: "default",
                                          roles: ["reader"])
    static let admin = PolicyCredentials(userID: "a", projectID: "admin", userDomainID: "default", projectDomainID: "default",
                                         roles: ["admin", "member", "reader"])
    static let unscoped = PolicyCredentials(userID: "u1", projectID: nil, userDomainID: "default", projectDomainID: nil, roles: [])
    static let service = PolicyCredentials(userID: "nova", projectID: "service", userDomainID: "default", projectDomainID: "default",
                                           roles: ["service"])

    @Test("checks parse with oslo's precedence (not > and > or) and print back")
    func parsing() throws {
        #expect(try PolicyParser.parse("") == .always)
        #expect(try PolicyParser.parse("@") == .always)
        #expect(try PolicyParser.parse("!") == .never)
        #expect(try PolicyParser.parse("role:admin or role:member and project_id:%(project_id)s")
            == .or([.role("admin"), .and([.role("member"), .matchesTarget(credential: "project_id", target: "project_id")])]))
        #expect(try PolicyParser.parse("(role:admin) or (not role:reader)") == .or([.role("admin"), .not(.role("reader"))]))
        #expect(try PolicyParser.parse("'public':%(visibility)s") == .targetEquals(target: "visibility", value: "public"))
        #expect(try PolicyParser.parse("system_scope:all") == .matchesLiteral(credential: "system_scope", value: "all"))
        #expect(try PolicyParser.parse("((rule:a))") == .rule("a"))
    }

    @Test("bad syntax is refused with the reason", arguments: ["role:admin or", "(role:admin", "role:admin)", "admin", "and role:x", "role:", " "])
    func badSyntax(text: String) {
        #expect(throws: PolicyError.self) { try PolicyParser.parse(text) }
    }

    @Test("an unscoped token's missing project never equals a target's missing project")
    func missingNeverMatches() throws {
        let enforcer = try PolicyEnforcer(rules: [PolicyRule("own", "project_id:%(project_id)s", "")])
        #expect(!enforcer.allows("own", Self.unscoped, [:]))
        #expect(enforcer.allows("own", Self.member, ["project_id": "p1"]))
        #expect(!enforcer.allows("own", Self.member, ["project_id": "p2"]))
        #expect(!enforcer.allows("not registered", Self.admin, [:]))
        // Literal comparisons are exact, as oslo's GenericCheck; only role names ignore case.
        let literal = try PolicyEnforcer(rules: [PolicyRule("me", "user_id:U1", ""), PolicyRule("role", "role:MEMBER", "")])
        #expect(!literal.allows("me", Self.member, [:]))
        #expect(literal.allows("role", Self.member, [:]))
    }

    @Test("OpenStack's defaults: readers read, members write, admins administer, services talk to placement")
    func defaults() throws {
        let policy = try OpenStackPolicies.enforcer()
        let own: PolicyTarget = ["project_id": "p1", "user_id": "u1"]
        #expect(policy.allows("os_compute_api:servers:index", Self.reader, own))
        #expect(!policy.allows("os_compute_api:servers:create", Self.reader, own))
        #expect(policy.allows("os_compute_api:servers:create", Self.member, own))
        #expect(!policy.allows("os_compute_api:servers:create", Self.unscoped, [:]))
        #expect(!policy.allows("os_compute_api:servers:create", Self.member, ["project_id": "p2"]))
        #expect(policy.allows("os_compute_api:servers:create", Self.admin, ["project_id": "p2"]))
        #expect(!policy.allows("os_compute_api:servers:index:get_all_tenants", Self.member, own))
        #expect(!policy.allows("create_network", Self.reader, own))
        #expect(!policy.allows("add_image", Self.reader, own))
        #expect(!policy.allows("create_security_group", Self.reader, own))
        #expect(!policy.allows("get_quota", Self.member, ["project_id": "p2"]))
        #expect(policy.allows("placement:resource_providers:list", Self.service, [:]))
        #expect(!policy.allows("placement:resource_providers:list", Self.member, own))
        #expect(policy.allows("os_compute_api:os-server-external-events:create", Self.service, [:]))
        #expect(policy.allows("identity:get_auth_projects", Self.unscoped, [:]))
        #expect(!policy.allows("identity:list_users", Self.member, own))
        #expect(policy.allows("identity:get_user", Self.member, ["target.user.id": "u1"]))
        #expect(!policy.allows("identity:get_user", Self.member, ["target.user.id": "someone"]))
    }

    @Test("a policy file overrides rules; unknown names, bad checks and bad lines stop it, naming the line")
    func overrides() throws {
        let file = """
            # operators' overrides
            "os_compute_api:servers:create": "rule:context_is_admin"
            os_compute_api:servers:index: 'role:admin'   # plain keys with colons, as YAML allows
            """
        let policy = try OpenStackPolicies.enforcer(policyFile: file, path: "/etc/stratus/policy.yaml")
        #expect(!policy.allows("os_compute_api:servers:create", Self.member, ["project_id": "p1"]))
        #expect(policy.allows("os_compute_api:servers:create", Self.admin, ["project_id": "p1"]))
        #expect(!policy.allows("os_compute_api:servers:index", Self.member, ["project_id": "p1"]))
        #expect(policy.overridden["os_compute_api:servers:create"] == 2)

        let unknown = #expect(throws: PolicyError.self) {
            try OpenStackPolicies.enforcer(policyFile: "\n\"os_compute_api:servers:crate\": \"role:admin\"", path: "p.yaml")
        }
        #expect(unknown?.message.contains("p.yaml, line 2") == true)
        #expect(unknown?.message.contains("os_compute_api:servers:crate") == true)
        let syntax = #expect(throws: PolicyError.self) {
            try OpenStackPolicies.enforcer(policyFile: "\"create_network\": \"role:admin or\"", path: "p.yaml")
        }
        #expect(syntax?.message.contains("line 1") == true)
        let dangling = #expect(throws: PolicyError.self) {
            try OpenStackPolicies.enforcer(policyFile: "\"create_network\": \"rule:nothing_here\"", path: "p.yaml")
        }
        #expect(dangling?.message.contains("nothing_here") == true)
        #expect(throws: PolicyError.self) { try OpenStackPolicies.enforcer(policyFile: "just words", path: "p.yaml") }
        #expect(throws: PolicyError.self) {
            try OpenStackPolicies.enforcer(policyFile: "\"context_is_admin\": \"rule:admin_api\"\n\"admin_api\": \"rule:context_is_admin\"", path: "p.yaml")
        }
    }

    @Test("every default parses and every rule reference resolves")
    func defaultsAreSound() throws {
        let policy = try OpenStackPolicies.enforcer()
        #expect(policy.rules.count > 150)
        for rule in policy.rules { _ = try PolicyParser.parse(rule.defaultCheck) }
    }
}
