import Foundation
import StratusCore
import StratusTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Stratus as operators deploy it: separate `stratus api`, `stratus conductor` and `stratus compute` processes on
/// one PostgreSQL, the compute process holding no database credentials.
@Suite("Separate processes on PostgreSQL", .serialized, .enabled(if: TestDatabase.postgresURL != nil))
struct MultiProcessTests {
    static func run(_ arguments: [String]) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(ProcessRunner.stratusBinary, arguments, timeout: 120)
    }

    static func waitFor(_ process: BackgroundProcess, _ marker: String, _ name: String) async throws {
        guard await process.waitFor(marker, timeout: 90) != nil else {
            throw StratusError.badRequest("\(name) never said '\(marker)':\n\(process.text.suffix(4000))")
        }
    }

    @Test("2 api + 2 conductors + 1 compute with 20 fake hosts: 300 boots through both APIs, a conductor killed -9 midway; then 20 cold and 20 live migrations, one of the two conductors killed -9 as they are asked; all ACTIVE, nothing leaked")
    func threeHundredBootsAcrossProcesses() async throws {
        let (url, dropDatabase) = try await TestDatabase.freshURL()
        defer { Task { await dropDatabase() } }
        let dir = try TemporaryDirectory.make()
        let (port1, port2) = (try LoopbackPort.free(), try LoopbackPort.free())
        let config = dir + "/stratus.conf"
        try """
            [DEFAULT]
            compute_driver = fake
            [database]
            connection = postgresql://\(url.username)@\(url.host):\(url.port)/\(url.database)
            max_pool_size = 8
            [api]
            public_endpoint = http://127.0.0.1:\(port1)
            [identity]
            password_hash_rounds = 4
            [queue]
            lease_seconds = 5
            [conductor]
            reconcile_interval = 5
            [quota]
            instances = -1
            cores = -1
            ram = -1
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let common = ["--config", config, "--data-dir", dir + "/data"]

        // The deployment's two set-up steps, then every process in an order that makes them wait for each other.
        let migrated = try await Self.run(["db", "migrate"] + common)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let conductorA = try BackgroundProcess(ProcessRunner.stratusBinary, ["conductor"] + common)
        let bootstrapped = try await Self.run(["bootstrap"] + common)
        #expect(bootstrapped.status == 0, "\(bootstrapped.stderr)")
        let agentConfig = dir + "/data/compute-agent.conf"
        let agentText = try String(contentsOfFile: agentConfig, encoding: .utf8)
        #expect(agentText.contains("auth_url = http://127.0.0.1:\(port1)/identity"))
        #expect(!agentText.contains("postgresql://"), "the agent never sees a database URL")
        let api1 = try BackgroundProcess(ProcessRunner.stratusBinary, ["api", "--port", "\(port1)"] + common)
        let api2 = try BackgroundProcess(ProcessRunner.stratusBinary, ["api", "--port", "\(port2)"] + common)
        let conductorB = try BackgroundProcess(ProcessRunner.stratusBinary, ["conductor"] + common)
        let compute = try BackgroundProcess(ProcessRunner.stratusBinary, [
            "compute", "--config", agentConfig, "--data-dir", dir + "/agent", "--driver", "fake", "--fake-hosts", "20", "--host", "mp"])
        let all = [("api1", api1), ("api2", api2), ("conductor A", conductorA), ("conductor B", conductorB), ("compute", compute)]
        defer { for (_, process) in all { process.signal(SIGKILL) } }
        try await Self.waitFor(api1, "stratus api listening", "api1")
        try await Self.waitFor(api2, "stratus api listening", "api2")
        try await Self.waitFor(conductorA, "stratus conductor running", "conductor A")
        try await Self.waitFor(conductorB, "stratus conductor running", "conductor B")
        try await Self.waitFor(compute, "compute hosts registered", "compute")

        let password = try JSON.parse(try String(contentsOfFile: dir + "/data/credentials.json", encoding: .utf8))["adminPassword"]!.stringValue!
        let apis = [TestHTTP(baseURL: "http://127.0.0.1:\(port1)"), TestHTTP(baseURL: "http://127.0.0.1:\(port2)")]
        let token = try await apis[1].token(user: "admin", password: password, project: "admin")
        let services = try await apis[1].request("GET", "/compute/v2.1/os-services", token: token).json["services"]?.arrayValue ?? []
        #expect(services.count == 20)
        #expect(services.allSatisfy { $0["state"] == "up" })
        let network = try #require(try await apis[0].request("GET", "/network/v2.0/networks?name=private", token: token)
            .json["networks"]?.arrayValue?.first?["id"]?.stringValue)
        let image = try await apis[0].request("POST", "/image/v2/images", token: token, json: [
            "name": "mp", "disk_format": "raw", "container_format": "bare", "visibility": "public"])
        let imageID = try #require(image.json["id"]?.stringValue)
        let upload = try await apis[0].request("PUT", "/image/v2/images/\(imageID)/file", token: token, rawBody: Data(repeating: 7, count: 4096),
                                               headers: ["Content-Type": "application/octet-stream"])
        #expect(upload.status == 204)

        let count = 300
        let created = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<count {
                group.addTask {
                    let reply = try await apis[i % 2].request("POST", "/compute/v2.1/servers", token: token, json: ["server": [
                        "name": .string("mp-\(i)"), "flavorRef": "42", "imageRef": .string(imageID), "networks": [["uuid": .string(network)]]]],
                        headers: ["OpenStack-API-Version": "compute 2.90"])
                    return reply.status == 202 ? reply.json["server"]?["id"]?.stringValue : nil
                }
            }
            var ids: [String] = []
            for try await id in group {
                if let id { ids.append(id) }
                // Midway, one conductor dies without a word; its leases run out and the other takes its steps.
                if ids.count == count / 2 { conductorA.signal(SIGKILL) }
            }
            return ids
        }
        #expect(created.count == count)

        var statuses: [String: Int] = [:]
        let deadline = Date().addingTimeInterval(240)
        while Date() < deadline {
            let servers = try await apis[1].request("GET", "/compute/v2.1/servers/detail?limit=1000", token: token).json["servers"]?.arrayValue ?? []
            statuses = Dictionary(grouping: servers, by: { $0["status"]?.stringValue ?? "?" }).mapValues(\.count)
            if statuses["ACTIVE"] == count || statuses["ERROR", default: 0] > 0 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(statuses == ["ACTIVE": count], "\(statuses)")

        // Placement's usages say each server holds exactly one claim; each has exactly one port.
        let project = try #require(try await apis[0].projectID(token: token))
        let usages = try await apis[0].request("GET", "/placement/usages?project_id=\(project)", token: token,
                                               headers: ["OpenStack-API-Version": "placement 1.9"]).json["usages"]
        #expect(usages?["MEMORY_MB"] == .int(count * 128))
        #expect(usages?["VCPU"] == .int(count))
        let ports = try await apis[0].request("GET", "/network/v2.0/ports?network_id=\(network)", token: token).json["ports"]?.arrayValue ?? []
        #expect(ports.filter { created.contains($0["device_id"]?.stringValue ?? "") }.count == count)

        // Moving servers survives a conductor killed -9 too: 20 cold migrations and 20 live migrations, one of the two
        // conductors (B, and a new one, C) killed as they are asked for; C takes B's leases over when they run out. Every move ends, nothing is held
        // twice, and no migration keeps an allocation.
        let conductorC = try BackgroundProcess(ProcessRunner.stratusBinary, ["conductor"] + common)
        defer { conductorC.signal(SIGKILL) }
        try await Self.waitFor(conductorC, "stratus conductor running", "conductor C")
        let moved = Array(created.prefix(40))
        func host(_ id: String) async throws -> String? {
            try await apis[0].request("GET", "/compute/v2.1/servers/\(id)", token: token).json["server"]?["OS-EXT-SRV-ATTR:host"]?.stringValue
        }
        var before: [String: String] = [:]
        for id in moved { before[id] = try await host(id) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for (i, id) in moved.enumerated() {
                let body: JSON = i % 2 == 0 ? ["migrate": nil] : ["os-migrateLive": ["host": nil, "block_migration": "auto"]]
                group.addTask {
                    try await apis[i % 2].request("POST", "/compute/v2.1/servers/\(id)/action", token: token, json: body,
                                                  headers: ["OpenStack-API-Version": "compute 2.90"]).status
                }
            }
            var answered = 0
            for try await status in group {
                #expect(status == 202)
                answered += 1
                if answered == moved.count / 2 { conductorB.signal(SIGKILL) }
            }
        }
        func movesSettled() async throws -> Bool {
            for (i, id) in moved.enumerated() {
                let server = try await apis[1].request("GET", "/compute/v2.1/servers/\(id)", token: token).json["server"]
                let wanted = i % 2 == 0 ? "VERIFY_RESIZE" : "ACTIVE"
                if server?["status"]?.stringValue != wanted || server?["OS-EXT-STS:task_state"]?.isNull == false { return false }
            }
            return true
        }
        try await expectEventually(seconds: 90) { try await movesSettled() }
        for (i, id) in moved.enumerated() where i % 2 == 0 {
            #expect(try await apis[0].request("POST", "/compute/v2.1/servers/\(id)/action", token: token, json: ["confirmResize": nil]).status == 204)
        }
        let migrationList = try await apis[1].request("GET", "/compute/v2.1/os-migrations?limit=1000", token: token,
                                                      headers: ["OpenStack-API-Version": "compute 2.59"]).json["migrations"]?.arrayValue ?? []
        try await expectEventually(seconds: 60) {
            let list = try await apis[1].request("GET", "/compute/v2.1/os-migrations?limit=1000", token: token,
                                                 headers: ["OpenStack-API-Version": "compute 2.59"]).json["migrations"]?.arrayValue ?? []
            return list.count == moved.count && list.allSatisfy { ["confirmed", "completed"].contains($0["status"]?.stringValue ?? "") }
        }
        #expect(migrationList.count == moved.count)
        for id in moved {
            let now = try await host(id)
            #expect(now != nil && now != before[id], "\(id) moved from \(before[id] ?? "?")")
        }
        for migration in migrationList {
            let uuid = try #require(migration["uuid"]?.stringValue)
            try await expectEventually {
                try await apis[0].request("GET", "/placement/allocations/\(uuid)", token: token).json["allocations"]?.objectValue?.isEmpty == true
            }
        }
        let afterMoves = try await apis[0].request("GET", "/placement/usages?project_id=\(project)", token: token,
                                                   headers: ["OpenStack-API-Version": "placement 1.9"]).json["usages"]
        #expect(afterMoves?["MEMORY_MB"] == .int(count * 128), "each server claimed once, after the moves too")

        // Deleting them all gives everything back.
        for (i, id) in created.enumerated() {
            #expect(try await apis[i % 2].request("DELETE", "/compute/v2.1/servers/\(id)", token: token).status == 204)
        }
        var left = count
        let deleteDeadline = Date().addingTimeInterval(180)
        while Date() < deleteDeadline {
            left = try await apis[1].request("GET", "/compute/v2.1/servers?limit=1000", token: token).json["servers"]?.arrayValue?.count ?? -1
            if left == 0 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(left == 0)
        let after = try await apis[1].request("GET", "/placement/usages?project_id=\(project)", token: token,
                                              headers: ["OpenStack-API-Version": "placement 1.9"]).json["usages"]
        #expect((after?["MEMORY_MB"]?.intValue ?? 0) == 0, "\(after?.encodedString() ?? "")")
        let portsAfter = try await apis[0].request("GET", "/network/v2.0/ports?network_id=\(network)", token: token).json["ports"]?.arrayValue ?? []
        let leftPorts = portsAfter.filter { created.contains($0["device_id"]?.stringValue ?? "") }.count
        #expect(leftPorts == 0)

        for (name, process) in all + [("conductor C", conductorC)] where name != "conductor A" && name != "conductor B" {
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: 30) == 0, "\(name) did not stop cleanly:\n\(process.text.suffix(2000))")
        }
    }
}
