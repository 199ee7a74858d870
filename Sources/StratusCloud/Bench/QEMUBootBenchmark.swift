import Foundation
import Logging
import StratusComputeAgent
import StratusCore
import StratusImage

/// `stratus bench qemu-boot`: what the control plane adds to a real boot. Each round boots the tiny guest through
/// the API (POST → marker on its console) and then starts the very QEMU command line the driver used, by hand
/// (start → marker), polling both consoles the same way; the difference is the control plane's cost.
public struct QEMUBootBenchmark: Sendable {
    public var rounds: Int
    public var tinyGuest: String

    public init(rounds: Int, tinyGuest: String) {
        self.rounds = rounds
        self.tinyGuest = tinyGuest
    }

    public func run(logger: Logger) async throws -> JSON {
        let config = "[DEFAULT]\ncompute_driver = qemu\nhost = bench-qemu\n[qemu]\ntiny_guest_dir = \(tinyGuest)\n"
        return try await BenchCloud.run("qemu-boot", config: config, logger: logger) { cloud in try await measure(cloud) }
    }

    func measure(_ cloud: ReadyCloud) async throws -> JSON {
        guard let driver = cloud.qemuDriver else { throw DriverError("the cloud runs no QEMU host (is QEMU installed?)") }
        guard let image = try await ImageStore(storage: cloud.storage).all().first(where: { $0.name == TinyGuest.imageName }) else {
            throw DriverError("no \(TinyGuest.imageName) image: build it with scripts/build-tiny-guest \(tinyGuest)")
        }
        while try await cloud.storage.read({ try await $0.raw("SELECT COUNT(*) AS n FROM compute_nodes").first()?.decode(column: "n", as: Int.self) ?? 0 }) == 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        let port = Int(cloud.baseURL.split(separator: ":").last ?? "") ?? 0
        let connection = try await BenchConnection.connect(host: "127.0.0.1", port: port)
        defer { Task { await connection.close() } }
        let headers = [("X-Auth-Token", "admin:admin"), ("Content-Type", "application/json"), ("OpenStack-API-Version", "compute 2.90")]
        let instances = driver.settings.instancesPath
        var api: [Double] = []
        var byHand: [Double] = []
        var apiToQEMU: [Double] = []
        var byHandToQEMU: [Double] = []
        for round in 0..<(rounds + 1) {  // round 0 fills the image cache; it is reported, not counted
            let body: JSON = ["server": ["name": .string("bench-\(round)"), "flavorRef": "42", "imageRef": .string(image.id), "networks": "none"]]
            let start = ContinuousClock.now
            _ = try await connection.request(.POST, "/compute/v2.1/servers", headers: headers, body: body.encodedBytes())
            let (uuid, running) = try await waitForMarker(in: instances, excluding: ["_base"], since: start)
            api.append((ContinuousClock.now - start).inMilliseconds)
            apiToQEMU.append(running)
            guard let data = FileManager.default.contents(atPath: "\(instances)/\(uuid)/guest.json"),
                  let record = try? JSON.parse(data), let planJSON = record["plan"] else { throw DriverError("no launch plan for \(uuid)") }
            let disk = try await HostCommand.run("qemu-img", ["info", "-U", "--output=json", "\(instances)/\(uuid)/disk"])
            let backing = (try? JSON.parse(disk.output)) ?? [:]
            _ = try await connection.request(.DELETE, "/compute/v2.1/servers/\(uuid)", headers: headers)
            while FileManager.default.fileExists(atPath: "\(instances)/\(uuid)") { try await Task.sleep(for: .milliseconds(20)) }
            let hand = try await startByHand(planJSON, backing: backing, scratch: instances + "/../bench-by-hand-\(round)")
            byHand.append(hand.marker)
            byHandToQEMU.append(hand.running)
        }
        let cold = api.removeFirst()
        byHand.removeFirst()
        apiToQEMU.removeFirst()
        byHandToQEMU.removeFirst()
        func summary(_ values: [Double]) -> JSON {
            ["median": .number(Percentile.of(values.sorted(), 0.5).rounded()), "all": .array(values.map { .number($0.rounded()) })]
        }
        let apiMedian = Percentile.of(api.sorted(), 0.5)
        let handMedian = Percentile.of(byHand.sorted(), 0.5)
        return [
            "benchmark": "qemu-boot", "accelerator": .string(driver.settings.accelerator.rawValue), "rounds": .int(rounds),
            "api_post_to_marker_ms": summary(api), "by_hand_start_to_marker_ms": summary(byHand),
            "control_plane_overhead_ms": .number((apiMedian - handMedian).rounded()),
            "paired_difference_ms": summary(zip(api, byHand).map { $0 - $1 }),
            "first_boot_with_cache_fill_ms": .number(cold.rounded()),
            // Without the guest's own boot (±100 ms under TCG): until QEMU runs, i.e. its pid file exists.
            "api_post_to_qemu_running_ms": summary(apiToQEMU), "by_hand_start_to_qemu_running_ms": summary(byHandToQEMU),
            "control_plane_before_qemu_ms": .number(
                (Percentile.of(apiToQEMU.sorted(), 0.5) - Percentile.of(byHandToQEMU.sorted(), 0.5)).rounded()),
        ]
    }

    /// Waits until a guest directory under `instances` has the tiny guest's marker on its console; its name, and when
    /// (ms after `start`) its QEMU's pid file first appeared.
    func waitForMarker(in instances: String, excluding: Set<String>, since start: ContinuousClock.Instant) async throws -> (String, Double) {
        let deadline = Date().addingTimeInterval(180)
        var running: Double?
        while Date() < deadline {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: instances)) ?? [] where !excluding.contains(name) {
                if running == nil, FileManager.default.fileExists(atPath: "\(instances)/\(name)/qemu.pid") {
                    running = (ContinuousClock.now - start).inMilliseconds
                }
                if let log = FileManager.default.contents(atPath: "\(instances)/\(name)/console.log"),
                   String(decoding: log, as: UTF8.self).contains(TinyGuest.marker) { return (name, running ?? 0) }
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        throw DriverError("no guest showed \(TinyGuest.marker) within 180 s")
    }

    /// Starts the driver's QEMU command line for a guest in `scratch` (its own overlay made first, untimed) and times
    /// start → marker.
    func startByHand(_ planJSON: JSON, backing: JSON, scratch: String) async throws -> (marker: Double, running: Double) {
        var plan = try JSONDecoder().decode(QEMULaunchPlan.self, from: Data(planJSON.encodedString().utf8))
        let dir = (scratch as NSString).standardizingPath
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if plan.disk != nil, let base = backing["backing-filename"]?.stringValue {
            let format = backing["backing-filename-format"]?.stringValue ?? "qcow2"
            _ = try await HostCommand.run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", format, dir + "/disk"])
            plan.disk = dir + "/disk"
        }
        plan.directory = dir
        let start = ContinuousClock.now
        // The pid file is polled exactly as on the API side, while QEMU starts.
        let (binary, arguments) = (plan.binary, plan.arguments)
        async let started = HostCommand.run(binary, arguments)
        var running = 0.0
        while ContinuousClock.now - start < .seconds(30) {
            if FileManager.default.fileExists(atPath: plan.pidFile) {
                running = (ContinuousClock.now - start).inMilliseconds
                break
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        let result = try await started
        guard result.status == 0 else { throw DriverError("QEMU by hand failed: \(result.complaint)") }
        let guest = QEMUGuest(directory: dir)
        guard await guest.waitForConsole(containing: TinyGuest.marker, seconds: 180) else {
            throw DriverError("QEMU by hand never showed the marker")
        }
        let elapsed = (ContinuousClock.now - start).inMilliseconds
        await guest.kill()
        return (elapsed, running)
    }

}
