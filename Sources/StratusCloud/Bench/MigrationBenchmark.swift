import Foundation
import Logging
import StratusCompute
import StratusCore
import StratusStorage

/// `stratus bench migrate`: boots N servers on H fake hosts, then cold-migrates all of them at once through the
/// API and reports how long until every one is in VERIFY_RESIZE (or back, failed), with the migrations' own
/// timestamps; then confirms them all and checks that placement holds exactly one claim per server.
public struct MigrationBenchmark: Sendable {
    public var servers: Int
    public var hosts: Int

    public init(servers: Int, hosts: Int) {
        self.servers = servers
        self.hosts = hosts
    }

    public func run(logger: Logger) async throws -> JSON {
        // Room for every server twice over (source and destination are both held during a move).
        let perHost = max(2, 2 * ((servers + hosts - 1) / hosts))
        let config = """
            [fake_driver]
            host_count = \(hosts)
            vcpus = \(perHost)
            memory_mb = \(perHost * 128)
            local_gb = \(perHost)
            [quota]
            instances = -1
            cores = -1
            ram = -1

            """
        return try await BenchCloud.run("migrate", config: config, logger: logger) { cloud in try await measure(cloud) }
    }

    func measure(_ cloud: ReadyCloud) async throws -> JSON {
        let imageID = try await BootBenchmark.benchImage(cloud.storage)
        while try await HostStore(storage: cloud.storage).services().count < hosts { try await Task.sleep(for: .milliseconds(20)) }
        let port = Int(cloud.baseURL.split(separator: ":").last ?? "") ?? 0
        _ = try await BootBenchmark.boot(servers: servers, clients: min(16, servers), ports: [port], imageID: imageID, storage: cloud.storage)
        let instances = InstanceStore(storage: cloud.storage)
        let ids = try await instances.list(projectID: nil).map(\.uuid)
        let start = ContinuousClock.now
        let statuses = try await act(ids, port: port) { _ in ["migrate": .null] }
        try await waitUntilSettled(instances)
        let seconds = (ContinuousClock.now - start).inSeconds
        let migrations = try await MigrationStore(storage: cloud.storage).list(MigrationStore.Filter())
        let latencies = migrations.filter { $0.status == .finished }.map { ($0.updatedAt - $0.createdAt) * 1000 }.sorted()
        let moved = try await instances.list(projectID: nil)
        let confirmStatuses = try await act(moved.filter { $0.vmState == .resized }.map(\.uuid), port: port) { _ in ["confirmResize": .null] }
        // Confirm sets no task state: wait for every resized server to be active again.
        while try await instances.list(projectID: nil).contains(where: { $0.vmState == .resized }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let claims = try await cloud.storage.read { sql in
            try await sql.raw("SELECT COUNT(DISTINCT consumer_uuid) AS n FROM placement_allocations").first()?.decode(column: "n", as: Int.self) ?? -1
        }
        return [
            "benchmark": "migrate (cold, concurrent, fake hosts)", "servers": .int(servers), "hosts": .int(hosts),
            "accepted": .int(statuses.filter { $0 == 202 }.count),
            "verify_resize": .int(moved.filter { $0.vmState == .resized }.count),
            "migration_errors": .int(migrations.filter { $0.status == .error }.count),
            "seconds": .number((seconds * 100).rounded() / 100),
            "migrate_to_verify_resize_ms": ["median": .number(Percentile.of(latencies, 0.5)), "p99": .number(Percentile.of(latencies, 0.99))],
            "confirmed": .int(confirmStatuses.filter { $0 == 204 }.count),
            "placement_consumers_after_confirm": .int(claims),
            "machine": MachineInfo.json(),
        ]
    }

    /// Posts one action per server, all at once (one connection each, as many clients would), and returns the statuses.
    func act(_ ids: [String], port: Int, _ body: @escaping @Sendable (String) -> JSON) async throws -> [Int] {
        let headers = [("X-Auth-Token", "admin:admin"), ("Content-Type", "application/json"), ("OpenStack-API-Version", "compute 2.90")]
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for id in ids {
                group.addTask {
                    let connection = try await BenchConnection.connect(host: "127.0.0.1", port: port)
                    let reply = try await connection.request(.POST, "/compute/v2.1/servers/\(id)/action", headers: headers,
                                                             body: body(id).encodedBytes())
                    await connection.close()
                    return reply.status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// Until no server has a task in progress.
    func waitUntilSettled(_ instances: InstanceStore) async throws {
        while try await !instances.inFlight().isEmpty { try await Task.sleep(for: .milliseconds(50)) }
    }
}
