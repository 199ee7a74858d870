import SQLKit
import StratusCore
import StratusStorage

/// Reads and writes identity records. Errors are `StratusError`s in Keystone's wording.
public struct IdentityStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    // MARK: Domains

    public func domains() async throws -> [Domain] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_domains ORDER BY name").all().map(Self.domain)
        }
    }

    public func domain(id: String) async throws -> Domain {
        let found = try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_domains WHERE id = \(bind: id)").first().map(Self.domain)
        }
        guard let found else { throw StratusError.notFound("Could not find domain: \(id).") }
        return found
    }

    public func domain(name: String) async throws -> Domain {
        let found = try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_domains WHERE name = \(bind: name)").first().map(Self.domain)
        }
        guard let found else { throw StratusError.notFound("Could not find domain: \(name).") }
        return found
    }

    static func domain(_ row: any SQLRow) throws -> Domain {
        Domain(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            enabled: try row.decode(column: "enabled", as: Bool.self))
    }

    // MARK: Projects

    public func createProject(_ project: Project) async throws -> Project {
        try await writeUnique("project", project.name, domainID: project.domainID) { tx in
            try await tx.sql.raw(
                """
                INSERT INTO identity_projects (id, name, domain_id, description, enabled, parent_id, created_at)
                VALUES (\(bind: project.id), \(bind: project.name), \(bind: project.domainID),
                    \(bind: project.description), \(bind: project.enabled), \(bind: project.parentID),
                    \(bind: Clock.now()))
                """
            ).run()
        }
        return project
    }

    public func projects(name: String? = nil, domainID: String? = nil, enabled: Bool? = nil) async throws -> [Project] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_projects ORDER BY name").all().map(Self.project)
        }.filter { project in
            (name == nil || project.name == name) && (domainID == nil || project.domainID == domainID)
                && (enabled == nil || project.enabled == enabled)
        }
    }

    public func project(id: String) async throws -> Project {
        let found = try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_projects WHERE id = \(bind: id)").first().map(Self.project)
        }
        guard let found else { throw StratusError.notFound("Could not find project: \(id).") }
        return found
    }

    public func project(name: String, domainID: String) async throws -> Project {
        let found = try await storage.read { sql in
            try await sql.raw(
                "SELECT * FROM identity_projects WHERE name = \(bind: name) AND domain_id = \(bind: domainID)"
            ).first().map(Self.project)
        }
        guard let found else { throw StratusError.notFound("Could not find project: \(name).") }
        return found
    }

    public func updateProject(_ project: Project) async throws {
        try await writeUnique("project", project.name, domainID: project.domainID) { tx in
            try await tx.sql.raw(
                """
                UPDATE identity_projects SET name = \(bind: project.name), description = \(bind: project.description),
                    enabled = \(bind: project.enabled) WHERE id = \(bind: project.id)
                """
            ).run()
            if !project.enabled { try await revoke(projectID: project.id, in: tx) }
        }
    }

    public func deleteProject(id: String) async throws {
        try await storage.transaction { tx in
            try await tx.sql.raw("DELETE FROM identity_assignments WHERE project_id = \(bind: id)").run()
            try await tx.sql.raw("DELETE FROM identity_projects WHERE id = \(bind: id)").run()
            try await revoke(projectID: id, in: tx)
        }
    }

    static func project(_ row: any SQLRow) throws -> Project {
        Project(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            domainID: try row.decode(column: "domain_id", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            parentID: try row.decode(column: "parent_id", as: String?.self))
    }

    // MARK: Users

    public func createUser(_ user: User, passwordHash: String?) async throws -> User {
        try await writeUnique("user", user.name, domainID: user.domainID) { tx in
            try await tx.sql.raw(
                """
                INSERT INTO identity_users (id, name, domain_id, password_hash, enabled, email, description,
                    default_project_id, created_at)
                VALUES (\(bind: user.id), \(bind: user.name), \(bind: user.domainID), \(bind: passwordHash),
                    \(bind: user.enabled), \(bind: user.email), \(bind: user.description),
                    \(bind: user.defaultProjectID), \(bind: Clock.now()))
                """
            ).run()
        }
        return user
    }

    public func users(name: String? = nil, domainID: String? = nil, enabled: Bool? = nil) async throws -> [User] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_users ORDER BY name").all().map(Self.user)
        }.filter { user in
            (name == nil || user.name == name) && (domainID == nil || user.domainID == domainID)
                && (enabled == nil || user.enabled == enabled)
        }
    }

    public func user(id: String) async throws -> User {
        try await userWithHash(id: id).user
    }

    /// The user and password hash, for authentication only.
    func userWithHash(id: String) async throws -> (user: User, hash: String?) {
        let found = try await storage.read { sql -> (User, String?)? in
            guard let row = try await sql.raw("SELECT * FROM identity_users WHERE id = \(bind: id)").first()
            else { return nil }
            return (try Self.user(row), try row.decode(column: "password_hash", as: String?.self))
        }
        guard let found else { throw StratusError.notFound("Could not find user: \(id).") }
        return found
    }

    func userWithHash(name: String, domainID: String) async throws -> (user: User, hash: String?) {
        let found = try await storage.read { sql -> (User, String?)? in
            guard
                let row = try await sql.raw(
                    "SELECT * FROM identity_users WHERE name = \(bind: name) AND domain_id = \(bind: domainID)"
                ).first()
            else { return nil }
            return (try Self.user(row), try row.decode(column: "password_hash", as: String?.self))
        }
        guard let found else { throw StratusError.notFound("Could not find user: \(name).") }
        return found
    }

    /// Updates a user; a new password hash or disabling the user revokes the user's tokens.
    public func updateUser(_ user: User, newPasswordHash: String?) async throws {
        try await writeUnique("user", user.name, domainID: user.domainID) { tx in
            try await tx.sql.raw(
                """
                UPDATE identity_users SET name = \(bind: user.name), enabled = \(bind: user.enabled),
                    email = \(bind: user.email), description = \(bind: user.description),
                    default_project_id = \(bind: user.defaultProjectID) WHERE id = \(bind: user.id)
                """
            ).run()
            if let newPasswordHash {
                try await tx.sql.raw(
                    "UPDATE identity_users SET password_hash = \(bind: newPasswordHash) WHERE id = \(bind: user.id)"
                ).run()
            }
            if newPasswordHash != nil || !user.enabled { try await revoke(userID: user.id, in: tx) }
        }
    }

    public func deleteUser(id: String) async throws {
        try await storage.transaction { tx in
            try await tx.sql.raw("DELETE FROM identity_assignments WHERE user_id = \(bind: id)").run()
            try await tx.sql.raw("DELETE FROM identity_users WHERE id = \(bind: id)").run()
            try await revoke(userID: id, in: tx)
        }
    }

    static func user(_ row: any SQLRow) throws -> User {
        User(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            domainID: try row.decode(column: "domain_id", as: String.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            email: try row.decode(column: "email", as: String?.self),
            description: try row.decode(column: "description", as: String?.self),
            defaultProjectID: try row.decode(column: "default_project_id", as: String?.self))
    }

    // MARK: Roles

    public func createRole(_ role: Role) async throws -> Role {
        try await writeUnique("role", role.name, domainID: nil) { tx in
            try await tx.sql.raw(
                """
                INSERT INTO identity_roles (id, name, description)
                VALUES (\(bind: role.id), \(bind: role.name), \(bind: role.description))
                """
            ).run()
        }
        return role
    }

    public func roles(name: String? = nil) async throws -> [Role] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_roles ORDER BY name").all().map(Self.role)
        }.filter { name == nil || $0.name == name }
    }

    public func role(id: String) async throws -> Role {
        let found = try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_roles WHERE id = \(bind: id)").first().map(Self.role)
        }
        guard let found else { throw StratusError.notFound("Could not find role: \(id).") }
        return found
    }

    public func updateRole(_ role: Role) async throws {
        try await writeUnique("role", role.name, domainID: nil) { tx in
            try await tx.sql.raw(
                """
                UPDATE identity_roles SET name = \(bind: role.name), description = \(bind: role.description)
                WHERE id = \(bind: role.id)
                """
            ).run()
        }
    }

    public func deleteRole(id: String) async throws {
        try await storage.transaction { tx in
            let holders = try await tx.sql.raw(
                "SELECT DISTINCT user_id FROM identity_assignments WHERE role_id = \(bind: id)"
            ).all().map { try $0.decode(column: "user_id", as: String.self) }
            try await tx.sql.raw("DELETE FROM identity_assignments WHERE role_id = \(bind: id)").run()
            try await tx.sql.raw("DELETE FROM identity_roles WHERE id = \(bind: id)").run()
            for user in holders { try await revoke(userID: user, in: tx) }
        }
    }

    static func role(_ row: any SQLRow) throws -> Role {
        Role(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self))
    }

    // MARK: Assignments

    public func grant(roleID: String, userID: String, projectID: String) async throws {
        try await storage.transaction { tx in
            try await tx.sql.raw(
                """
                INSERT INTO identity_assignments (user_id, project_id, role_id)
                VALUES (\(bind: userID), \(bind: projectID), \(bind: roleID)) ON CONFLICT DO NOTHING
                """
            ).run()
        }
    }

    /// Removes a grant and revokes the user's tokens on that project, whose role lists are now stale.
    public func revokeGrant(roleID: String, userID: String, projectID: String) async throws {
        let removed = try await storage.transaction { tx -> Bool in
            let row = try await tx.sql.raw(
                """
                DELETE FROM identity_assignments
                WHERE user_id = \(bind: userID) AND project_id = \(bind: projectID) AND role_id = \(bind: roleID)
                RETURNING role_id
                """
            ).first()
            if row != nil { try await revoke(userID: userID, projectID: projectID, in: tx) }
            return row != nil
        }
        if !removed {
            throw StratusError.notFound("Could not find role assignment with role: \(roleID), user or group: \(userID), project, domain, or system: \(projectID).")
        }
    }

    public func assignments(userID: String? = nil, projectID: String? = nil, roleID: String? = nil) async throws
        -> [RoleAssignment]
    {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM identity_assignments ORDER BY user_id, project_id, role_id").all().map {
                RoleAssignment(
                    userID: try $0.decode(column: "user_id", as: String.self),
                    projectID: try $0.decode(column: "project_id", as: String.self),
                    roleID: try $0.decode(column: "role_id", as: String.self))
            }
        }.filter { a in
            (userID == nil || a.userID == userID) && (projectID == nil || a.projectID == projectID)
                && (roleID == nil || a.roleID == roleID)
        }
    }

    /// The roles a user holds on a project, with implied roles added.
    public func effectiveRoles(userID: String, projectID: String) async throws -> [Role] {
        let all = try await roles()
        let granted = try await assignments(userID: userID, projectID: projectID).map(\.roleID)
        let names = StandardRoles.implied(by: all.filter { granted.contains($0.id) }.map(\.name))
        return all.filter { names.contains($0.name) }
    }

    // MARK: Revocation

    func revoke(auditID: String, expiresAt: Double, in tx: Transaction) async throws {
        try await tx.sql.raw(
            """
            INSERT INTO identity_revocations (id, audit_id, issued_before, expires_at)
            VALUES (\(bind: Identifier.keystone()), \(bind: auditID), \(bind: Clock.now()), \(bind: expiresAt))
            """
        ).run()
        try await tx.wakeUpAfterCommit(RevocationList.channel)
    }

    func revoke(userID: String? = nil, projectID: String? = nil, in tx: Transaction) async throws {
        // Every token issued so far for this user/project is void; one lifetime later the row can go.
        try await tx.sql.raw(
            """
            INSERT INTO identity_revocations (id, user_id, project_id, issued_before, expires_at)
            VALUES (\(bind: Identifier.keystone()), \(bind: userID), \(bind: projectID), \(bind: Clock.now()),
                \(bind: Clock.now() + 366 * 86400))
            """
        ).run()
        try await tx.wakeUpAfterCommit(RevocationList.channel)
    }

    func revocations(since: Double) async throws -> [Revocation] {
        try await storage.read { sql in
            try await sql.raw(
                "SELECT * FROM identity_revocations WHERE expires_at > \(bind: since)"
            ).all().map {
                Revocation(
                    auditID: try $0.decode(column: "audit_id", as: String?.self),
                    userID: try $0.decode(column: "user_id", as: String?.self),
                    projectID: try $0.decode(column: "project_id", as: String?.self),
                    issuedBefore: try $0.decode(column: "issued_before", as: Double.self))
            }
        }
    }

    // MARK: Helpers

    /// Runs a write whose unique constraints (names) may clash, turning the clash into Keystone's 409.
    private func writeUnique(_ kind: String, _ name: String, domainID: String?,
                        _ body: @Sendable (Transaction) async throws -> Void) async throws {
        do {
            try await storage.transaction { tx in try await body(tx) }
        } catch where Storage.isUniqueViolation(error) {
            throw Self.duplicate(kind, name, domainID: domainID)
        }
    }

    static func duplicate(_ kind: String, _ name: String, domainID: String?) -> StratusError {
        let place = domainID.map { " at domain ID \($0)" } ?? ""
        return .conflict("Conflict occurred attempting to store \(kind) - Duplicate entry found with name \(name)\(place).")
    }
}
