/// One parsed oslo.policy check expression: `role:member and project_id:%(project_id)s`, `rule:admin_api`, `@`, `!`…
///
/// Evaluation never throws: a missing credential or target value fails the check, and two missing values never
/// match each other (an unscoped token's absent project must not equal a target's absent project).
public indirect enum PolicyCheck: Sendable, Equatable, CustomStringConvertible {
    /// `@` or an empty string: always passes.
    case always
    /// `!`: never passes.
    case never
    /// `role:NAME`, compared case-insensitively as oslo.policy does.
    case role(String)
    /// `rule:NAME`: the named rule's check.
    case rule(String)
    /// `KEY:%(TARGET)s`: the caller's `KEY` must equal the target's `TARGET`.
    case matchesTarget(credential: String, target: String)
    /// `KEY:VALUE`: the caller's `KEY` must equal the literal (`system_scope:all`, `is_admin:True`).
    case matchesLiteral(credential: String, value: String)
    /// `'VALUE':%(TARGET)s`: the target's `TARGET` must equal the literal.
    case targetEquals(target: String, value: String)
    case not(PolicyCheck)
    case and([PolicyCheck])
    case or([PolicyCheck])

    public var description: String {
        switch self {
        case .always: return "@"
        case .never: return "!"
        case .role(let name): return "role:\(name)"
        case .rule(let name): return "rule:\(name)"
        case .matchesTarget(let credential, let target): return "\(credential):%(\(target))s"
        case .matchesLiteral(let credential, let value): return "\(credential):\(value)"
        case .targetEquals(let target, let value): return "'\(value)':%(\(target))s"
        case .not(let inner): return "not \(inner.parenthesized)"
        case .and(let parts): return parts.map(\.parenthesized).joined(separator: " and ")
        case .or(let parts): return parts.map(\.parenthesized).joined(separator: " or ")
        }
    }

    private var parenthesized: String {
        switch self {
        case .and, .or: return "(\(description))"
        default: return description
        }
    }

    /// Every `rule:` name this check refers to, directly.
    public var referencedRules: [String] {
        switch self {
        case .rule(let name): return [name]
        case .not(let inner): return inner.referencedRules
        case .and(let parts), .or(let parts): return parts.flatMap(\.referencedRules)
        default: return []
        }
    }
}

/// What the caller brings to a policy check: oslo.context's credential dictionary, typed.
public struct PolicyCredentials: Sendable, Equatable {
    public var userID: String
    /// Nil for an unscoped token: no project rule can match it.
    public var projectID: String?
    public var userDomainID: String?
    public var projectDomainID: String?
    /// Role names, already expanded by the implied roles (admin ⇒ member ⇒ reader).
    public var roles: [String]

    public init(userID: String, projectID: String?, userDomainID: String?, projectDomainID: String?, roles: [String]) {
        self.userID = userID
        self.projectID = projectID
        self.userDomainID = userDomainID
        self.projectDomainID = projectDomainID
        self.roles = roles
    }

    /// The value oslo.policy would find under `key` in the credential dictionary.
    func value(_ key: String) -> String? {
        switch key {
        case "user_id": return userID
        case "project_id", "tenant_id", "tenant": return projectID
        case "user_domain_id": return userDomainID
        case "project_domain_id", "token.project.domain.id": return projectDomainID
        // Stratus issues no domain- or system-scoped tokens, so `domain_id:` and `system_scope:` checks never pass.
        default: return nil
        }
    }
}

/// The object a rule is checked against: `project_id`, `user_id`, `target.user.id`… as oslo.policy's target dict.
public typealias PolicyTarget = [String: String]

extension PolicyCheck {
    /// Whether the check passes; `rules` resolves `rule:` references (unknown names fail, depth is bounded).
    func passes(_ credentials: PolicyCredentials, _ target: PolicyTarget, rules: [String: PolicyCheck], depth: Int = 0) -> Bool {
        guard depth < 32 else { return false }
        switch self {
        case .always: return true
        case .never: return false
        case .role(let name):
            let wanted = name.lowercased()
            return credentials.roles.contains { $0.lowercased() == wanted }
        case .rule(let name):
            guard let check = rules[name] else { return false }
            return check.passes(credentials, target, rules: rules, depth: depth + 1)
        case .matchesTarget(let credential, let key):
            guard let mine = credentials.value(credential), let theirs = target[key] else { return false }
            return mine == theirs
        case .matchesLiteral(let credential, let value):
            guard let mine = credentials.value(credential) else { return false }
            return mine == value
        case .targetEquals(let key, let value):
            return target[key] == value
        case .not(let inner):
            return !inner.passes(credentials, target, rules: rules, depth: depth + 1)
        case .and(let parts):
            return parts.allSatisfy { $0.passes(credentials, target, rules: rules, depth: depth + 1) }
        case .or(let parts):
            return parts.contains { $0.passes(credentials, target, rules: rules, depth: depth + 1) }
        }
    }
}
