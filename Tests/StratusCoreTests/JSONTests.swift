import StratusCore
import Testing

@Suite("JSON values")
struct JSONTests {
    @Test("round-trips objects, arrays, numbers, booleans and null")
    func roundTrip() throws {
        let text = #"{"a":[1,2.5,true,null,"x"],"b":{"c":-3}}"#
        let value = try JSON.parse(text)
        #expect(value["a"]?.arrayValue?.count == 5)
        #expect(value["b"]?["c"]?.intValue == -3)
        #expect(value.encodedString() == text)
    }

    @Test("integers encode without a fraction; fractions keep theirs")
    func numbers() {
        #expect(JSON.int(42).encodedString() == "42")
        #expect(JSON.number(0.5).encodedString() == "0.5")
    }

    @Test("invalid text throws rather than guessing")
    func invalid() {
        #expect(throws: (any Error).self) { try JSON.parse("{nope") }
    }

    @Test("request ids in oslo's form are recognised, others are not")
    func requestIDs() {
        #expect(Identifier.isRequestID(Identifier.requestID()))
        #expect(!Identifier.isRequestID("req-123"))
        #expect(!Identifier.isRequestID("abc-" + Identifier.uuid()))
        #expect(Identifier.keystone().count == 32)
    }

    @Test("Keystone time format has microseconds and Z")
    func times() {
        #expect(Clock.iso8601Micro(0.25) == "1970-01-01T00:00:00.250000Z")
        #expect(Clock.iso8601(86400) == "1970-01-02T00:00:00Z")
    }
}

@Suite("JSON escaping")
struct JSONEscapingTests {
    @Test("strings with quotes, backslashes, control characters and unicode round-trip")
    func escaping() throws {
        let text = "a\"b\\c\nd\te\u{01}f é 🚀 /"
        let encoded = JSON.string(text).encodedString()
        #expect(try JSON.parse(encoded) == .string(text))
        #expect(encoded.contains("\\u0001"))
    }

    @Test("fractions, negatives and large integers encode as JSON numbers")
    func numbers() throws {
        for value in [0.1, -2.5, 1e300, 123456789012.0, -7.0] {
            #expect(try JSON.parse(JSON.number(value).encodedString()) == .number(value))
        }
    }
}

@Suite("JSON parser")
struct JSONParserTests {
    @Test("accepts what RFC 8259 allows", arguments: [
        #"{"a": [1, -2.5e3, true, false, null, "x\"y\\z\u00e9\ud83d\ude80"], "b": {}}"#, "[]", "0", "\"\"", " {\"k\" : 1 } ",
    ])
    func accepts(text: String) throws {
        _ = try JSON.parse(text)
    }

    @Test("refuses what it does not", arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"\\x\"", "\"\\ud800\"", "{a:1}", "[1] 2", "\"\u{01}\"", "1e999",
    ])
    func refuses(text: String) {
        #expect(throws: (any Error).self) { try JSON.parse(text) }
    }

    @Test("deep nesting is refused, not a stack overflow")
    func deepNesting() {
        let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: (any Error).self) { try JSON.parse(text) }
    }

    @Test("decoding escapes gives the same text back")
    func escapes() throws {
        #expect(try JSON.parse(#""\ud83d\ude80 \/ \n""#) == .string("🚀 / \n"))
    }
}

@Suite("JSON writer")
struct JSONWriterTests {
    @Test("writes the same text as encoding the equivalent value")
    func matchesEncoder() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("a"); writer.int(0)
        writer.key("b"); writer.int(Int.max)
        writer.key("c"); writer.int(-42)
        writer.key("d"); writer.beginArray(); writer.string("x\"y"); writer.null(); writer.optionalString("z"); writer.endArray()
        writer.key("e"); writer.beginObject(); writer.endObject()
        writer.endObject()
        let parsed = try JSON.parse(bytes: writer.bytes)
        #expect(parsed == ["a": 0, "b": .number(Double(Int.max)), "c": -42, "d": ["x\"y", nil, "z"], "e": [:]])
        #expect(String(decoding: writer.bytes, as: UTF8.self).contains("\"b\":9223372036854775807"))
    }
}
