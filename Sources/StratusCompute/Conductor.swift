import Logging
import StratusCore
import StratusPlacement
import StratusQueue
import StratusScheduler
import StratusStorage

/// Runs the compute workflows: host registration, build (schedule → claim → spawn, rescheduling on failure) and
/// delete. Every step reads the instance, decides, and writes the new state together with the next message in
/// one transaction, so a restart resumes from the last committed step.
public struct Conductor: Sendable {
    public struct Settings: Sendable {
        /// `[scheduler] max_attempts`
        public var maxAttempts = 3
        /// `[DEFAULT] service_down_time` in seconds
        public var serviceDownTime: Double = 60
        /// Allocation ratios reported into placement with the host inventory.
        public var cpuAllocationRatio = 4.0
        public var ramAllocationRatio = 1.0
        public var diskAllocationRatio = 1.0
        public init() {}
    }

    let instances: InstanceStore
    let hosts: HostStore
    let placement: PlacementStore
    let queue: Queue
    let scheduler: FilterScheduler
    let settings: Settings
    let logger: Logger

    public init(instances: InstanceStore, hosts: HostStore, placement: PlacementStore, queue: Queue,
                scheduler: FilterScheduler = FilterScheduler(), settings: Settings = .init(), logger: Logger) {
        self.instances = instances
        self.hosts = hosts
        self.placement = placement
        self.queue = queue
        self.scheduler = scheduler
        self.settings = settings
        self.logger = logger
    }

    /// The consumer of topic `conductor`.
    public func consumer() -> QueueConsumer {
        QueueConsumer(queue: queue, topic: "conductor", owner: "conductor-\(Identifier.uuid().prefix(8))", logger: logger) { message in
            try await handle(message)
        }
    }

    func handle(_ message: QueueMessage) async throws -> JSON? {
        let payload = message.payload
        let requestID = message.requestID ?? Identifier.requestID()
        switch payload["op"]?.stringValue {
        case "register_host": return try await registerHost(payload)
        case "heartbeat": try await hosts.heartbeat(host: payload["host"]?.stringValue ?? "")
        case "build": try await build(payload["instance"]?.stringValue ?? "", tried: [], requestID: requestID)
        case "spawned": try await spawned(payload, requestID: requestID)
        case "spawn_failed": try await spawnFailed(payload, requestID: requestID)
        case "delete": try await delete(payload["instance"]?.stringValue ?? "", requestID: requestID)
        case "stop", "start", "reboot": try await power(payload, requestID: requestID)
        case "power_done": try await powerDone(payload)
        case "destroyed": try await destroyed(payload["instance"]?.stringValue ?? "")
        default: logger.warning("conductor ignored unknown message \(payload.encodedString())")
        }
        return nil
    }

    // MARK: Hosts

    func registerHost(_ payload: JSON) async throws -> JSON {
        let host = payload["host"]?.stringValue ?? ""
        let node = try await hosts.register(
            host: host, zone: payload["zone"]?.stringValue ?? "nova",
            hypervisorType: payload["hypervisor_type"]?.stringValue ?? "fake", vcpus: payload["vcpus"]?.intValue ?? 0,
            memoryMB: payload["memory_mb"]?.intValue ?? 0, localGB: payload["local_gb"]?.intValue ?? 0)
        let inventories: [String: Inventory] = [
            "VCPU": Inventory(total: max(1, node.vcpus), allocationRatio: settings.cpuAllocationRatio),
            "MEMORY_MB": Inventory(total: max(1, node.memoryMB), reserved: 0, allocationRatio: settings.ramAllocationRatio),
            "DISK_GB": Inventory(total: max(1, node.localGB), allocationRatio: settings.diskAllocationRatio),
        ]
        var provider = try? await placement.provider(node.uuid)
        if provider == nil { provider = try await placement.createProvider(uuid: node.uuid, name: host, parentUUID: nil) }
        let current = try await placement.inventories(uuid: node.uuid)
        if current.inventories != inventories {
            _ = try await placement.setInventories(uuid: node.uuid, generation: current.generation, inventories, reservedMayEqualTotal: true)
        }
        return ["node": .string(node.uuid)]
    }

    /// Host states for the scheduler: service health from the database, free capacity from placement's index.
    func hostStates() async throws -> [HostState] {
        let services = Dictionary(try await hosts.services().map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
        let now = Clock.now()
        return try await hosts.nodes().compactMap { node in
            guard let service = services[node.host] else { return nil }
            let snapshot = placement.index.snapshot(node.uuid)
            return HostState(
                host: node.host, nodeUUID: node.uuid, zone: service.zone, enabled: !service.disabled,
                up: !service.forcedDown && now - service.lastSeen <= settings.serviceDownTime,
                freeRAMMB: snapshot?.free("MEMORY_MB") ?? 0, freeVCPUs: snapshot?.free("VCPU") ?? 0,
                freeDiskGB: snapshot?.free("DISK_GB") ?? 0)
        }
    }

    // MARK: Build

    /// Schedules and claims, then hands the instance to its host. No valid host: ERROR with Nova's fault.
    func build(_ uuid: String, tried: Set<String>, requestID: String, lastError: String? = nil) async throws {
        guard let instance = try await instances.instance(uuid), !instance.deleted, instance.vmState == .building else { return }
        let started = Clock.now()
        var spec = RequestSpec(
            instanceUUID: uuid, vcpus: instance.flavor.vcpus, memoryMB: instance.flavor.memoryMB, rootGB: instance.flavor.rootGB,
            availabilityZone: instance.availabilityZone)
        spec.ignoreHosts = tried
        var candidates = CandidateQuery()
        var group = RequestGroup(suffix: "")
        group.resources = ["VCPU": spec.vcpus, "MEMORY_MB": spec.memoryMB]
        if spec.rootGB > 0 { group.resources["DISK_GB"] = spec.rootGB }
        candidates.groups = [group]
        let viable = Set(CandidateSearch(state: placement.index.current(), query: candidates).run().requests.flatMap { $0.allocations.keys })
        let decision = scheduler.select(try await hostStates().filter { viable.contains($0.nodeUUID) }, spec)
        for host in decision.ordered {
            let claim = ConsumerAllocations(
                consumerUUID: uuid, allocations: [ProviderAllocation(providerUUID: host.nodeUUID, resources: group.resources)],
                projectID: instance.projectID, userID: instance.userID, consumerType: "INSTANCE")
            do {
                try await placement.replaceAllocations([claim])
            } catch {
                continue  // someone took the room first: the next host
            }
            let stillWanted = try await queue.storage.transaction { tx -> Bool in
                guard var current = try await instances.instance(uuid, in: tx), !current.deleted else { return false }
                current.host = host.host
                current.node = host.host
                current.taskState = .spawning
                try await instances.save(current, in: tx)
                try await instances.recordEvent(
                    instanceUUID: uuid, action: "create", event: "conductor_schedule_and_build_instances", start: started,
                    result: "Success", host: host.host, details: "chose \(host.host) of \(decision.ordered.count) hosts", in: tx)
                try await queue.enqueue(topic: "compute.\(host.host)", payload: [
                    "op": "spawn", "instance": .string(uuid), "name": .string(current.instanceName),
                    "vcpus": .int(current.flavor.vcpus), "memory_mb": .int(current.flavor.memoryMB),
                    "root_gb": .int(current.flavor.rootGB), "image_ref": .string(current.imageRef),
                    "tried": .array((tried.union([host.host])).sorted().map { .string($0) }),
                ], requestID: requestID, in: tx)
                return true
            }
            // Deleted while we were claiming: give the room back.
            if !stillWanted { try? await placement.deleteAllocations(consumerUUID: uuid) }
            return
        }
        if let lastError {
            // A reschedule with no host left: Nova's MaxRetriesExceeded, carrying the last host's error.
            try await fail(uuid, message: "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance \(uuid).",
                           details: lastError, event: "conductor_schedule_and_build_instances", start: started, host: nil)
            return
        }
        let rejected = decision.rejected.filter { $0.value > 0 }.map { "\($0.key) removed \($0.value)" }.sorted()
        try await fail(uuid, message: "No valid host was found. ",
                       details: "No valid host was found. There are not enough hosts available. "
                        + (rejected.isEmpty ? "" : "(" + rejected.joined(separator: ", ") + ")"),
                       event: "conductor_schedule_and_build_instances", start: started, host: nil)
    }

    func spawned(_ payload: JSON, requestID: String) async throws {
        let uuid = payload["instance"]?.stringValue ?? ""
        let host = payload["host"]?.stringValue
        if let current = try await instances.instance(uuid), current.deleted, let host {
            // Deleted while it was spawning: remove the guest that just appeared.
            try await queue.cast(topic: "compute.\(host)", payload: ["op": "destroy", "instance": .string(uuid)], requestID: requestID)
            return
        }
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(uuid, in: tx), !instance.deleted, instance.vmState == .building else { return }
            instance.vmState = .active
            instance.taskState = nil
            instance.powerState = .running
            instance.launchedAt = Clock.now()
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: uuid, action: "create", event: "compute__do_build_and_run_instance",
                start: payload["started"]?.doubleValue ?? Clock.now(),
                result: "Success", host: host, finishAction: true, in: tx)
        }
    }

    /// The host could not spawn: release its claim and try another host, up to `max_attempts`.
    func spawnFailed(_ payload: JSON, requestID: String) async throws {
        let uuid = payload["instance"]?.stringValue ?? ""
        let host = payload["host"]?.stringValue ?? ""
        let error = payload["error"]?.stringValue ?? "unknown error"
        let started = payload["started"]?.doubleValue ?? Clock.now()
        guard let instance = try await instances.instance(uuid), !instance.deleted, instance.vmState == .building else { return }
        try? await placement.deleteAllocations(consumerUUID: uuid)
        let tried = try await triedHosts(uuid).union([host])
        try await queue.storage.transaction { tx in
            try await instances.recordEvent(
                instanceUUID: uuid, action: "create", event: "compute__do_build_and_run_instance", start: started,
                result: "Error", host: host, details: error, in: tx)
        }
        if tried.count < settings.maxAttempts {
            logger.info("rescheduling \(uuid) after failure on \(host): \(error)")
            try await queue.storage.transaction { tx in
                guard var current = try await instances.instance(uuid, in: tx) else { return }
                current.host = nil
                current.node = nil
                current.taskState = .scheduling
                try await instances.save(current, in: tx)
            }
            try await build(uuid, tried: tried, requestID: requestID, lastError: error)
        } else {
            try await fail(uuid, message: "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance \(uuid).",
                           details: error, event: "compute__do_build_and_run_instance", start: started, host: host)
        }
    }

    /// Hosts this build already failed on, from its action events.
    func triedHosts(_ uuid: String) async throws -> Set<String> {
        let create = try await instances.actions(instanceUUID: uuid).first { $0.action == "create" }
        return Set(create?.events.filter { $0.name == "compute__do_build_and_run_instance" && $0.result == "Error" }.compactMap(\.host) ?? [])
    }

    func fail(_ uuid: String, message: String, details: String, event: String, start: Double, host: String?) async throws {
        try? await placement.deleteAllocations(consumerUUID: uuid)
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(uuid, in: tx), !instance.deleted else { return }
            instance.vmState = .error
            instance.taskState = nil
            instance.host = host
            instance.fault = Instance.Fault(code: 500, message: message, details: details)
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: uuid, action: "create", event: event, start: start, result: "Error", host: host,
                details: details, finishAction: true, in: tx)
        }
    }

    // MARK: Power

    /// Sends a power change to the instance's host; an instance without a host cannot change power (409 at the API
    /// already keeps most of these out), so its task state is simply cleared.
    func power(_ payload: JSON, requestID: String) async throws {
        let uuid = payload["instance"]?.stringValue ?? ""
        guard let instance = try await instances.instance(uuid), !instance.deleted else { return }
        let action: String
        switch payload["op"]?.stringValue {
        case "stop": action = "stop"
        case "start": action = "start"
        default: action = payload["type"]?.stringValue == "HARD" ? "reboot_hard" : "reboot_soft"
        }
        guard let host = instance.host else {
            try await queue.storage.transaction { tx in
                guard var current = try await instances.instance(uuid, in: tx) else { return }
                current.taskState = nil
                try await instances.save(current, in: tx)
            }
            return
        }
        try await queue.cast(topic: "compute.\(host)", payload: ["op": "power", "instance": .string(uuid), "action": .string(action)],
                             requestID: requestID)
    }

    func powerDone(_ payload: JSON) async throws {
        let uuid = payload["instance"]?.stringValue ?? ""
        let action = payload["action"]?.stringValue ?? ""
        let error = payload["error"]?.stringValue
        let started = payload["started"]?.doubleValue ?? Clock.now()
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(uuid, in: tx), !instance.deleted else { return }
            instance.taskState = nil
            if error == nil {
                switch action {
                case "stop":
                    instance.vmState = .stopped
                    instance.powerState = .shutdown
                default:
                    instance.vmState = .active
                    instance.powerState = .running
                }
            }
            try await instances.save(instance, in: tx)
            let record = action.hasPrefix("reboot") ? "reboot" : action
            let event = ["stop": "compute_stop_instance", "start": "compute_start_instance"][action] ?? "compute_reboot_instance"
            try await instances.recordEvent(
                instanceUUID: uuid, action: record, event: event, start: started, result: error == nil ? "Success" : "Error",
                host: payload["host"]?.stringValue, details: error, finishAction: true, in: tx)
        }
    }

    // MARK: Delete

    func delete(_ uuid: String, requestID: String) async throws {
        guard let instance = try await instances.instance(uuid), !instance.deleted else { return }
        if let host = instance.host, instance.vmState != .error || instance.powerState != .noState {
            try await queue.cast(topic: "compute.\(host)", payload: ["op": "destroy", "instance": .string(uuid)], requestID: requestID)
        } else {
            try await destroyed(uuid)
        }
    }

    /// The guest is gone: free its allocations and mark it deleted.
    func destroyed(_ uuid: String) async throws {
        try? await placement.deleteAllocations(consumerUUID: uuid)
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(uuid, in: tx), !instance.deleted else { return }
            instance.vmState = .deleted
            instance.taskState = nil
            instance.powerState = .noState
            instance.deleted = true
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: uuid, action: "delete", event: "compute_terminate_instance", start: instance.updatedAt,
                result: "Success", host: instance.host, finishAction: true, in: tx)
        }
    }
}
