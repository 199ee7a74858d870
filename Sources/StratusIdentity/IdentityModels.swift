import StratusCore

/// A Keystone domain.
public struct Domain: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var enabled: Bool

    public init(id: String, name: String, description: String, enabled: Bool) {
        self.id = id
        self.name = name
        self.description = description
        self.enabled = enabled
    }
}

/// A Keystone project.
public struct Project: Sendable, Equatable {
    public var id: String
    public var name: String
    public var domainID: String
    public var description: String
    public var enabled: Bool
    public var parentID: String?

    public init(id: String, name: String, domainID: String, description: String, enabled: Bool, parentID: String?) {
        self.id = id
        self.name = name
        self.domainID = domainID
        self.description = description
        self.enabled = enabled
        self.parentID = parentID
    }
}

/// A Keystone user; the password hash never leaves the identity module.
public struct User: Sendable, Equatable {
    public var id: String
    public var name: String
    public var domainID: String
    public var enabled: Bool
    public var email: String?
    public var description: String?
    public var defaultProjectID: String?

    public init(id: String, name: String, domainID: String, enabled: Bool, email: String?, description: String?, defaultProjectID: String?) {
        self.id = id
        self.name = name
        self.domainID = domainID
        self.enabled = enabled
        self.email = email
        self.description = description
        self.defaultProjectID = defaultProjectID
    }
}

/// A Keystone role.
public struct Role: Sendable, Equatable, Hashable {
    public var id: String
    public var name: String
    public var description: String = ""

    public init(id: String, name: String, description: String = "") {
        self.id = id
        self.name = name
        self.description = description
    }
}

/// A role granted to a user on a project.
public struct RoleAssignment: Sendable, Equatable {
    public var userID: String
    public var projectID: String
    public var roleID: String

    public init(userID: String, projectID: String, roleID: String) {
        self.userID = userID
        self.projectID = projectID
        self.roleID = roleID
    }
}

/// Who is calling, as every service's handlers see it after the token middleware.
public struct AuthContext: Sendable, Equatable {
    public var userID: String
    public var userName: String
    public var userDomainID: String
    public var projectID: String?
    public var projectName: String?
    public var projectDomainID: String?
    public var roles: [String]
    public var auditID: String
    public var expiresAt: Double

    public init(userID: String, userName: String, userDomainID: String, projectID: String?, projectName: String?,
                projectDomainID: String?, roles: [String], auditID: String, expiresAt: Double) {
        self.userID = userID
        self.userName = userName
        self.userDomainID = userDomainID
        self.projectID = projectID
        self.projectName = projectName
        self.projectDomainID = projectDomainID
        self.roles = roles
        self.auditID = auditID
        self.expiresAt = expiresAt
    }

    /// What the policy's admin rule (`context_is_admin`, identity's `admin_required`) says of this caller, once the
    /// route's guard has asked; handlers' "admin sees every project" decisions follow it, so an operator who
    /// redefines the admin rule redefines those too.
    public var policyAdmin: Bool?

    public func hasRole(_ name: String) -> Bool { roles.contains(name) }
    /// The cloud admin: as the policy's admin rule decides, or (before any policy ran) the admin role.
    public var isAdmin: Bool { policyAdmin ?? hasRole("admin") }
}

/// Role names Keystone's bootstrap creates, and what each implies (admin ⇒ member ⇒ reader).
public enum StandardRoles {
    public static let admin = "admin"
    public static let member = "member"
    public static let reader = "reader"
    public static let service = "service"

    public static func implied(by names: [String]) -> [String] {
        var result = names
        func add(_ name: String) { if !result.contains(name) { result.append(name) } }
        if names.contains(admin) { add(member); add(reader) }
        if names.contains(member) { add(reader) }
        return result
    }
}
