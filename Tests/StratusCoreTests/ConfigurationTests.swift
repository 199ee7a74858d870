import Foundation
import StratusCore
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("values are read from their sections; absent ones take the documented default")
    func readsValuesAndDefaults() throws {
        let config = try Configuration(text: """
            # comment
            [DEFAULT]
            debug = True
            [api]
            bind_port = 9000
            [token]
            expiration: 7200
            """)
        #expect(config.bool("DEFAULT", "debug"))
        #expect(config.int("api", "bind_port") == 9000)
        #expect(config.int("token", "expiration") == 7200)
        #expect(config.string("api", "bind_host") == "127.0.0.1")
        #expect(config.int("oslo_middleware", "max_request_body_size") == 114688)
        #expect(config.warnings.isEmpty)
    }

    @Test("bad values name file, line, section, key and what is allowed", arguments: [
        ("[api]\nbind_port = http", "f.conf:2: [api] bind_port = 'http' is invalid: expected an integer from 0 to 65535"),
        ("[api]\nbind_port = 70000", "expected an integer from 0 to 65535"),
        ("[DEFAULT]\ndebug = maybe", "[DEFAULT] debug = 'maybe' is invalid: expected true or false"),
        ("[api]\nauth_strategy = ldap", "expected one of keystone, noauth2"),
        ("[queue]\nretry_backoff_seconds = -1", "expected a number of at least 0.0"),
    ])
    func badValues(text: String, expected: String) {
        do {
            _ = try Configuration(text: text, path: "f.conf")
            Issue.record("accepted \(text)")
        } catch let error as ConfigError {
            #expect(error.message.contains(expected), "message: \(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("malformed lines are refused with their line number", arguments: [
        ("bind_port = 1", "f.conf:1: option 'bind_port = 1' appears before any [section] header"),
        ("[api\nx = 1", "f.conf:1: malformed section header"),
        ("[api]\njust words", "f.conf:2: expected 'key = value'"),
    ])
    func malformedLines(text: String, expected: String) {
        #expect {
            _ = try Configuration(text: text, path: "f.conf")
        } throws: { error in
            (error as? ConfigError)?.message.contains(expected) == true
        }
    }

    @Test("unknown sections and keys are warnings, not errors")
    func unknownWarn() throws {
        let config = try Configuration(text: "[api]\nbind_prot = 1\n[glance]\nx = 1", path: "f.conf")
        #expect(config.warnings == [
            "f.conf:2: unknown option 'bind_prot' in [api] ignored", "f.conf: unknown section [glance] ignored",
        ])
    }

    @Test("command-line overrides are validated like file values")
    func overrides() throws {
        var config = Configuration()
        try config.override("api", "bind_port", "0", flag: "--port")
        #expect(config.int("api", "bind_port") == 0)
        #expect(throws: ConfigError.self) { try config.override("api", "bind_port", "-1", flag: "--port") }
    }

    @Test("every known option has help text and a default that passes its own validation")
    func knownOptionsAreConsistent() throws {
        for spec in KnownOptions.all {
            #expect(!spec.help.isEmpty, "\(spec.section).\(spec.key)")
            if !spec.defaultValue.isEmpty {
                _ = try Configuration(text: "[\(spec.section)]\n\(spec.key) = \(spec.defaultValue)")
            }
        }
    }
}

@Suite("Documentation")
struct DocumentationTests {
    @Test("docs/configuration.md lists every option Stratus reads")
    func configurationDocumented() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let doc = try String(contentsOf: url.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for spec in KnownOptions.all {
            #expect(doc.contains("| `[\(spec.section)]` | `\(spec.key)` |"), "\(spec.section).\(spec.key) undocumented")
        }
    }
}
