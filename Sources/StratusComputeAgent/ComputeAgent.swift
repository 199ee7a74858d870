import Logging
import ServiceLifecycle
import StratusCore
import StratusQueue

/// The compute agent of one host: registers the host, heartbeats, and runs what the conductor sends to
/// `compute.HOST` through its driver. It talks to the control plane only through the queue.
public struct ComputeAgent: Service {
    public let host: String
    public let zone: String
    public let driver: any VirtDriver
    let queue: Queue
    let logger: Logger
    let heartbeatInterval: Duration
    /// Nova's `sync_power_state_interval`: how often the agent reports what its guests really do.
    let powerSyncInterval: Duration
    /// Nova's `[image_cache] manager_interval`: how often the driver's housekeeping runs.
    let maintenanceInterval: Duration

    public init(host: String, zone: String = "nova", driver: any VirtDriver, queue: Queue, logger: Logger,
                heartbeatInterval: Duration = .seconds(10), powerSyncInterval: Duration = .seconds(600),
                maintenanceInterval: Duration = .seconds(2400)) {
        self.maintenanceInterval = maintenanceInterval
        self.host = host
        self.zone = zone
        self.driver = driver
        self.queue = queue
        self.logger = logger
        self.heartbeatInterval = heartbeatInterval
        self.powerSyncInterval = powerSyncInterval
    }

    public static func topic(_ host: String) -> String { "compute.\(host)" }

    /// Where hosts report results and heartbeats: a topic of its own, so a finished spawn is never queued behind
    /// a flood of new builds on the conductor's request topic.
    public static let reportsTopic = "conductor-reports"

    public func run() async throws {
        try await register()
        let consumer = QueueConsumer(queue: queue, topic: Self.topic(host), owner: "agent-\(host)", logger: logger) { message in
            try await handle(message)
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await consumer.run() }
            group.addTask {
                try await PeriodicService(every: heartbeatInterval) {
                    _ = try? await queue.cast(topic: Self.reportsTopic, payload: ["op": "heartbeat", "host": .string(host)])
                }.run()
            }
            group.addTask {
                try await PeriodicService(every: powerSyncInterval) {
                    let guests = await driver.listGuests()
                    _ = try? await queue.cast(topic: Self.reportsTopic, payload: [
                        "op": "power_sync", "host": .string(host), "guests": .object(guests.mapValues { .bool($0) }),
                    ])
                }.run()
            }
            group.addTask { try await PeriodicService(every: maintenanceInterval) { await driver.maintain() }.run() }
        }
    }

    /// Tells the conductor this host exists and what it offers; retried until the conductor answers.
    func register() async throws {
        let resources = await driver.hostResources()
        let payload: JSON = [
            "op": "register_host", "host": .string(host), "zone": .string(zone), "vcpus": .int(resources.vcpus),
            "memory_mb": .int(resources.memoryMB), "local_gb": .int(resources.localGB),
            "hypervisor_type": .string(driver.hypervisorType), "hypervisor_version": .int(driver.hypervisorVersion),
            "cpu_info": driver.cpuInfo,
        ]
        while true {
            do {
                _ = try await queue.call(topic: "conductor", payload: payload, timeout: 10)
                logger.info("compute host \(host) registered (\(driver.hypervisorType): \(resources.vcpus) vCPU, \(resources.memoryMB) MB)")
                return
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning("registering compute host \(host) failed, retrying: \(error)")
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    func handle(_ message: QueueMessage) async throws -> JSON? {
        let instance = message.payload["instance"]?.stringValue ?? ""
        switch message.payload["op"]?.stringValue {
        case "spawn":
            let request = SpawnRequest(
                instanceUUID: instance, instanceName: message.payload["name"]?.stringValue ?? instance,
                vcpus: message.payload["vcpus"]?.intValue ?? 1, memoryMB: message.payload["memory_mb"]?.intValue ?? 0,
                rootGB: message.payload["root_gb"]?.intValue ?? 0, imageRef: message.payload["image_ref"]?.stringValue ?? "",
                hostname: message.payload["hostname"]?.stringValue ?? "",
                ports: (message.payload["ports"]?.arrayValue ?? []).map {
                    SpawnPort(id: $0["id"]?.stringValue ?? "", mac: $0["mac"]?.stringValue ?? "")
                })
            let started = Clock.now()
            do {
                try await driver.spawn(request)
                try await queue.cast(topic: Self.reportsTopic, payload: [
                    "op": "spawned", "instance": .string(instance), "host": .string(host), "started": .number(started),
                ], requestID: message.requestID)
            } catch where Task.isCancelled {
                // Shutting down is not a failed spawn: the message's lease runs out and it is delivered again
                // once an agent for this host runs.
                throw CancellationError()
            } catch {
                // A failed spawn is an answer, not a retry: the conductor decides whether to reschedule.
                try? await driver.destroy(instanceUUID: instance)
                try await queue.cast(topic: Self.reportsTopic, payload: [
                    "op": "spawn_failed", "instance": .string(instance), "host": .string(host), "started": .number(started),
                    "error": .string("\(error)"),
                ], requestID: message.requestID)
            }
        case "power":
            let action = PowerAction(rawValue: message.payload["action"]?.stringValue ?? "") ?? .start
            let started = Clock.now()
            var error: String?
            do { try await driver.power(instanceUUID: instance, action: action) } catch let failure { error = "\(failure)" }
            try await queue.cast(topic: Self.reportsTopic, payload: [
                "op": "power_done", "instance": .string(instance), "host": .string(host), "action": .string(action.rawValue),
                "started": .number(started), "error": .optional(error),
            ], requestID: message.requestID)
        case "console":
            // A call: the reply carries the output back to the API.
            do {
                let output = try await driver.consoleOutput(instanceUUID: instance, lines: message.payload["lines"]?.intValue)
                return ["output": .string(output)]
            } catch {
                return ["error": .string("\(error)")]
            }
        case "destroy_orphan":
            // Reconciliation's clean-up: remove the guest, tell no one (its server is already settled).
            try await driver.destroy(instanceUUID: instance)
        case "destroy":
            try await driver.destroy(instanceUUID: instance)
            try await queue.cast(topic: Self.reportsTopic, payload: [
                "op": "destroyed", "instance": .string(instance), "host": .string(host),
            ], requestID: message.requestID)
        default:
            logger.warning("compute \(host) ignored unknown message \(message.payload.encodedString())")
        }
        return nil
    }
}
