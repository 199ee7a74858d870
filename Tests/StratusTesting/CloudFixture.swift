import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import StratusCloud
import StratusCore
import StratusImage
import StratusStorage

/// A whole Stratus cloud started in-process on a free loopback port, for tests that speak HTTP to it.
public enum CloudFixture {
    /// Starts a cloud (fresh data dir and database; cheap bcrypt; no compute hosts unless `extraConfig` asks for
    /// them under `[fake_driver]`), runs `body`, then stops it.
    public static func withCloud<T: Sendable>(
        extraConfig: String = "", _ body: @Sendable (ReadyCloud) async throws -> T
    ) async throws -> T {
        try await withRestartingCloud([extraConfig]) { _, cloud in try await body(cloud) }.last!
    }

    /// Starts a cloud once per entry of `configs`, one after another, on the same data dir and database, so a
    /// test can stop a cloud mid-work and see what the next start makes of it.
    public static func withRestartingCloud<T: Sendable>(
        _ configs: [String], _ body: @Sendable (Int, ReadyCloud) async throws -> T
    ) async throws -> [T] {
        let dataDir = try TemporaryDirectory.make()
        let (url, cleanup) = try await TestDatabase.freshURL()
        defer {
            QEMUFixture.killGuests(under: dataDir)
            try? FileManager.default.removeItem(atPath: dataDir)
        }
        var results: [T] = []
        do {
            for (index, extraConfig) in configs.enumerated() {
                results.append(try await run(extraConfig, dataDir: dataDir, url: url) { try await body(index, $0) })
            }
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
        return results
    }

    static func run<T: Sendable>(_ extraConfig: String, dataDir: String, url: DatabaseURL,
                                 _ body: @Sendable (ReadyCloud) async throws -> T) async throws -> T {
        let connection = url.engine == .sqlite ? "sqlite://\(url.path)" : "postgresql://\(url.username)@\(url.host):\(url.port)/\(url.database)"
        let text = """
            [DEFAULT]
            compute_driver = fake
            [database]
            connection = \(connection)
            max_pool_size = 8
            [identity]
            password_hash_rounds = 4
            [fake_driver]
            host_count = 0
            \(extraConfig)
            """
        let configPath = dataDir + "/stratus.conf"
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try CloudConfig.resolve(configPath: configPath, dataDir: dataDir, bind: "127.0.0.1", port: "0")
        return try await AllInOneCloud.withRunningCloud(config, logger: TestDatabase.logger) { cloud in
            try await registerTestImage(cloud)
            return try await body(cloud)
        }
    }

    /// The public image tests boot from (a record without bits: the fake driver never reads them).
    public static let imageID = "00000000-0000-4000-8000-000000000001"

    static func registerTestImage(_ cloud: ReadyCloud) async throws {
        let store = ImageStore(storage: cloud.storage)
        guard try await store.image(imageID) == nil else { return }
        var image = Image(id: imageID, owner: "stratus-tests")
        image.name = "test-image"
        image.status = .active
        image.visibility = "public"
        image.diskFormat = "raw"
        image.containerFormat = "bare"
        try await store.create(image)
    }
}

/// A small HTTP client for tests: JSON in, status, headers and JSON out.
public struct TestHTTP: Sendable {
    public let baseURL: String

    public init(baseURL: String) { self.baseURL = baseURL }

    /// A response as tests inspect it.
    public struct Reply: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
        public var json: JSON { (try? JSON.parse(body)) ?? .null }
        public func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    public func request(_ method: String, _ path: String, token: String? = nil, json: JSON? = nil,
                        rawBody: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        // Generous: the 1,000-request tests queue behind URLSession's per-host connection limit on a loaded machine.
        request.timeoutInterval = 600
        if let token { request.setValue(token, forHTTPHeaderField: "X-Auth-Token") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let json {
            request.httpBody = json.encoded()
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let rawBody {
            request.httpBody = rawBody
            if headers["Content-Type"] == nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        }
        // Not cancelled with the caller: cancelling an in-flight URLSessionTask on Linux can deadlock Foundation's
        // queue against the cooperative threads (seen when a task group of requests is cancelled after a failure).
        let (data, response) = try await Task { [request] in try await URLSession.shared.data(for: request) }.value
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers["\(key)"] = "\(value)" }
        return Reply(status: http.statusCode, headers: headers, body: data)
    }

    /// Password authentication scoped to a project; returns the token.
    public func token(user: String, password: String, project: String) async throws -> String {
        let reply = try await request("POST", "/identity/v3/auth/tokens", json: Self.authBody(user: user, password: password, project: project))
        guard reply.status == 201, let token = reply.header("X-Subject-Token") else {
            throw StorageError.unavailable("authentication as \(user) failed: \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
        }
        return token
    }

    /// The project a token is scoped to (GET /v3/auth/tokens).
    public func projectID(token: String) async throws -> String? {
        let reply = try await request("GET", "/identity/v3/auth/tokens", token: token, headers: ["X-Subject-Token": token])
        return reply.json["token"]?["project"]?["id"]?.stringValue
    }

    public static func authBody(user: String, password: String, project: String?) -> JSON {
        var auth: [String: JSON] = [
            "identity": [
                "methods": ["password"],
                "password": ["user": ["name": .string(user), "domain": ["name": "Default"], "password": .string(password)]],
            ]
        ]
        if let project {
            auth["scope"] = ["project": ["name": .string(project), "domain": ["id": "default"]]]
        }
        return ["auth": .object(auth)]
    }
}
