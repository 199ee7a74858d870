/// Parses the Python `re` subset `LinearRegex` runs into a tree.
struct RegexParser {
    typealias SyntaxError = LinearRegex.SyntaxError
    let scalars: [Unicode.Scalar]
    var position = 0
    private(set) var caseInsensitive = false
    /// Counted repetition bound, as Python's own limit is far above what a name filter needs.
    static let maxCount = 1000

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func parseAll() throws(SyntaxError) -> RegexNode {
        if scalars.starts(with: Array("(?i)".unicodeScalars)) {
            caseInsensitive = true
            position = 4
        }
        let node = try alternation()
        if position < scalars.count { throw fail("unbalanced parenthesis") }
        return node
    }

    func fail(_ message: String) -> SyntaxError {
        SyntaxError(message: "\(message) at position \(position)")
    }

    var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    mutating func alternation() throws(SyntaxError) -> RegexNode {
        var choices = [try sequence()]
        while peek == "|" {
            position += 1
            choices.append(try sequence())
        }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    mutating func sequence() throws(SyntaxError) -> RegexNode {
        var parts: [RegexNode] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            var atom = try self.atom()
            while let quantifier = peek, "*+?{".unicodeScalars.contains(quantifier) {
                guard let (min, max) = try self.quantifier() else { break }
                if case .lineStart = atom { throw fail("nothing to repeat") }
                if case .lineEnd = atom { throw fail("nothing to repeat") }
                atom = .repeated(atom, min: min, max: max)
                if peek == "?" { position += 1 }  // lazy: the same set of matches
                if let next = peek, "*+".unicodeScalars.contains(next) { throw fail("multiple repeat") }
            }
            parts.append(atom)
        }
        return parts.isEmpty ? .empty : (parts.count == 1 ? parts[0] : .sequence(parts))
    }

    /// `* + ? {n} {n,} {n,m}`; nil when `{` does not start a valid count (Python then reads it literally).
    mutating func quantifier() throws(SyntaxError) -> (Int, Int?)? {
        let scalar = scalars[position]
        switch scalar {
        case "*": position += 1; return (0, nil)
        case "+": position += 1; return (1, nil)
        case "?": position += 1; return (0, 1)
        default:
            let start = position
            position += 1
            let low = number()
            var high: Int? = low
            if peek == "," {
                position += 1
                high = number()
            }
            // `{,}` and `{,n}` count from zero, as in Python; `{}` or `{x` are literal text.
            guard peek == "}", low != nil || high != nil || scalars[position - 1] == "," else {
                position = start
                return nil
            }
            position += 1
            let min = low ?? 0
            if let high, high < min { throw fail("min repeat greater than max repeat") }
            guard min <= Self.maxCount, (high ?? 0) <= Self.maxCount else {
                throw fail("a repeat count above \(Self.maxCount)")
            }
            return (min, high)
        }
    }

    mutating func number() -> Int? {
        var value: Int?
        while let scalar = peek, let digit = Int(String(scalar)), scalar.isASCII {
            value = (value ?? 0) * 10 + digit
            if value! > 100_000 { value = 100_000 }
            position += 1
        }
        return value
    }

    mutating func atom() throws(SyntaxError) -> RegexNode {
        let scalar = scalars[position]
        position += 1
        switch scalar {
        case ".": var set = ScalarSet(); set.anyButNewline = true; return .set(set)
        case "^": return .lineStart
        case "$": return .lineEnd
        case "[": return .set(try characterClass())
        case "\\": return .set(try escape(inClass: false))
        case "*", "+", "?": throw fail("nothing to repeat")
        case "{":
            position -= 1
            if (try quantifier()) != nil { throw fail("nothing to repeat") }
            position += 1
            return .set(ScalarSet(items: [.range(scalar.value, scalar.value)]))
        case "(":
            if peek == "?" {
                position += 1
                if peek == ":" {
                    position += 1
                } else if peek == "P", position + 1 < scalars.count, scalars[position + 1] == "<" {
                    position += 2
                    while let next = peek, next != ">" { position += 1 }
                    guard peek == ">" else { throw fail("missing >, unterminated name") }
                    position += 1
                } else {
                    throw fail("look-arounds, backreferences and inline flags other than a leading (?i) are not supported")
                }
            }
            let inner = try alternation()
            guard peek == ")" else { throw fail("missing ), unterminated subpattern") }
            position += 1
            return inner
        default:
            return .set(ScalarSet(items: [.range(scalar.value, scalar.value)]))
        }
    }

    mutating func characterClass() throws(SyntaxError) -> ScalarSet {
        var set = ScalarSet()
        if peek == "^" {
            set.negated = true
            position += 1
        }
        var first = true
        while true {
            guard let scalar = peek else { throw fail("unterminated character set") }
            if scalar == "]" && !first { position += 1; break }
            first = false
            position += 1
            var low: UInt32
            if scalar == "\\" {
                let escaped = try escape(inClass: true)
                guard escaped.items.count == 1, case .range(let value, _) = escaped.items[0] else {
                    set.items.append(contentsOf: escaped.items)
                    continue
                }
                low = value
            } else {
                low = scalar.value
            }
            if peek == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                position += 1
                var high = scalars[position].value
                position += 1
                if high == UInt32(UInt8(ascii: "\\")) {
                    let escaped = try escape(inClass: true)
                    guard case .range(let value, _)? = escaped.items.first, escaped.items.count == 1 else {
                        throw fail("bad character range")
                    }
                    high = value
                }
                guard high >= low else { throw fail("bad character range") }
                set.items.append(.range(low, high))
            } else {
                set.items.append(.range(low, low))
            }
        }
        return set
    }

    mutating func escape(inClass: Bool) throws(SyntaxError) -> ScalarSet {
        guard let scalar = peek else { throw fail("bad escape (end of pattern)") }
        position += 1
        func single(_ value: UInt32) -> ScalarSet { ScalarSet(items: [.range(value, value)]) }
        switch scalar {
        case "d": return ScalarSet(items: [.digit])
        case "D": return ScalarSet(items: [.notDigit])
        case "w": return ScalarSet(items: [.word])
        case "W": return ScalarSet(items: [.notWord])
        case "s": return ScalarSet(items: [.space])
        case "S": return ScalarSet(items: [.notSpace])
        case "n": return single(10)
        case "t": return single(9)
        case "r": return single(13)
        case "f": return single(12)
        case "v": return single(11)
        case "0":
            if let next = peek, ("0"..."7").contains(next) { throw fail("octal escapes are not supported") }
            return single(0)
        case "1"..."9": throw fail("backreferences are not supported")
        case "A", "Z", "b", "B": throw fail("the anchor \\\(scalar) is not supported")
        default:
            guard !scalar.properties.isAlphabetic || !scalar.isASCII else { throw fail("bad escape \\\(scalar)") }
            return single(scalar.value)
        }
    }
}
