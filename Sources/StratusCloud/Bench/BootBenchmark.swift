import Foundation
import Logging
import StratusCompute
import StratusCore
import StratusImage
import StratusStorage

/// `stratus bench boot`: boots N servers on H fake hosts (no spawn delay) through the real API, conductor,
/// scheduler, placement and agents, and reports boots/s and POST→ACTIVE latency from the instances' own
/// timestamps, CPU seconds and peak RSS.
public struct BootBenchmark: Sendable {
    public var servers: Int
    public var hosts: Int
    public var clients: Int

    public init(servers: Int, hosts: Int, clients: Int = 16) {
        self.servers = servers
        self.hosts = hosts
        self.clients = clients
    }

    public func run(logger: Logger) async throws -> JSON {
        // Hosts big enough that every server fits: this measures the pipeline, not NoValidHost.
        let perHost = max(1, (servers + hosts - 1) / hosts)
        let config = """
            [fake_driver]
            host_count = \(hosts)
            vcpus = \(max(1, perHost))
            memory_mb = \(max(128, perHost * 128))
            local_gb = \(max(1, perHost))
            [quota]
            instances = -1
            cores = -1
            ram = -1

            """
        return try await BenchCloud.run("boot", config: config, logger: logger) { cloud in
            try await measure(cloud)
        }
    }

    func measure(_ cloud: ReadyCloud) async throws -> JSON {
        let imageID = try await Self.benchImage(cloud.storage)
        while try await HostStore(storage: cloud.storage).services().count < hosts { try await Task.sleep(for: .milliseconds(20)) }
        let port = Int(cloud.baseURL.split(separator: ":").last ?? "") ?? 0
        let cpuStart = Self.cpuSeconds()
        var report = try await Self.boot(servers: servers, clients: clients, ports: [port], imageID: imageID, storage: cloud.storage)
        let pure = cloud.schedulerMetrics.drain().sorted()
        report["benchmark"] = "boot"
        report["hosts"] = .int(hosts)
        report["scheduling_decision_ms"] = ["median": .number(Percentile.of(pure, 0.5)), "p99": .number(Percentile.of(pure, 0.99))]
        report["cpu_seconds"] = .number(((Self.cpuSeconds() - cpuStart) * 100).rounded() / 100)
        report["peak_rss_mib"] = .int(Self.peakRSSMiB())
        report["machine"] = MachineInfo.json()
        return .object(report)
    }

    /// A public image record for the fake hosts (they never read its bits).
    static func benchImage(_ storage: Storage) async throws -> String {
        var image = Image(id: Identifier.uuid(), owner: "bench")
        image.status = .active
        image.visibility = "public"
        try await ImageStore(storage: storage).create(image)
        return image.id
    }

    /// Posts `servers` boots from `clients` keep-alive connections spread over the API `ports`, waits until none
    /// is building, and reports boots/s and POST→ACTIVE from the instances' own timestamps.
    static func boot(servers: Int, clients: Int, ports: [Int], imageID: String, storage: Storage) async throws -> [String: JSON] {
        let headers = [("X-Auth-Token", "admin:admin"), ("Content-Type", "application/json"), ("OpenStack-API-Version", "compute 2.90")]
        let start = ContinuousClock.now
        let wallStart = Date().timeIntervalSince1970
        let perClient = (servers + clients - 1) / clients
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    let connection = try await BenchConnection.connect(host: "127.0.0.1", port: ports[client % ports.count])
                    for i in 0..<perClient where client * perClient + i < servers {
                        let body: JSON = ["server": ["name": .string("bench-\(client)-\(i)"), "flavorRef": "42", "imageRef": .string(imageID), "networks": "none"]]
                        _ = try await connection.request(.POST, "/compute/v2.1/servers", headers: headers, body: body.encodedBytes())
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        // Poll with a count, not a full read, and not often: each count scans the instances (~20 ms at 10,000 on
        // PostgreSQL), and polled every 20 ms it kept a database backend busy and took CPU from the boots. The end
        // is taken from the records (the last launched_at), so the poll interval does not blur the figure.
        while true {
            let (total, pending) = try await storage.read { sql in
                let row = try await sql.raw("""
                    SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN vm_state = 'building' THEN 1 ELSE 0 END), 0) AS pending
                    FROM compute_instances
                    """).first()
                return (try row?.decode(column: "n", as: Int.self) ?? 0, try row?.decode(column: "pending", as: Int.self) ?? 0)
            }
            if total >= servers && pending == 0 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let all = try await InstanceStore(storage: storage).list(projectID: nil)
        var seconds = (ContinuousClock.now - start).inSeconds
        if let lastLaunch = all.compactMap(\.launchedAt).max(), all.allSatisfy({ $0.launchedAt != nil }) {
            seconds = max(0.001, lastLaunch - wallStart)
        }
        let latencies = all.compactMap { instance in instance.launchedAt.map { ($0 - instance.createdAt) * 1000 } }.sorted()
        // Schedule-and-claim of each build: from the build's start in the conductor to its claim committed, as
        // recorded by the conductor_schedule_and_build_instances event (includes waiting for the database).
        let decisions = try await storage.read { sql in
            try await sql.raw(
                "SELECT (finish_time - start_time) * 1000 AS ms FROM compute_instance_action_events WHERE event = 'conductor_schedule_and_build_instances'"
            ).all().map { try $0.decode(column: "ms", as: Double.self) }
        }.sorted()
        return [
            "servers": .int(servers), "clients": .int(clients),
            "active": .int(all.filter { $0.vmState == .active }.count), "error": .int(all.filter { $0.vmState == .error }.count),
            // What the failed ones say, so a run with errors explains itself.
            "error_faults": .object(Dictionary(grouping: all.filter { $0.vmState == .error }) { String(($0.fault?.details ?? "no fault recorded").prefix(300)) }
                .mapValues { .int($0.count) }),
            "boots_per_second": .number((Double(servers) / seconds).rounded()),
            "seconds": .number((seconds * 10).rounded() / 10),
            "post_to_active_ms": ["median": .number(Percentile.of(latencies, 0.5)), "p99": .number(Percentile.of(latencies, 0.99))],
            "schedule_and_claim_ms": ["median": .number(Percentile.of(decisions, 0.5)), "p99": .number(Percentile.of(decisions, 0.99))],
        ]
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// Peak resident memory (VmHWM) of a process (`self`, or a pid), from /proc; -1 when it cannot be read.
    static func peakRSSMiB(process: String = "self") -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return -1 }
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) / 1024
    }
}
