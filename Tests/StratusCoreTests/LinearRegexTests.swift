import StratusCore
import Testing

@Suite("Linear-time regular expressions (Nova's name filter)")
struct LinearRegexTests {
    @Test("Python re.search semantics for the patterns filters use", arguments: [
        ("web", "my-web-1", true), ("^web", "my-web-1", false), ("^my", "my-web-1", true), ("1$", "my-web-1", true),
        ("w.b", "web", true), ("we*b", "wb", true), ("we+b", "wb", false), ("colou?r", "color", true),
        ("[0-9]{2,3}", "vm-7", false), ("[0-9]{2,3}", "vm-42", true), ("^vm-\\d+$", "vm-123", true),
        ("^vm-\\d+$", "vm-12a", false), ("(a|b)c", "xbc", true), ("(?:ab)+$", "ababab", true), ("[^a-z]", "abc", false),
        ("(?i)WEB", "my-web", true), ("\\.", "a.b", true), ("\\.", "ab", false), ("", "anything", true),
        ("(?P<n>x)y", "xy", true), ("a{2}", "a", false), ("\\w+-\\s?", "x- ", true), ("ä", "bär", true),
        ("a{,}", "xyz", true), ("x{,2}y", "xxy", true), ("(?i)^.$", "İ", true), ("(?i)ǅ", "ǆ", true), ("\\w", "\u{345}", false),
        ("\\s", "\u{1C}", true), ("a{}", "a{}", true),
    ])
    func semantics(pattern: String, text: String, matches: Bool) throws {
        #expect(try LinearRegex(pattern).search(text) == matches)
    }

    @Test("backtracking-only features, broken and explosive patterns are refused", arguments: [
        "(a", "a)", "*a", "(\\w)\\1", "(?=a)", "[a-", "a{3,2}", "a{1001}", "a**", "\\012",
        "(?:(?:(?:(?:){1000}){1000}){1000}){1000}", "(a{200}){200}",
    ])
    func refused(pattern: String) {
        // (No #expect(throws:) here: a compiled program would be printed whole.)
        var refused = false
        do { _ = try LinearRegex(pattern) } catch { refused = true }
        #expect(refused, "\(pattern) was accepted")
    }

    @Test("a pattern that is exponential for a backtracking engine is linear here, and a budget ends long work")
    func noRunaway() throws {
        let evil = try LinearRegex(".*.*.*.*.*.*.*!x")
        #expect(evil.search(String(repeating: "a", count: 30)) == false)
        #expect(try LinearRegex("(a*)*b").search(String(repeating: "a", count: 5000)) == false)
        var budget = 1000
        #expect(evil.search(String(repeating: "a", count: 5000), budget: &budget) == nil)
        // Empty alternatives cost steps too: the budget counts every state visited, not only those that read.
        let empties = try LinearRegex(String(repeating: "(?:|){1000}", count: 2) + "#")
        var small = LinearRegex.requestBudget
        var exhausted = false
        for _ in 0..<200 where !exhausted { exhausted = empties.search(String(repeating: "a", count: 255), budget: &small) == nil }
        #expect(exhausted)
    }
}
