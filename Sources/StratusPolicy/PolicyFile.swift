import Foundation

/// An operator's `policy.yaml` (or the older `policy.json`): `"rule name": "check string"` per line, comments
/// with `#`. Only that flat subset of YAML is read; anything else is refused naming the line.
public enum PolicyFile {
    /// One override, with where it came from for error messages.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let check: String
        public let path: String
        public let line: Int
        public var location: String { "\(path), line \(line)" }

        public init(name: String, check: String, path: String, line: Int) {
            self.name = name
            self.check = check
            self.path = path
            self.line = line
        }
    }

    public static func parse(_ text: String, path: String) throws(PolicyError) -> [Entry] {
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Substring(rawLine).trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line == "{" || line == "}" || line == "---" { continue }
            if line.hasSuffix(",") { line = line.dropLast().trimmingWhitespace() }  // policy.json
            guard let (name, rest) = splitKey(line) else {
                throw PolicyError("\(path), line \(number): expected \"rule name\": \"check\", got: \(line)")
            }
            guard let check = value(rest) else {
                throw PolicyError("\(path), line \(number): the check of \"\(name)\" is not a string: \(rest)")
            }
            if let first = seen[name] {
                throw PolicyError("\(path), line \(number): rule \"\(name)\" is already set on line \(first)")
            }
            seen[name] = number
            entries.append(Entry(name: name, check: check, path: path, line: number))
        }
        return entries
    }

    /// The key (quoted, or unquoted up to the first ": ") and what follows the colon.
    static func splitKey(_ line: Substring) -> (String, Substring)? {
        if let quote = line.first, quote == "\"" || quote == "'" {
            guard let (key, after) = quoted(line, quote) else { return nil }
            let rest = after.trimmingWhitespace()
            guard rest.first == ":" else { return nil }
            return (key, rest.dropFirst().trimmingWhitespace())
        }
        guard let range = line.range(of: ": ") ?? (line.hasSuffix(":") ? line.index(before: line.endIndex)..<line.endIndex : nil) else {
            return nil
        }
        let key = String(line[..<range.lowerBound].trimmingWhitespace())
        return key.isEmpty ? nil : (key, line[range.upperBound...].trimmingWhitespace())
    }

    /// A quoted or plain scalar; plain ones end at a ` #` comment. An empty value is the empty check (always).
    static func value(_ text: Substring) -> String? {
        if let quote = text.first, quote == "\"" || quote == "'" {
            guard let (content, after) = quoted(text, quote) else { return nil }
            let rest = after.trimmingWhitespace()
            return rest.isEmpty || rest.hasPrefix("#") ? content : nil
        }
        var plain = text
        if let comment = plain.range(of: " #") { plain = plain[..<comment.lowerBound] }
        if plain.hasPrefix("#") { return "" }
        let result = plain.trimmingWhitespace()
        if result.hasPrefix("[") || result.hasPrefix("{") || result.hasPrefix("&") || result.hasPrefix("*") { return nil }
        return String(result)
    }

    /// Reads a quoted string at the start of `text`: JSON escapes in double quotes, `''` in single quotes.
    static func quoted(_ text: Substring, _ quote: Character) -> (String, Substring)? {
        var result = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if character == quote {
                let next = text.index(after: index)
                if quote == "'" && next < text.endIndex && text[next] == "'" {
                    result.append("'")
                    index = text.index(after: next)
                    continue
                }
                return (result, text[next...])
            }
            if quote == "\"" && character == "\\" {
                index = text.index(after: index)
                guard index < text.endIndex else { return nil }
                result.append(text[index])
            } else {
                result.append(character)
            }
            index = text.index(after: index)
        }
        return nil
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" || first == "\r" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" || last == "\r" { result = result.dropLast() }
        return result
    }
}
