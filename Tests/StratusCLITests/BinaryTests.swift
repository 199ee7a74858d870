import Foundation
import StratusCore
import StratusTesting
import Testing

/// The `stratus` binary itself: its start-up, its refusals and its shutdown.
@Suite("The stratus binary", .serialized)
struct BinaryTests {
    func stratus(_ arguments: [String]) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(ProcessRunner.stratusBinary, arguments, timeout: 60)
    }

    /// A fresh data dir holding `stratus.conf` with `text`.
    func dataDirWithConfig(_ text: String) throws -> (dir: String, config: String) {
        let dir = try TemporaryDirectory.make()
        let config = dir + "/stratus.conf"
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        return (dir, config)
    }

    @Test("version prints the version")
    func version() async throws {
        let result = try await stratus(["version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("stratus "))
    }

    @Test("a non-numeric port is refused with the flag, the value and what is allowed")
    func nonNumericPort() async throws {
        let dir = try TemporaryDirectory.make()
        let result = try await stratus(["up", "--data-dir", dir, "--port", "eighty"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--port 'eighty' is invalid"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("an integer from 0 to 65535"))
        #expect(!result.stderr.contains("Fatal error"))
    }

    @Test("a bad value in the config file names file, line, section and key")
    func badConfigValue() async throws {
        let (dir, config) = try dataDirWithConfig("[DEFAULT]\ndebug = false\n[api]\nbind_port = 80a\n")
        let result = try await stratus(["up", "--data-dir", dir, "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(config):4: [api] bind_port = '80a' is invalid"), "stderr: \(result.stderr)")
    }

    @Test("unknown sections and keys are warned about, not fatal")
    func unknownKeysWarn() async throws {
        let (dir, config) = try dataDirWithConfig("[api]\nbind_prot = 1\n[mystery]\nx = 1\n")
        let result = try await stratus(["db", "migrate", "--data-dir", dir, "--config", config])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("unknown option 'bind_prot' in [api]"))
        #expect(result.stderr.contains("unknown section [mystery]"))
    }

    @Test("a data dir that cannot be created is a clear error")
    func unwritableDataDir() async throws {
        let dir = try TemporaryDirectory.make()
        let file = dir + "/plain-file"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await stratus(["up", "--data-dir", file + "/data", "--port", "0"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("data directory \(file)/data cannot be created"), "stderr: \(result.stderr)")
    }

    @Test("a PostgreSQL that refuses connections is a clear error and leaves no state behind")
    func refusedPostgres() async throws {
        let (dir, config) = try dataDirWithConfig("[database]\nconnection = postgresql://stratus@127.0.0.1:1/stratus\n")
        let result = try await stratus(["up", "--data-dir", dir, "--config", config, "--port", "0"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot connect to PostgreSQL at postgresql://stratus@127.0.0.1:1/stratus"), "stderr: \(result.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(left == ["stratus.conf"], "nothing written besides the config: \(left)")
    }

    @Test("up prints one ready line, stops cleanly on SIGTERM, and a second start keeps its users")
    func upStopAndRestart() async throws {
        let (dir, config) = try dataDirWithConfig("[identity]\npassword_hash_rounds = 4\n")
        let first = try BackgroundProcess(ProcessRunner.stratusBinary, ["up", "--data-dir", dir, "--config", config, "--port", "0"])
        let ready = try #require(await first.waitFor("Stratus is ready at "), "output: \(first.text)")
        #expect(ready.contains("/identity"))
        #expect(ready.contains("clouds.yaml"))
        let credentials = try String(contentsOfFile: dir + "/credentials.json", encoding: .utf8)
        let clouds = try String(contentsOfFile: dir + "/clouds.yaml", encoding: .utf8)
        #expect(clouds.contains("stratus-admin:") && clouds.contains("stratus-demo:"))
        let baseURL = String(ready.dropFirst("Stratus is ready at ".count).prefix { $0 != " " })
        let http = TestHTTP(baseURL: baseURL)
        let adminPassword = try JSON.parse(credentials)["adminPassword"]!.stringValue!
        let admin = try await http.token(user: "admin", password: adminPassword, project: "admin")
        let created = try await http.request("POST", "/identity/v3/users", token: admin, json: ["user": ["name": "kept", "password": "pw"]])
        #expect(created.status == 201)
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0, "output: \(first.text)")

        let second = try BackgroundProcess(ProcessRunner.stratusBinary, ["up", "--data-dir", dir, "--config", config, "--port", "0"])
        let readyAgain = try #require(await second.waitFor("Stratus is ready at "), "output: \(second.text)")
        let http2 = TestHTTP(baseURL: String(readyAgain.dropFirst("Stratus is ready at ".count).prefix { $0 != " " }))
        let admin2 = try await http2.token(user: "admin", password: adminPassword, project: "admin")
        let kept = try await http2.request("GET", "/identity/v3/users?name=kept", token: admin2)
        #expect(kept.json["users"]?.arrayValue?.count == 1)
        #expect(try String(contentsOfFile: dir + "/credentials.json", encoding: .utf8) == credentials)
        #expect(!second.text.contains("bootstrapped user"), "no second bootstrap")
        second.signal(SIGINT)
        #expect(await second.waitForExit() == 0)
    }
}
