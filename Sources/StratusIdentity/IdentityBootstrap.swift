import StratusCore

/// First-start setup, like `keystone-manage bootstrap` plus DevStack's demo account: roles admin ⇒ member ⇒
/// reader and service; projects admin, demo and service; users admin (admin on admin), demo (member on demo) and
/// the compute agents' service user (service on service, Nova's `nova`).
/// Idempotent: an existing user keeps its password.
public struct IdentityBootstrap: Sendable {
    /// A user the bootstrap made, with the password it was given.
    public struct Account: Sendable, Equatable {
        public var userName: String
        public var projectName: String
        public var password: String
    }

    public let identity: IdentityService
    /// The service user compute agents authenticate as.
    public static let serviceUser = "nova"

    public init(identity: IdentityService) { self.identity = identity }

    /// Creates what is missing. Returns the accounts created now (empty on a later start).
    public func run(adminPassword: String, demoPassword: String, servicePassword: String) async throws -> [Account] {
        let store = identity.store
        var roleIDs: [String: String] = [:]
        for name in [StandardRoles.admin, StandardRoles.member, StandardRoles.reader, StandardRoles.service] {
            if let existing = try await store.roles(name: name).first {
                roleIDs[name] = existing.id
            } else {
                roleIDs[name] = try await store.createRole(Role(id: Identifier.keystone(), name: name)).id
            }
        }
        var projectIDs: [String: String] = [:]
        for name in ["admin", "demo", "service"] {
            if let existing = try await store.projects(name: name, domainID: "default").first {
                projectIDs[name] = existing.id
            } else {
                let project = Project(
                    id: Identifier.keystone(), name: name, domainID: "default",
                    description: "Bootstrap project \(name)", enabled: true, parentID: nil)
                projectIDs[name] = try await store.createProject(project).id
            }
        }
        var created: [Account] = []
        for (name, project, role, password) in [
            ("admin", "admin", StandardRoles.admin, adminPassword),
            ("demo", "demo", StandardRoles.member, demoPassword),
            (Self.serviceUser, "service", StandardRoles.service, servicePassword),
        ] {
            guard try await store.users(name: name, domainID: "default").isEmpty else { continue }
            let user = User(
                id: Identifier.keystone(), name: name, domainID: "default", enabled: true, email: nil,
                description: nil, defaultProjectID: projectIDs[project])
            _ = try await store.createUser(user, passwordHash: try await identity.hashPassword(password))
            try await store.grant(roleID: roleIDs[role]!, userID: user.id, projectID: projectIDs[project]!)
            created.append(Account(userName: name, projectName: project, password: password))
        }
        return created
    }
}
