/// A regular expression in Python's `re` syntax (the subset Nova's `name`/`ip` filters meet in practice), matched
/// by a Pike VM: time grows with pattern size × text length, never exponentially, so no pattern can stall the API.
///
/// Supported: literals and escapes, `.`, `^`, `$`, classes (`[a-z]`, `[^…]`, `\d \w \s` and their negations),
/// groups (`(…)`, `(?:…)`, `(?P<name>…)`), `|`, the quantifiers `* + ? {n} {n,} {n,m}` (lazy forms too) and a
/// leading `(?i)`. Backreferences and look-arounds need backtracking and are refused as unsupported.
public struct LinearRegex: Sendable {
    /// Why a pattern was refused, in words for a 400.
    public struct SyntaxError: Error, Sendable, Equatable {
        public let message: String
    }

    /// Longest pattern accepted, and the largest compiled program (counted repetition expands the program).
    public static let maxPatternLength = 1024
    public static let maxProgramSize = 20_000
    /// VM steps one request may spend on a filter over its whole list: ample for real patterns (a 3-character
    /// literal over 1,000 names of 20 characters is ~40 thousand), a bound on hostile ones (stratus bench regex).
    public static let requestBudget = 3_000_000

    let program: [Instruction]
    let caseInsensitive: Bool

    public init(_ pattern: String) throws(SyntaxError) {
        guard pattern.unicodeScalars.count <= Self.maxPatternLength else {
            throw SyntaxError(message: "the pattern is longer than \(Self.maxPatternLength) characters")
        }
        var parser = RegexParser(Array(pattern.unicodeScalars))
        let node = try parser.parseAll()
        caseInsensitive = parser.caseInsensitive
        // Counted repetition multiplies: size the program before building it, so no pattern can make the
        // compiler itself run long.
        guard RegexCompiler.size(node) <= Self.maxProgramSize else {
            throw SyntaxError(message: "the pattern is too complex (its repetitions expand past \(Self.maxProgramSize) steps)")
        }
        var compiler = RegexCompiler()
        try compiler.emit(node)
        compiler.program.append(.match)
        program = compiler.program
    }

    /// `re.search`: whether the pattern matches anywhere in `text`.
    public func search(_ text: String) -> Bool {
        var budget = Int.max
        return search(text, budget: &budget)!
    }

    /// `re.search` that spends at most `budget` thread steps (shared across calls, so a request can bound the
    /// work of a whole list); nil once it is spent.
    public func search(_ text: String, budget: inout Int) -> Bool? {
        let scalars = Array(text.unicodeScalars)
        // Setting up the thread lists costs a pass over the program.
        budget -= program.count
        if budget < 0 { return nil }
        var current = ThreadList(size: program.count), next = ThreadList(size: program.count)
        var stack: [Int] = []
        stack.reserveCapacity(program.count)
        for position in 0...scalars.count {
            // Unanchored search: a new thread starts at every position.
            if add(0, position, scalars, &current, &stack, &budget) { return true }
            guard position < scalars.count else { break }
            let scalar = scalars[position]
            next.clear()
            for pc in current.items {
                if case .scalar(let set) = program[pc], set.contains(scalar, caseInsensitive: caseInsensitive) {
                    if add(pc + 1, position + 1, scalars, &next, &stack, &budget) { return true }
                }
            }
            swap(&current, &next)
            if budget < 0 { return nil }
        }
        return budget < 0 ? nil : false
    }

    /// Follows jumps, splits and assertions from `pc`; true once a thread reaches `match`.
    /// Every state visited costs one step of `budget`.
    private func add(_ start: Int, _ position: Int, _ text: [Unicode.Scalar], _ list: inout ThreadList, _ stack: inout [Int],
                     _ budget: inout Int) -> Bool {
        stack.removeAll(keepingCapacity: true)
        stack.append(start)
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            budget -= 1
            switch program[pc] {
            case .match: return true
            case .jump(let target): stack.append(target)
            case .split(let first, let second): stack.append(second); stack.append(first)
            case .lineStart: if position == 0 { stack.append(pc + 1) }
            case .lineEnd:
                if position == text.count || (position == text.count - 1 && text[position] == "\n") { stack.append(pc + 1) }
            case .scalar: list.keep(pc)
            }
        }
        return false
    }
}

enum Instruction: Sendable {
    case scalar(ScalarSet)
    case split(Int, Int)
    case jump(Int)
    case lineStart
    case lineEnd
    case match
}

/// The program counters live in one step of the simulation, deduplicated (what keeps the VM linear).
struct ThreadList {
    private var seen: [Int]
    private var generation = 1
    private(set) var items: [Int] = []

    init(size: Int) { seen = Array(repeating: 0, count: size) }

    mutating func clear() {
        generation += 1
        items.removeAll(keepingCapacity: true)
    }

    /// False when `pc` was already visited in this step.
    mutating func insert(_ pc: Int) -> Bool {
        if seen[pc] == generation { return false }
        seen[pc] = generation
        return true
    }

    mutating func keep(_ pc: Int) { items.append(pc) }
}

/// What one position of the pattern accepts.
struct ScalarSet: Sendable {
    enum Item: Sendable {
        case range(UInt32, UInt32)
        case digit, word, space
        case notDigit, notWord, notSpace
    }
    var items: [Item] = []
    var negated = false
    /// `.`: everything but a newline.
    var anyButNewline = false

    func contains(_ scalar: Unicode.Scalar, caseInsensitive: Bool) -> Bool {
        if anyButNewline { return scalar != "\n" }
        var found = items.contains { $0.matches(scalar) }
        if !found && caseInsensitive {
            // Python's IGNORECASE: the scalar's single-scalar lower, upper and title case forms match too.
            for form in [scalar.properties.lowercaseMapping, scalar.properties.uppercaseMapping, scalar.properties.titlecaseMapping] {
                let scalars = form.unicodeScalars
                if scalars.count == 1, let other = scalars.first, other != scalar, items.contains(where: { $0.matches(other) }) {
                    found = true
                    break
                }
            }
        }
        return found != negated
    }
}

extension ScalarSet.Item {
    func matches(_ scalar: Unicode.Scalar) -> Bool {
        switch self {
        case .range(let low, let high): return scalar.value >= low && scalar.value <= high
        case .digit: return scalar.properties.numericType == .decimal
        // Python's str.isalnum() and "_": letters and numbers, not combining marks.
        case .word:
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber: return true
            default: return scalar == "_"
            }
        // Python's str.isspace(): Unicode white space plus the separators U+001C…U+001F.
        case .space: return scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
        case .notDigit: return !Self.digit.matches(scalar)
        case .notWord: return !Self.word.matches(scalar)
        case .notSpace: return !Self.space.matches(scalar)
        }
    }
}

indirect enum RegexNode {
    case empty
    case set(ScalarSet)
    case lineStart, lineEnd
    case sequence([RegexNode])
    case alternation([RegexNode])
    case repeated(RegexNode, min: Int, max: Int?)
}

struct RegexCompiler {
    var program: [Instruction] = []

    /// Instructions `node` compiles to (at least one per node, so empty repetitions are counted too), saturating.
    static func size(_ node: RegexNode) -> Int {
        let cap = LinearRegex.maxProgramSize + 1
        switch node {
        case .empty, .set, .lineStart, .lineEnd: return 1
        case .sequence(let parts): return min(cap, parts.reduce(1) { min(cap, $0 + size($1)) })
        case .alternation(let choices): return min(cap, choices.reduce(1) { min(cap, $0 + size($1) + 2) })
        case .repeated(let inner, let min, let max):
            let copies = Swift.max(min, max ?? min) + 1
            let (product, overflow) = size(inner).multipliedReportingOverflow(by: copies + 1)
            return overflow ? cap : Swift.min(cap, product)
        }
    }

    mutating func emit(_ node: RegexNode) throws(LinearRegex.SyntaxError) {
        guard program.count < LinearRegex.maxProgramSize else {
            throw LinearRegex.SyntaxError(message: "the pattern is too complex (its repetitions expand past \(LinearRegex.maxProgramSize) steps)")
        }
        switch node {
        case .empty: break
        case .set(let set): program.append(.scalar(set))
        case .lineStart: program.append(.lineStart)
        case .lineEnd: program.append(.lineEnd)
        case .sequence(let parts): for part in parts { try emit(part) }
        case .alternation(let choices):
            var jumps: [Int] = []
            for (index, choice) in choices.enumerated() {
                if index < choices.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, 0))
                    try emit(choice)
                    jumps.append(program.count)
                    program.append(.jump(0))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try emit(choice)
                }
            }
            for jump in jumps { program[jump] = .jump(program.count) }
        case .repeated(let inner, let min, let max):
            for _ in 0..<min { try emit(inner) }
            if let max {
                // Each optional copy may be skipped to the end.
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(program.count)
                    program.append(.split(program.count + 1, 0))
                    try emit(inner)
                }
                for split in splits { program[split] = .split(split + 1, program.count) }
            } else {
                let split = program.count
                program.append(.split(split + 1, 0))
                try emit(inner)
                program.append(.jump(split))
                program[split] = .split(split + 1, program.count)
            }
        }
    }
}
