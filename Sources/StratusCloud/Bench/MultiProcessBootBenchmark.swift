import Foundation
import Logging
import StratusCore
import StratusStorage

/// `stratus bench boot --processes`: the boot benchmark across separate processes on PostgreSQL, as deployed:
/// `stratus db migrate` and `bootstrap`, then N `stratus api`, M `stratus conductor` and one `stratus compute`
/// with fake hosts, each its own process started from this binary. Reports boots/s and POST→ACTIVE, the channel's
/// latency as the compute process measured it, and RSS and CPU per process. A fresh database is made in the
/// given server and dropped afterwards.
public struct MultiProcessBootBenchmark: Sendable {
    public var servers: Int
    public var hosts: Int
    public var clients: Int
    public var apis: Int
    public var conductors: Int
    /// A PostgreSQL server (any database in it): the benchmark's own database is created beside it.
    public var server: DatabaseURL

    public init(servers: Int, hosts: Int, clients: Int, apis: Int, conductors: Int, server: DatabaseURL) {
        self.servers = servers
        self.hosts = hosts
        self.clients = clients
        self.apis = apis
        self.conductors = conductors
        self.server = server
    }

    public func run(logger: Logger) async throws -> JSON {
        guard server.engine == .postgresql else { throw ConfigError("--processes needs a PostgreSQL --database (processes share it)") }
        let name = "stratus_bench_\(getpid())"
        try await Self.execute(server, "CREATE DATABASE \(name)", logger: logger)
        let url = "postgresql://\(server.username)\(server.password.map { ":\($0)" } ?? "")@\(server.host):\(server.port)/\(name)"
        let dir = NSTemporaryDirectory() + "stratus-bench-processes-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        do {
            let report = try await measure(databaseURL: try DatabaseURL(parsing: url), connection: url, dir: dir, logger: logger)
            try? FileManager.default.removeItem(atPath: dir)
            try await Self.execute(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)", logger: logger)
            return report
        } catch {
            // The logs stay for reading; the database goes (a failure to drop it is said, under the first error).
            do { try await Self.execute(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)", logger: logger) } catch let drop {
                logger.error("dropping the benchmark database \(name) failed: \(drop)")
            }
            throw ConfigError("\(error) (process logs in \(dir))")
        }
    }

    func measure(databaseURL: DatabaseURL, connection: String, dir: String, logger: Logger) async throws -> JSON {
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let ports = try (0..<apis).map { _ in try LoopbackPort.free() }
        let perHost = max(1, (servers + hosts - 1) / hosts)
        let sizes = "[fake_driver]\nvcpus = \(perHost)\nmemory_mb = \(max(128, perHost * 128))\nlocal_gb = \(perHost)\n"
        let config = dir + "/stratus.conf"
        try """
            [DEFAULT]
            compute_driver = fake
            [database]
            connection = \(connection)
            max_pool_size = 20
            [api]
            auth_strategy = noauth2
            public_endpoint = http://127.0.0.1:\(ports[0])
            [identity]
            password_hash_rounds = 4
            [quota]
            instances = -1
            cores = -1
            ram = -1
            \(sizes)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let common = ["--config", config, "--data-dir", dir + "/data"]
        for step in [["db", "migrate"], ["bootstrap"]] {
            try await ChildProcess(step.joined(separator: "-"), binary: binary, arguments: step + common, logDirectory: dir).finish()
        }
        let agentConfig = dir + "/compute-agent.conf"
        // One process serves every fake host: it gets the slots of several hosts (Nova's max_concurrent_builds is
        // per host), or its 64 would make the agent, not the control plane, what is measured.
        let slots = "[compute]\nagent_concurrency = \(min(10_000, max(64, hosts * 4)))\n"
        try (try String(contentsOfFile: dir + "/data/compute-agent.conf", encoding: .utf8) + sizes + slots)
            .write(toFile: agentConfig, atomically: true, encoding: .utf8)

        var children: [ChildProcess] = []
        do {
            for (i, port) in ports.enumerated() {
                children.append(try ChildProcess("api-\(i + 1)", binary: binary, arguments: ["api", "--port", "\(port)"] + common, logDirectory: dir))
            }
            for i in 0..<conductors {
                children.append(try ChildProcess("conductor-\(i + 1)", binary: binary, arguments: ["conductor"] + common, logDirectory: dir))
            }
            let compute = try ChildProcess("compute", binary: binary, arguments: [
                "compute", "--config", agentConfig, "--data-dir", dir + "/agent", "--driver", "fake", "--fake-hosts", "\(hosts)",
                "--host", "bench"], logDirectory: dir)
            children.append(compute)
            for child in children {
                try await child.waitFor(child.name.hasPrefix("api") ? "stratus api listening"
                    : child.name.hasPrefix("conductor") ? "stratus conductor running" : "compute hosts registered")
            }
            var report = try await Storage.withStorage(databaseURL, maxConnections: 2, logger: logger) { storage in
                let imageID = try await BootBenchmark.benchImage(storage)
                return try await BootBenchmark.boot(servers: servers, clients: clients, ports: ports, imageID: imageID, storage: storage)
            }
            var processes: [String: JSON] = [:]
            for child in children {
                let usage = child.usage()
                processes[child.name] = ["peak_rss_mib": .int(usage.peakRSSMiB), "cpu_seconds": .number(usage.cpuSeconds)]
            }
            await compute.stop()  // it says its channel latency as it stops
            for child in children { await child.stop() }
            report["benchmark"] = "boot (separate processes on PostgreSQL)"
            report["layout"] = .string("\(apis) api + \(conductors) conductor + 1 compute (\(hosts) fake hosts)")
            report["hosts"] = .int(hosts)
            report["channel"] = Self.channelLatency(compute.log)
            report["processes"] = .object(processes)
            report["machine"] = MachineInfo.json()
            return .object(report)
        } catch {
            for child in children { await child.stop(grace: .seconds(2)) }
            throw error
        }
    }

    /// The compute process's closing line: "sent→claimed p50 X ms p99 Y ms (database clock); sent→received p50 …".
    static func channelLatency(_ log: String) -> JSON {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("channel latency over") }) else { return .null }
        let numbers = line.split(whereSeparator: { $0 == " " }).compactMap { Double($0) }
        // The count, then p50 and p99 sent→claimed, then p50 and p99 sent→received.
        guard numbers.count >= 5 else { return .string(String(line)) }
        return ["messages": .int(Int(numbers[0])),
                "sent_to_claimed_ms": ["p50": .number(numbers[1]), "p99": .number(numbers[2])],
                "sent_to_received_ms": ["p50": .number(numbers[3]), "p99": .number(numbers[4])]]
    }

    /// One statement on the server's own database (CREATE/DROP DATABASE cannot run in a transaction).
    static func execute(_ server: DatabaseURL, _ statement: String, logger: Logger) async throws {
        try await Storage.withStorage(server, maxConnections: 1, logger: logger) { storage in
            try await storage.autocommit { sql in try await sql.raw("\(unsafeRaw: statement)").run() }
        }
    }
}
