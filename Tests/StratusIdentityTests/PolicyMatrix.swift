/// The expected answer of every route to each kind of caller under OpenStack's default policy, one row per route
/// (per action for action routes). Columns, in order: no token, garbage token, unscoped token, member of another
/// project, reader, member, admin, service user. `A` allowed (anything but 401/403/5xx; a 400 for the empty test
/// body or a 404 for another user's key pair is still "past the policy"), `U` 401, `F` 403, `H` 404 (the service
/// hides that the object exists).
enum PolicyMatrix {
    static let callers = ["no token", "garbage token", "unscoped", "other project", "reader", "member", "admin", "service"]

    static let open = "AUAAAAAA"          // version documents, token issue: no token needed
    static let anyToken = "UUAAAAAA"      // identity's discovery routes: unscoped tokens too
    static let anyProject = "UUFAAAAA"    // any project-scoped token ("@" rules)
    static let readOwn = "UUFHAAAF"       // reader of the owning project; another project's object is hidden
    static let writeOwn = "UUFHFAAF"      // member of the owning project
    static let listOwn = "UUFAAAAF"       // reader; other projects see their own (empty) list
    static let createOwn = "UUFAFAAF"     // member, in the caller's own project
    static let readProject = "UUFFAAAF"   // reader of the project in the path (quotas, get_project)
    static let admin = "UUFFFFAF"
    static let adminOrService = "UUFFFFAA"
    static let service = "UUFFFFFA"       // the service role alone (compute agents, the reshaper)
    static let keypairs = "UUFAAAAA"      // admin or the key pair's user (others get 404 on a key not theirs)

    static let rows: [String: String] = identity.merging(compute) { $1 }.merging(network) { $1 }
        .merging(image) { $1 }.merging(placement) { $1 }

    static let identity: [String: String] = [
        "GET identity": open, "GET identity/v3": open, "POST identity/v3/auth/tokens": open,
        "POST identity/v3/users/:user_id/password": open,
        // The subject token is a fresh token of the member.
        "GET identity/v3/auth/tokens": "UUFFFAAA", "HEAD identity/v3/auth/tokens": "UUFFFAAF",
        "DELETE identity/v3/auth/tokens": "UUFFFAAF",
        // The catalog needs a project-scoped token (an unscoped one has no catalog to show).
        "GET identity/v3/auth/catalog": "UUFAAAAA", "GET identity/v3/auth/projects": anyToken,
        "GET identity/v3/auth/domains": anyToken, "GET identity/v3/auth/system": anyToken,
        "GET identity/v3/projects": admin, "POST identity/v3/projects": admin,
        "GET identity/v3/projects/:project_id": readProject, "PATCH identity/v3/projects/:project_id": admin,
        "DELETE identity/v3/projects/:project_id": admin,
        "GET identity/v3/users": admin, "POST identity/v3/users": admin,
        // The user in the path is the member: itself or admin.
        "GET identity/v3/users/:user_id": "UUFFFAAF", "GET identity/v3/users/:user_id/projects": "UUFFFAAF",
        "PATCH identity/v3/users/:user_id": admin, "DELETE identity/v3/users/:user_id": admin,
        "GET identity/v3/roles": admin, "POST identity/v3/roles": admin, "GET identity/v3/roles/:role_id": admin,
        "PATCH identity/v3/roles/:role_id": admin, "DELETE identity/v3/roles/:role_id": admin,
        "PUT identity/v3/projects/:project_id/users/:user_id/roles/:role_id": admin,
        "HEAD identity/v3/projects/:project_id/users/:user_id/roles/:role_id": admin,
        "GET identity/v3/projects/:project_id/users/:user_id/roles/:role_id": admin,
        "DELETE identity/v3/projects/:project_id/users/:user_id/roles/:role_id": admin,
        "GET identity/v3/projects/:project_id/users/:user_id/roles": admin,
        "GET identity/v3/role_assignments": admin, "GET identity/v3/services": admin, "GET identity/v3/endpoints": admin,
        "GET identity/v3/regions": anyToken, "GET identity/v3/domains": admin,
        "GET identity/v3/domains/:domain_id": "UUFAAAAA",
    ]

    static let serverActions: [String: String] = [
        "os-stop": writeOwn, "os-start": writeOwn, "reboot": writeOwn, "pause": writeOwn, "unpause": writeOwn,
        "suspend": writeOwn, "resume": writeOwn, "lock": writeOwn, "unlock": writeOwn, "os-getConsoleOutput": writeOwn,
        // Refused by rule before the server is looked up, so another project learns nothing either way.
        "os-resetState": admin, "forceDelete": writeOwn, "os-forceDelete": writeOwn, "migrate": admin,
        "resize": writeOwn, "confirmResize": writeOwn, "revertResize": writeOwn, "os-migrateLive": admin, "evacuate": admin, "createImage": writeOwn,
    ]

    static let compute: [String: String] = {
        var rows: [String: String] = [
            "GET compute": open, "GET compute/v2.1": open,
            "GET compute/v2.1/servers": listOwn, "GET compute/v2.1/servers/detail": listOwn,
            "POST compute/v2.1/servers": createOwn, "GET compute/v2.1/servers/:id": readOwn,
            "PUT compute/v2.1/servers/:id": writeOwn, "DELETE compute/v2.1/servers/:id": writeOwn,
            "GET compute/v2.1/servers/:id/os-instance-actions": readOwn,
            "GET compute/v2.1/servers/:id/os-instance-actions/:request_id": readOwn,
            // Bodies are validated before the server is looked up (Nova's schemas run first): another project's
            // member gets the 400 for the empty test body.
            "GET compute/v2.1/servers/:id/metadata": readOwn, "POST compute/v2.1/servers/:id/metadata": createOwn,
            "PUT compute/v2.1/servers/:id/metadata": createOwn, "GET compute/v2.1/servers/:id/metadata/:key": readOwn,
            "PUT compute/v2.1/servers/:id/metadata/:key": createOwn, "DELETE compute/v2.1/servers/:id/metadata/:key": writeOwn,
            "GET compute/v2.1/servers/:id/tags": readOwn, "PUT compute/v2.1/servers/:id/tags": createOwn,
            "DELETE compute/v2.1/servers/:id/tags": writeOwn, "GET compute/v2.1/servers/:id/tags/:tag": readOwn,
            "PUT compute/v2.1/servers/:id/tags/:tag": writeOwn, "DELETE compute/v2.1/servers/:id/tags/:tag": writeOwn,
            "POST compute/v2.1/os-server-external-events": adminOrService,
            // Compute agents: the service role only (an admin is no hypervisor).
            "POST compute/agent/v1/claim": service, "POST compute/agent/v1/reports": service,
            "POST compute/agent/v1/heartbeats": service, "POST compute/agent/v1/acks": service,
            "POST compute/agent/v1/messages/:id/ack": service, "POST compute/agent/v1/messages/:id/extend": service,
            "POST compute/agent/v1/messages/:id/refuse": service, "POST compute/agent/v1/messages/:id/reply": service,
            "GET compute/v2.1/flavors": anyProject, "GET compute/v2.1/flavors/detail": anyProject,
            "GET compute/v2.1/flavors/:id": anyProject, "POST compute/v2.1/flavors": admin,
            "PUT compute/v2.1/flavors/:id": admin, "DELETE compute/v2.1/flavors/:id": admin,
            "GET compute/v2.1/flavors/:id/os-extra_specs": listOwn, "GET compute/v2.1/flavors/:id/os-extra_specs/:key": listOwn,
            "POST compute/v2.1/flavors/:id/os-extra_specs": admin, "PUT compute/v2.1/flavors/:id/os-extra_specs/:key": admin,
            "DELETE compute/v2.1/flavors/:id/os-extra_specs/:key": admin, "GET compute/v2.1/flavors/:id/os-flavor-access": admin,
            "POST compute/v2.1/flavors/:id/action#addTenantAccess": admin,
            "POST compute/v2.1/flavors/:id/action#removeTenantAccess": admin,
            "POST compute/v2.1/os-keypairs": keypairs, "GET compute/v2.1/os-keypairs": keypairs,
            "GET compute/v2.1/os-keypairs/:name": keypairs, "DELETE compute/v2.1/os-keypairs/:name": keypairs,
            "POST compute/v2.1/os-server-groups": createOwn, "GET compute/v2.1/os-server-groups": listOwn,
            "GET compute/v2.1/os-server-groups/:id": readOwn, "DELETE compute/v2.1/os-server-groups/:id": writeOwn,
            "GET compute/v2.1/os-quota-sets/:project": readProject, "GET compute/v2.1/os-quota-sets/:project/detail": readProject,
            "GET compute/v2.1/os-quota-sets/:project/defaults": anyProject, "PUT compute/v2.1/os-quota-sets/:project": admin,
            "DELETE compute/v2.1/os-quota-sets/:project": admin, "GET compute/v2.1/limits": anyProject,
            "GET compute/v2.1/os-services": admin, "PUT compute/v2.1/os-services/:id": admin,
            "DELETE compute/v2.1/os-services/:id": admin, "GET compute/v2.1/os-hypervisors": admin,
            "GET compute/v2.1/os-hypervisors/detail": admin, "GET compute/v2.1/os-hypervisors/:id": admin,
            "GET compute/v2.1/os-hypervisors/:id/servers": admin,
            "GET compute/v2.1/os-aggregates": admin, "POST compute/v2.1/os-aggregates": admin,
            "GET compute/v2.1/os-aggregates/:id": admin, "PUT compute/v2.1/os-aggregates/:id": admin,
            "DELETE compute/v2.1/os-aggregates/:id": admin, "POST compute/v2.1/os-aggregates/:id/action#add_host": admin,
            "POST compute/v2.1/os-aggregates/:id/action#remove_host": admin,
            "POST compute/v2.1/os-aggregates/:id/action#set_metadata": admin,
            "GET compute/v2.1/os-availability-zone": anyProject, "GET compute/v2.1/os-availability-zone/detail": admin,
            "GET compute/v2.1/os-migrations": admin, "GET compute/v2.1/servers/:id/migrations": admin,
            "GET compute/v2.1/servers/:id/migrations/:migration_id": admin,
            "DELETE compute/v2.1/servers/:id/migrations/:migration_id": admin,
            "POST compute/v2.1/servers/:id/migrations/:migration_id/action#force_complete": admin,
        ]
        for (action, row) in serverActions { rows["POST compute/v2.1/servers/:id/action#" + action] = row }
        return rows
    }()

    static let network: [String: String] = [
        "GET network": open, "GET network/v2.0/extensions": anyProject,
        "POST network/v2.0/networks": createOwn, "GET network/v2.0/networks": listOwn,
        "GET network/v2.0/networks/:id": readOwn, "PUT network/v2.0/networks/:id": writeOwn,
        "DELETE network/v2.0/networks/:id": writeOwn,
        "POST network/v2.0/subnets": createOwn, "GET network/v2.0/subnets": listOwn,
        "GET network/v2.0/subnets/:id": readOwn, "PUT network/v2.0/subnets/:id": writeOwn,
        "DELETE network/v2.0/subnets/:id": writeOwn,
        "POST network/v2.0/ports": createOwn, "GET network/v2.0/ports": listOwn, "GET network/v2.0/ports/:id": readOwn,
        "PUT network/v2.0/ports/:id": writeOwn, "DELETE network/v2.0/ports/:id": writeOwn,
        "POST network/v2.0/security-groups": createOwn, "GET network/v2.0/security-groups": listOwn,
        "GET network/v2.0/security-groups/:id": readOwn, "DELETE network/v2.0/security-groups/:id": writeOwn,
        "POST network/v2.0/security-group-rules": createOwn, "GET network/v2.0/security-group-rules": listOwn,
        "DELETE network/v2.0/security-group-rules/:id": writeOwn,
        "GET network/v2.0/quotas/:project": readProject, "GET network/v2.0/quotas/:project/details": readProject,
    ]

    static let image: [String: String] = [
        "GET image": open, "GET image/versions": open,
        "POST image/v2/images": createOwn, "GET image/v2/images": listOwn, "GET image/v2/images/:id": "UUFHAAAA",
        "PATCH image/v2/images/:id": writeOwn, "DELETE image/v2/images/:id": writeOwn,
        "PUT image/v2/images/:id/file": writeOwn, "GET image/v2/images/:id/file": "UUFHFAAA",
        "POST image/v2/images/:id/actions/deactivate": writeOwn, "POST image/v2/images/:id/actions/reactivate": writeOwn,
        "PUT image/v2/images/:id/tags/:tag": writeOwn, "DELETE image/v2/images/:id/tags/:tag": writeOwn,
        "GET image/v2/images/:id/members": readOwn, "POST image/v2/images/:id/members": writeOwn,
        "GET image/v2/images/:id/members/:member": readOwn, "DELETE image/v2/images/:id/members/:member": writeOwn,
        // Only the member project (here a third one) may accept or reject a share; the rule lets admins past,
        // the member check after it does not.
        "PUT image/v2/images/:id/members/:member": "UUFFFFFF",
    ]

    static let placement: [String: String] = {
        var rows: [String: String] = ["GET placement": open]
        for route in [
            "GET resource_providers", "POST resource_providers", "GET resource_providers/:uuid", "PUT resource_providers/:uuid",
            "DELETE resource_providers/:uuid", "GET resource_providers/:uuid/inventories", "PUT resource_providers/:uuid/inventories",
            "POST resource_providers/:uuid/inventories", "DELETE resource_providers/:uuid/inventories",
            "GET resource_providers/:uuid/inventories/:resource_class", "PUT resource_providers/:uuid/inventories/:resource_class",
            "DELETE resource_providers/:uuid/inventories/:resource_class", "GET resource_providers/:uuid/traits",
            "PUT resource_providers/:uuid/traits", "DELETE resource_providers/:uuid/traits",
            "GET resource_providers/:uuid/aggregates", "PUT resource_providers/:uuid/aggregates",
            "GET resource_providers/:uuid/allocations", "GET resource_providers/:uuid/usages",
            "GET resource_classes", "POST resource_classes", "GET resource_classes/:name", "PUT resource_classes/:name",
            "DELETE resource_classes/:name", "GET traits", "GET traits/:name", "PUT traits/:name", "DELETE traits/:name",
            "GET allocations/:consumer", "PUT allocations/:consumer", "DELETE allocations/:consumer", "POST allocations",
            "GET allocation_candidates",
        ] {
            let parts = route.split(separator: " ", maxSplits: 1)
            rows["\(parts[0]) placement/\(parts[1])"] = adminOrService
        }
        // Usages of the member's project (?project_id=): its readers too.
        rows["GET placement/usages"] = "UUFFAAAA"
        rows["POST placement/reshaper"] = service
        return rows
    }()
}
