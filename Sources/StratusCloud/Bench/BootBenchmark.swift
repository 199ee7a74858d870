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
        var image = Image(id: Identifier.uuid(), owner: "bench")
        image.status = .active
        image.visibility = "public"
        try await ImageStore(storage: cloud.storage).create(image)
        let imageID = image.id
        let instances = InstanceStore(storage: cloud.storage)
        let hostStore = HostStore(storage: cloud.storage)
        while try await hostStore.services().count < hosts { try await Task.sleep(for: .milliseconds(20)) }
        let port = Int(cloud.baseURL.split(separator: ":").last ?? "") ?? 0
        let headers = [("X-Auth-Token", "admin:admin"), ("Content-Type", "application/json"), ("OpenStack-API-Version", "compute 2.90")]
        let cpuStart = Self.cpuSeconds()
        let start = ContinuousClock.now
        let perClient = (servers + clients - 1) / clients
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    let connection = try await BenchConnection.connect(host: "127.0.0.1", port: port)
                    for i in 0..<perClient where client * perClient + i < servers {
                        let body: JSON = ["server": ["name": .string("bench-\(client)-\(i)"), "flavorRef": "42", "imageRef": .string(imageID), "networks": "none"]]
                        _ = try await connection.request(.POST, "/compute/v2.1/servers", headers: headers, body: body.encodedBytes())
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        // Poll with a count, not a full read: at 10,000 servers a read per poll costs more than the boots.
        while true {
            let pending = try await cloud.storage.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM compute_instances WHERE vm_state = 'building'").first()?.decode(column: "n", as: Int.self) ?? 0
            }
            let total = try await cloud.storage.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM compute_instances").first()?.decode(column: "n", as: Int.self) ?? 0
            }
            if total >= servers && pending == 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let all = try await instances.list(projectID: nil)
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.inSeconds
        let latencies = all.compactMap { instance in instance.launchedAt.map { ($0 - instance.createdAt) * 1000 } }.sorted()
        func percentile(_ p: Double) -> Double { Percentile.of(latencies, p) }
        // Schedule-and-claim of each build: from the build's start in the conductor to its claim committed, as
        // recorded by the conductor_schedule_and_build_instances event (includes waiting for the database).
        let decisions = try await cloud.storage.read { sql in
            try await sql.raw(
                "SELECT (finish_time - start_time) * 1000 AS ms FROM compute_instance_action_events WHERE event = 'conductor_schedule_and_build_instances'"
            ).all().map { try $0.decode(column: "ms", as: Double.self) }
        }.sorted()
        let pure = cloud.schedulerMetrics.drain().sorted()
        func decision(_ p: Double) -> Double { Percentile.of(decisions, p) }
        func pureDecision(_ p: Double) -> Double { Percentile.of(pure, p) }
        return [
            "benchmark": "boot",
            "scheduling_decision_ms": ["median": .number(pureDecision(0.5)), "p99": .number(pureDecision(0.99))],
            "schedule_and_claim_ms": ["median": .number(decision(0.5)), "p99": .number(decision(0.99))], "servers": .int(servers), "hosts": .int(hosts), "clients": .int(clients),
            "active": .int(all.filter { $0.vmState == .active }.count), "error": .int(all.filter { $0.vmState == .error }.count),
            "boots_per_second": .number((Double(servers) / seconds).rounded()),
            "post_to_active_ms": ["median": .number(percentile(0.5)), "p99": .number(percentile(0.99))],
            "cpu_seconds": .number(((Self.cpuSeconds() - cpuStart) * 100).rounded() / 100),
            "peak_rss_mib": .int(Self.peakRSSMiB()), "machine": MachineInfo.json(),
        ]
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func peakRSSMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return -1 }
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) / 1024
    }
}
