import StratusCore
import StratusIdentity

/// Keystone's JSON shapes for identity records and tokens.
struct IdentityRenderer: Sendable {
    let catalog: ServiceCatalog

    var v3: String { catalog.identityURL + "/v3" }

    func links(_ path: String) -> JSON { ["self": .string("\(v3)/\(path)")] }

    func listLinks(_ path: String) -> JSON { ["self": .string("\(v3)/\(path)"), "previous": nil, "next": nil] }

    func domain(_ domain: Domain) -> JSON {
        ["id": .string(domain.id), "name": .string(domain.name), "description": .string(domain.description),
         "enabled": .bool(domain.enabled), "tags": [], "options": [:], "links": links("domains/\(domain.id)")]
    }

    func project(_ project: Project) -> JSON {
        ["id": .string(project.id), "name": .string(project.name), "domain_id": .string(project.domainID),
         "description": .string(project.description), "enabled": .bool(project.enabled),
         "parent_id": .string(project.parentID ?? project.domainID), "is_domain": false, "tags": [],
         "options": [:], "links": links("projects/\(project.id)")]
    }

    func user(_ user: User) -> JSON {
        var body: [String: JSON] = [
            "id": .string(user.id), "name": .string(user.name), "domain_id": .string(user.domainID),
            "enabled": .bool(user.enabled), "password_expires_at": nil, "options": [:],
            "links": links("users/\(user.id)"),
        ]
        if let email = user.email { body["email"] = .string(email) }
        if let description = user.description { body["description"] = .string(description) }
        if let project = user.defaultProjectID { body["default_project_id"] = .string(project) }
        return .object(body)
    }

    func role(_ role: Role) -> JSON {
        ["id": .string(role.id), "name": .string(role.name), "description": .string(role.description),
         "domain_id": nil, "options": [:], "links": links("roles/\(role.id)")]
    }

    /// The catalog in Keystone's token shape, each service with public, internal and admin endpoints.
    func catalogJSON() -> JSON {
        .array(catalog.services.map { service in
            let url = catalog.url(service)
            let endpoints: [JSON] = ["public", "internal", "admin"].map { interface in
                ["id": .string(service.endpointID(interface)), "interface": .string(interface),
                 "region_id": .string(catalog.region), "region": .string(catalog.region), "url": .string(url)]
            }
            return ["id": .string(service.id), "type": .string(service.type), "name": .string(service.name),
                    "endpoints": .array(endpoints)]
        })
    }

    func token(_ payload: TokenPayload, includeCatalog: Bool) -> JSON {
        var token: [String: JSON] = [
            "methods": .array(payload.methods.map { .string($0) }),
            "user": [
                "id": .string(payload.userID), "name": .string(payload.userName), "password_expires_at": nil,
                "domain": ["id": .string(payload.userDomainID), "name": .string(payload.userDomainName)],
            ],
            "audit_ids": [.string(payload.auditID)],
            "issued_at": .string(Clock.iso8601Micro(payload.issuedAt)),
            "expires_at": .string(Clock.iso8601Micro(payload.expiresAt)),
        ]
        if let projectID = payload.projectID {
            token["project"] = [
                "id": .string(projectID), "name": .optional(payload.projectName),
                "domain": ["id": .optional(payload.projectDomainID), "name": .optional(payload.projectDomainName)],
            ]
            token["is_domain"] = false
            token["roles"] = .array(payload.roles.map { ["id": .string($0.id), "name": .string($0.name)] })
            if includeCatalog { token["catalog"] = catalogJSON() }
        }
        return ["token": .object(token)]
    }
}
