/// One rule as OpenStack's policy-in-code declares it: its name, default check and what it guards.
public struct PolicyRule: Sendable, Equatable {
    public let name: String
    public let defaultCheck: String
    public let description: String

    public init(_ name: String, _ defaultCheck: String, _ description: String) {
        self.name = name
        self.defaultCheck = defaultCheck
        self.description = description
    }
}

/// The rules in force: the registered defaults with an operator's overrides applied, parsed once and validated
/// (every name known, every `rule:` reference resolvable, no cycles). Checks are pure and cheap.
public struct PolicyEnforcer: Sendable {
    /// Every registered rule, in registration order.
    public let rules: [PolicyRule]
    /// The check string in force per rule name (the default unless overridden).
    public private(set) var effective: [String: String] = [:]
    /// Rule names an override changed, with the file line that did.
    public private(set) var overridden: [String: Int] = [:]
    private var checks: [String: PolicyCheck] = [:]

    public init(rules: [PolicyRule], overrides: [PolicyFile.Entry] = []) throws(PolicyError) {
        self.rules = rules
        for rule in rules {
            guard checks[rule.name] == nil else { throw PolicyError("policy rule \(rule.name) is registered twice") }
            checks[rule.name] = try PolicyParser.parse(rule.defaultCheck)
            effective[rule.name] = rule.defaultCheck
        }
        for entry in overrides {
            guard checks[entry.name] != nil else {
                throw PolicyError("\(entry.location): unknown policy rule \"\(entry.name)\"")
            }
            do {
                checks[entry.name] = try PolicyParser.parse(entry.check)
            } catch {
                throw PolicyError("\(entry.location): rule \"\(entry.name)\": \(error.message)")
            }
            effective[entry.name] = entry.check
            overridden[entry.name] = entry.line
        }
        for (name, check) in checks {
            for reference in check.referencedRules where checks[reference] == nil {
                let place = overrides.last(where: { $0.name == name }).map { "\($0.location): " } ?? ""
                throw PolicyError("\(place)rule \"\(name)\" refers to unknown rule \"\(reference)\"")
            }
        }
        try checkForCycles()
    }

    /// Whether `rule` allows `credentials` to act on `target`. An unregistered name never allows anything.
    public func allows(_ rule: String, _ credentials: PolicyCredentials, _ target: PolicyTarget) -> Bool {
        guard let check = checks[rule] else { return false }
        return check.passes(credentials, target, rules: checks)
    }

    public func isRegistered(_ rule: String) -> Bool { checks[rule] != nil }

    private func checkForCycles() throws(PolicyError) {
        var state: [String: Bool] = [:]  // false: on the current path; true: done
        func visit(_ name: String, _ path: [String]) throws(PolicyError) {
            if state[name] == true { return }
            if state[name] == false {
                throw PolicyError("policy rules refer to each other in a cycle: " + (path + [name]).joined(separator: " -> "))
            }
            state[name] = false
            for next in checks[name]?.referencedRules ?? [] { try visit(next, path + [name]) }
            state[name] = true
        }
        for name in checks.keys.sorted() { try visit(name, []) }
    }
}
