import Foundation
import Logging
import StratusCompute
import StratusComputeAgent
import StratusCore
import StratusImage

/// `stratus bench live-migration`: a running tiny guest with 256 MiB moved between two QEMU hosts on this machine,
/// back and forth, once with each host's own instances_path (a block migration) and once with one shared path (only
/// the memory moves). Each round times the API call → migration `completed`, against what QEMU itself took (the disk
/// mirror until in sync, then the memory migration's `total-time`) and the guest's `downtime` as QEMU measured it;
/// the difference is what the control plane adds (the storage check, the destination's preparation including
/// starting its QEMU, the step messages and the source's clean-up).
public struct LiveMigrationBenchmark: Sendable {
    public var rounds: Int
    public var tinyGuest: String

    public init(rounds: Int, tinyGuest: String) {
        self.rounds = rounds
        self.tinyGuest = tinyGuest
    }

    public func run(logger: Logger) async throws -> JSON {
        var result: [String: JSON] = ["benchmark": "live-migration", "guest_memory_mb": 256, "rounds": .int(rounds)]
        for shared in [false, true] {
            // Short names: instances_path/HOST/UUID/serial.sock (or UUID/HOST/ when shared) must fit a Unix socket path.
            let config = "[DEFAULT]\ncompute_driver = qemu\nhost = bl\n[qemu]\nhost_count = 2\nshared_instances_path = \(shared)\n"
                + "tiny_guest_dir = \(tinyGuest)\n"
            let run = try await BenchCloud.run("live", config: config, logger: logger) { cloud in try await measure(cloud) }
            result[shared ? "shared_instance_path" : "block_migration"] = run
            result["accelerator"] = run["accelerator"]
        }
        return .object(result)
    }

    func measure(_ cloud: ReadyCloud) async throws -> JSON {
        guard cloud.qemuDrivers.count == 2 else { throw DriverError("the cloud runs no two QEMU hosts (is QEMU installed?)") }
        guard let image = try await ImageStore(storage: cloud.storage).all().first(where: { $0.name == TinyGuest.imageName }) else {
            throw DriverError("no \(TinyGuest.imageName) image: build it with scripts/build-tiny-guest \(tinyGuest)")
        }
        let port = Int(cloud.baseURL.split(separator: ":").last ?? "") ?? 0
        let connection = try await BenchConnection.connect(host: "127.0.0.1", port: port)
        defer { Task { await connection.close() } }
        let headers = [("X-Auth-Token", "admin:admin"), ("Content-Type", "application/json"), ("OpenStack-API-Version", "compute 2.90")]
        func post(_ path: String, _ body: JSON) async throws {
            let reply = try await connection.request(.POST, "/compute/v2.1" + path, headers: headers, body: body.encodedBytes())
            guard reply.status < 300 else { throw DriverError("POST \(path) answered \(reply.status)") }
        }
        let migrations = MigrationStore(storage: cloud.storage)
        func moves(_ uuid: String) async throws -> [MigrationRecord] {
            var filter = MigrationStore.Filter()
            filter.instanceUUID = uuid
            return try await migrations.list(filter)
        }
        try await post("/flavors", ["flavor": ["name": "bench-256", "id": "bench-256", "ram": 256, "vcpus": 1, "disk": 1]])
        try await post("/servers", ["server": ["name": "bench-live", "flavorRef": "bench-256", "imageRef": .string(image.id), "networks": "none"]])
        guard let uuid = try await InstanceStore(storage: cloud.storage).list(projectID: nil).first?.uuid else {
            throw DriverError("the guest was not created")
        }
        try await waitFor("the guest to boot", seconds: 180) {
            cloud.qemuDrivers.values.contains { QEMUGuest(directory: $0.settings.instancesPath + "/" + uuid).console(lines: nil).contains(TinyGuest.marker) }
        }
        var api: [Double] = [], qemu: [Double] = [], downtime: [Double] = [], mirror: [Double] = []
        // Per step of the newest live-migration action: the wait before it (since the previous step was recorded, or
        // the API call) and its own run (the host's start to the conductor recording its end).
        var waits: [String: [Double]] = [:], runs: [String: [Double]] = [:]
        let store = InstanceStore(storage: cloud.storage)
        for round in 1...rounds {
            let start = ContinuousClock.now
            try await post("/servers/\(uuid)/action", ["os-migrateLive": ["host": .null, "block_migration": "auto"]])
            try await waitFor("live migration \(round)", seconds: 300) {
                let list = try await moves(uuid)
                if let failed = list.first(where: { $0.status.isFinal && $0.status != .completed }) {
                    throw DriverError("live migration \(round) ended \(failed.status.rawValue): \(failed.error ?? "")")
                }
                return list.filter { $0.status == .completed }.count == round
            }
            api.append((ContinuousClock.now - start).inMilliseconds)
            let source = try await moves(uuid).first?.sourceCompute ?? ""
            guard let stats = cloud.qemuDrivers[source]?.lastOutgoingMigration(uuid) else { throw DriverError("no QEMU figures from \(source)") }
            qemu.append(stats.mirrorMs + stats.memoryMs)
            if let action = try await store.actions(instanceUUID: uuid).first(where: { $0.action == "live-migration" }) {
                var previous = action.startTime
                for event in action.events.sorted(by: { $0.startTime < $1.startTime }) {
                    waits[event.name, default: []].append((event.startTime - previous) * 1000)
                    let end = event.finishTime ?? event.startTime
                    runs[event.name, default: []].append((end - event.startTime) * 1000)
                    previous = end
                }
            }
            mirror.append(stats.mirrorMs)
            downtime.append(stats.downtimeMs)
        }
        _ = try await connection.request(.DELETE, "/compute/v2.1/servers/\(uuid)", headers: headers)
        try await waitFor("the guest to go", seconds: 60) {
            cloud.qemuDrivers.values.allSatisfy { !FileManager.default.fileExists(atPath: $0.settings.instancesPath + "/" + uuid) }
        }
        func summary(_ values: [Double]) -> JSON {
            ["median": .number(Percentile.of(values.sorted(), 0.5).rounded()), "all": .array(values.map { .number($0.rounded()) })]
        }
        return [
            "accelerator": .string(cloud.qemuDriver?.settings.accelerator.rawValue ?? ""),
            "api_to_completed_ms": summary(api), "qemu_mirror_and_migrate_ms": summary(qemu), "qemu_mirror_ms": summary(mirror),
            "control_plane_overhead_ms": summary(zip(api, qemu).map { $0 - $1 }), "guest_downtime_ms": summary(downtime),
            "step_wait_median_ms": .object(waits.mapValues { .number(Percentile.of($0.sorted(), 0.5).rounded()) }),
            "step_run_median_ms": .object(runs.mapValues { .number(Percentile.of($0.sorted(), 0.5).rounded()) }),
        ]
    }

    func waitFor(_ what: String, seconds: Double, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw DriverError("timed out waiting for \(what)")
    }
}
