import Logging
import Synchronization
import StratusCore
import StratusMessages
import StratusNetwork
import StratusPlacement
import StratusQueue
import StratusScheduler
import StratusStorage

/// Runs the compute workflows: host registration, build (schedule → claim → spawn, rescheduling on failure),
/// power changes, cold migration and resize, and delete. Every step reads the instance, decides, and writes the
/// new state together with the next message in one transaction, so a restart resumes from the last committed
/// step; a message delivered twice finds the step already taken and does nothing.
public struct Conductor: Sendable {
    public struct Settings: Sendable {
        /// `[scheduler] max_attempts`
        public var maxAttempts = 3
        /// `[DEFAULT] service_down_time` in seconds
        public var serviceDownTime: Double = 60
        /// `[DEFAULT] instance_build_timeout`: a build not ACTIVE after this many seconds goes to ERROR (0: never).
        public var buildTimeout: Double = 600
        /// How old the scheduler's view of heartbeats may get before it is re-read in the background (changes to
        /// services, aggregates and hosts are announced and apply at once; free capacity is always live).
        public var hostCacheSeconds: Double = 10
        /// `[DEFAULT] allow_resize_to_same_host`: a resize may stay on its host (a cold migration never does).
        public var allowResizeToSameHost = false
        /// `[DEFAULT] resize_confirm_window`: seconds after which a finished resize is confirmed on its own (0: never).
        public var resizeConfirmWindow: Double = 0
        /// `[DEFAULT] max_concurrent_live_migrations`: live migrations copying from one host at once (0: no limit);
        /// more wait as `queued`.
        public var maxConcurrentLiveMigrations = 1
        public init() {}
    }

    let instances: InstanceStore
    let hosts: HostStore
    let groups: ServerGroupStore
    let aggregates: AggregateStore
    let network: NetworkStore
    let migrations: MigrationStore
    let placement: PlacementStore
    let queue: Queue
    let scheduler: FilterScheduler
    let settings: Settings
    let logger: Logger
    let directory: HostDirectory
    /// Durations of scheduling decisions, for benchmarks.
    public let metrics: SchedulerMetrics

    public init(instances: InstanceStore, hosts: HostStore, placement: PlacementStore, queue: Queue,
                scheduler: FilterScheduler = FilterScheduler(), settings: Settings = .init(),
                metrics: SchedulerMetrics = SchedulerMetrics(), logger: Logger) {
        self.metrics = metrics
        self.instances = instances
        self.hosts = hosts
        self.groups = ServerGroupStore(storage: queue.storage)
        self.aggregates = AggregateStore(storage: queue.storage)
        self.network = NetworkStore(storage: queue.storage)
        self.migrations = MigrationStore(storage: queue.storage)
        self.placement = placement
        self.queue = queue
        self.scheduler = scheduler
        self.settings = settings
        self.logger = logger
        self.directory = HostDirectory(hosts: hosts, aggregates: aggregates, maxAge: settings.hostCacheSeconds, logger: logger)
    }

    /// The consumers of the conductor's two topics: `conductor` (requests from the API and host registration)
    /// and `conductor-reports` (what hosts report back), each served on its own so results never wait behind
    /// new work.
    /// Up to `inHand` messages of each topic are worked on at once: a build spends most of its time waiting (for the
    /// database, for a provider's lock another conductor holds), so a few in hand would leave the CPUs idle.
    public func consumers(inHand: Int = 64) -> [QueueConsumer] {
        let owner = "conductor-\(Identifier.uuid().prefix(8))"
        return [
            QueueConsumer(queue: queue, topic: Queue.conductorTopic, owner: owner, batchSize: inHand, logger: logger) { message in
                try await handle(message)
            },
            QueueConsumer(queue: queue, topic: Queue.reportsTopic, owner: owner, batchSize: inHand, logger: logger) { message in
                try await handleReport(message)
            },
        ]
    }

    /// Requests from the API: builds, deletes and power changes; one that cannot be decoded is dead-lettered
    /// with the reason.
    func handle(_ message: QueueMessage) async throws -> JSON? {
        let request: ConductorRequest
        do { request = try ConductorRequest.decode(queued: message.payload) } catch let error as MessageError {
            throw QueueError.rejected(error.reason)
        }
        let requestID = message.requestID ?? Identifier.requestID()
        switch request {
        case .build(let ref): try await build(ref.instanceUUID, tried: [], requestID: requestID)
        case .delete(let ref): try await delete(ref.instanceUUID, requestID: requestID)
        case .release(let release): try await releaseNow(release.instanceUUID, ports: release.ports)
        case .power(let power): try await self.power(power, requestID: requestID)
        case .migrate(let ref): try await migrate(ref, requestID: requestID)
        case .confirmResize(let ref): try await confirmResize(ref, requestID: requestID)
        case .revertResize(let ref): try await revertResize(ref, requestID: requestID)
        case .liveMigrate(let ref): try await liveMigrate(ref, requestID: requestID)
        case .abortLiveMigration(let ref): try await abortLiveMigration(ref, requestID: requestID)
        case .forceCompleteLiveMigration(let ref): try await forceCompleteLiveMigration(ref, requestID: requestID)
        case .evacuate(let ref): try await evacuate(ref, requestID: requestID)
        case .snapshot(let request): try await snapshot(request, requestID: requestID)
        }
        return nil
    }

    /// What hosts report, as typed messages; one that cannot be decoded is dead-lettered with the reason.
    func handleReport(_ message: QueueMessage) async throws -> JSON? {
        let report: HostReport
        do { report = try WireFormat.decode(HostReport.self, from: message.payload) } catch let error as MessageError {
            throw QueueError.rejected(error.reason)
        }
        let requestID = message.requestID ?? Identifier.requestID()
        switch report {
        case .registerHost(let registration): return .string(try await registerHost(registration))
        case .heartbeat(let ref): try await hosts.heartbeat(host: ref.host)
        case .spawned(let outcome): try await spawned(outcome, requestID: requestID)
        case .spawnFailed(let outcome): try await spawnFailed(outcome, requestID: requestID)
        case .powerDone(let outcome): try await powerDone(outcome)
        case .powerSync(let sync): try await powerSync(sync)
        case .destroyed(let ref): try await destroyed(ref.instanceUUID)
        case .moved(let outcome): try await moved(outcome, requestID: requestID)
        case .liveMoved(let outcome): try await liveMoved(outcome, requestID: requestID)
        case .liveProgress(let progress): try await migrations.saveProgress(progress)
        case .snapshot(let outcome): try await snapshotReported(outcome)
        }
        return nil
    }

    // MARK: Hosts

    /// Records a host (service, node); the host itself then puts its resource provider, inventory and traits
    /// into Placement, as nova-compute does. Returns the compute node's uuid (its resource provider's).
    public func registerHost(_ registration: HostRegistration) async throws -> String {
        let node = try await hosts.register(
            host: registration.host, zone: registration.zone, hypervisorType: registration.hypervisorType,
            vcpus: registration.resources.vcpus, memoryMB: registration.resources.memoryMB, localGB: registration.resources.localGB,
            hypervisorVersion: registration.hypervisorVersion, cpuInfo: registration.cpuInfo.encodedString())
        directory.invalidate()
        return node.uuid
    }

    /// Host states for the scheduler: services and aggregates from a short-lived cache, free capacity from one
    /// snapshot of placement's live index; only hosts where every resource in `resources` fits.
    func hostStates(fitting resources: [String: Int] = [:]) async throws -> [HostState] {
        let now = Clock.now()
        let index = placement.index.current()
        let (vcpus, memoryMB, diskGB) = (resources["VCPU"] ?? 0, resources["MEMORY_MB"] ?? 0, resources["DISK_GB"] ?? 0)
        return try await directory.hosts().compactMap { base in
            guard let room = index.providers[base.info.nodeUUID]?.room, room.fits(vcpus: vcpus, memoryMB: memoryMB, diskGB: diskGB)
            else { return nil }
            return HostState(
                info: base.info, up: !base.forcedDown && now - base.lastSeen <= settings.serviceDownTime,
                freeRAMMB: room.memoryMB.free, freeVCPUs: room.vcpu.free, freeDiskGB: room.diskGB.free)
        }
    }

    // MARK: Delete

    func delete(_ uuid: String, requestID: String) async throws {
        guard let instance = try await instances.instance(uuid), !instance.deleted else { return }
        if let host = instance.host, instance.vmState != .error || instance.powerState != .noState {
            try await queue.send(.destroy(InstanceRef(instanceUUID: uuid)), to: host, requestID: requestID)
        } else {
            try await destroyed(uuid)
        }
    }

    /// The guest is gone: free its allocations, leave its group, and mark it deleted.
    func destroyed(_ uuid: String) async throws {
        await release(uuid, ports: true)
        try await endMoves(ofDeleted: uuid)
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(uuid, in: tx), !instance.deleted else { return }
            instance.vmState = .deleted
            instance.taskState = nil
            instance.powerState = .noState
            instance.deleted = true
            try await instances.save(instance, in: tx)
            try await groups.removeMember(uuid, in: tx)
            try await instances.recordEvent(
                instanceUUID: uuid, action: "delete", event: "compute_terminate_instance", start: instance.updatedAt,
                result: "Success", host: instance.host, finishAction: true, in: tx)
        }
    }
}

/// Durations of the conductor's scheduling decisions (the newest 100,000), in milliseconds.
public typealias SchedulerMetrics = LatencySamples
