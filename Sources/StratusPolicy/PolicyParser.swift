/// Parses oslo.policy's check language: `@`, `!`, `role:X`, `rule:X`, `KEY:%(TARGET)s`, `KEY:literal`,
/// `'literal':%(TARGET)s`, combined with `not`, `and`, `or` (that precedence) and parentheses. An empty string passes.
public enum PolicyParser {
    public static func parse(_ text: String) throws(PolicyError) -> PolicyCheck {
        // Only the empty string always passes (oslo.policy); blank text is a mistake, not "allow everyone".
        if text.isEmpty { return .always }
        var parser = Parser(tokens: try tokenize(text), source: text)
        guard !parser.tokens.isEmpty else { throw PolicyError.syntax(text, "a check of only white space") }
        let check = try parser.orExpression()
        guard parser.position == parser.tokens.count else {
            throw PolicyError.syntax(text, "unexpected '\(parser.tokens[parser.position].text)'")
        }
        return check
    }

    enum Token: Equatable {
        case open, close, and, or, not, atom(String)
        var text: String {
            switch self {
            case .open: return "("
            case .close: return ")"
            case .and: return "and"
            case .or: return "or"
            case .not: return "not"
            case .atom(let text): return text
            }
        }
    }

    static func tokenize(_ text: String) throws(PolicyError) -> [Token] {
        var tokens: [Token] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            var rest = Substring(word)
            while rest.first == "(" {
                tokens.append(.open)
                rest = rest.dropFirst()
            }
            // Trailing ')' close groups unless they balance a '(' inside the atom itself (`%(project_id)s`).
            var closing = 0
            while rest.last == ")" && rest.filter({ $0 == ")" }).count > rest.filter({ $0 == "(" }).count {
                rest = rest.dropLast()
                closing += 1
            }
            if !rest.isEmpty {
                switch rest.lowercased() {
                case "and": tokens.append(.and)
                case "or": tokens.append(.or)
                case "not": tokens.append(.not)
                default: tokens.append(.atom(String(rest)))
                }
            }
            tokens.append(contentsOf: Array(repeating: Token.close, count: closing))
        }
        return tokens
    }

    struct Parser {
        let tokens: [Token]
        let source: String
        var position = 0

        mutating func orExpression() throws(PolicyError) -> PolicyCheck {
            try chain(.or, { (parser: inout Parser) throws(PolicyError) in try parser.andExpression() }, PolicyCheck.or)
        }

        mutating func andExpression() throws(PolicyError) -> PolicyCheck {
            try chain(.and, { (parser: inout Parser) throws(PolicyError) in try parser.notExpression() }, PolicyCheck.and)
        }

        /// `operand (separator operand)*`, one operand standing for itself.
        mutating func chain(_ separator: Token, _ operand: (inout Parser) throws(PolicyError) -> PolicyCheck,
                            _ combine: ([PolicyCheck]) -> PolicyCheck) throws(PolicyError) -> PolicyCheck {
            var parts = [try operand(&self)]
            while position < tokens.count, tokens[position] == separator {
                position += 1
                parts.append(try operand(&self))
            }
            return parts.count == 1 ? parts[0] : combine(parts)
        }

        mutating func notExpression() throws(PolicyError) -> PolicyCheck {
            guard position < tokens.count else { throw PolicyError.syntax(source, "the expression ends too early") }
            if tokens[position] == .not {
                position += 1
                return .not(try notExpression())
            }
            return try primary()
        }

        mutating func primary() throws(PolicyError) -> PolicyCheck {
            guard position < tokens.count else { throw PolicyError.syntax(source, "the expression ends too early") }
            let token = tokens[position]
            position += 1
            switch token {
            case .open:
                let inner = try orExpression()
                guard position < tokens.count, tokens[position] == .close else {
                    throw PolicyError.syntax(source, "a '(' is not closed")
                }
                position += 1
                return inner
            case .atom(let text):
                return try PolicyParser.atom(text, source: source)
            default:
                throw PolicyError.syntax(source, "unexpected '\(token.text)'")
            }
        }
    }

    static func atom(_ text: String, source: String) throws(PolicyError) -> PolicyCheck {
        if text == "@" { return .always }
        if text == "!" { return .never }
        guard let colon = text.firstIndex(of: ":") else {
            throw PolicyError.syntax(source, "'\(text)' is not a check (expected KIND:MATCH, @ or !)")
        }
        let kind = String(text[..<colon]), match = String(text[text.index(after: colon)...])
        guard !kind.isEmpty, !match.isEmpty else { throw PolicyError.syntax(source, "'\(text)' is not a check") }
        let target: String? = match.hasPrefix("%(") && match.hasSuffix(")s") ? String(match.dropFirst(2).dropLast(2)) : nil
        switch kind {
        case "rule": return .rule(match)
        case "role": return .role(unquoted(match))
        default:
            if let target {
                if let literal = quotedContent(kind) { return .targetEquals(target: target, value: literal) }
                return .matchesTarget(credential: kind, target: target)
            }
            return .matchesLiteral(credential: kind, value: unquoted(match))
        }
    }

    static func quotedContent(_ text: String) -> String? {
        guard text.count >= 2, let first = text.first, first == "'" || first == "\"", text.last == first else { return nil }
        return String(text.dropFirst().dropLast())
    }

    static func unquoted(_ text: String) -> String { quotedContent(text) ?? text }
}

/// A policy that cannot be used: bad syntax, an unknown rule name, a reference to nothing. The message names
/// the rule (and the line of the policy file) so an operator can fix it.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func syntax(_ source: String, _ problem: String) -> PolicyError {
        PolicyError("invalid policy check \"\(source)\": \(problem)")
    }
}
