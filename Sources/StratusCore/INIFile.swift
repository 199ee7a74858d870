/// A parsed nova.conf-style INI file: sections of `key = value` lines, remembering where each came from.
public struct INIFile: Sendable {
    /// One `key = value` line and where it stood.
    public struct Entry: Sendable, Equatable {
        public let value: String
        public let line: Int
    }

    /// The file's name as shown in messages.
    public let path: String
    /// section name → key → entry. Section names keep their case (`DEFAULT`); keys are as written.
    public private(set) var sections: [String: [String: Entry]] = [:]

    public init(path: String, text: String) throws {
        self.path = path
        var current: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmedSpaces()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw ConfigError(path: path, line: lineNumber, message: "malformed section header '\(line)'")
                }
                let name = String(line.dropFirst().dropLast()).trimmedSpaces()
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let section = current else {
                throw ConfigError(
                    path: path, line: lineNumber, message: "option '\(line)' appears before any [section] header")
            }
            guard let equals = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw ConfigError(
                    path: path, line: lineNumber, message: "expected 'key = value' in [\(section)], found '\(line)'")
            }
            let key = line[..<equals].trimmedSpaces()
            let value = line[line.index(after: equals)...].trimmedSpaces()
            guard !key.isEmpty else {
                throw ConfigError(path: path, line: lineNumber, message: "empty option name in [\(section)]")
            }
            sections[section, default: [:]][key] = Entry(value: value, line: lineNumber)
        }
    }

    public func value(_ section: String, _ key: String) -> Entry? { sections[section]?[key] }
}

/// A configuration problem, naming the file, section and key so an operator can fix it.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(path: String, line: Int? = nil, message: String) {
        let location = line.map { "\(path):\($0)" } ?? path
        self.message = "\(location): \(message)"
    }

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    func trimmedSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice.removeLast() }
        return String(slice)
    }
}
