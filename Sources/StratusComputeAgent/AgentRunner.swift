import Logging
import ServiceLifecycle
import StratusCore
import StratusMessages
import Synchronization

/// Runs the agents of one process over one channel: registers each host, long-polls the messages of all of
/// them with one claim, carries each out on its own (a slow spawn holds no other message's ack), and sends
/// heartbeats, power syncs and housekeeping on their intervals.
public struct AgentRunner: Service {
    /// Intervals, from Nova's option names.
    public struct Settings: Sendable {
        /// `[DEFAULT] report_interval`
        public var heartbeatInterval: Duration = .seconds(10)
        /// `[DEFAULT] sync_power_state_interval`
        public var powerSyncInterval: Duration = .seconds(600)
        /// `[image_cache] manager_interval`
        public var maintenanceInterval: Duration = .seconds(2400)
        /// How long one claim waits on the server for a message.
        public var pollWait: Duration = .seconds(20)
        /// Messages in hand at most (the claim asks for the room left).
        public var concurrency = 64
        /// How often a long job's lease is extended (well inside `[queue] lease_seconds`).
        public var leaseExtendInterval: Duration = .seconds(10)
        /// `[compute] resource_provider_association_refresh`: how often each host's provider, inventory and
        /// traits are compared with Placement again (and put right if someone changed them).
        public var providerRefreshInterval: Duration = .seconds(300)
        /// How host sizes become inventory (allocation ratios, reserved resources).
        public var inventory = InventoryPolicy()
        public init() {}
    }

    public let agents: [ComputeAgent]
    /// First deliveries' time from send to claim, by the database's clock: the channel's own latency.
    public let channelLatency = LatencySamples()
    /// First deliveries' time from send to arrival here, by this machine's clock against the database's (only
    /// meaningful where the two agree, as on one machine or under NTP).
    public let receivedLatency = LatencySamples()
    let connect: @Sendable () async throws -> any AgentChannel
    /// Called once every host is registered (the all-in-one reports itself ready then).
    let onRegistered: @Sendable () async -> Void
    let settings: Settings
    let logger: Logger

    /// `connect` gives the channel once the control plane can be reached (the all-in-one knows its own port
    /// only once its listener is bound).
    public init(agents: [ComputeAgent], settings: Settings = .init(), logger: Logger,
                onRegistered: @escaping @Sendable () async -> Void = {},
                connect: @escaping @Sendable () async throws -> any AgentChannel) {
        self.agents = agents
        self.onRegistered = onRegistered
        self.settings = settings
        self.logger = logger
        self.connect = connect
    }

    public func run() async throws {
        guard !agents.isEmpty else {
            await onRegistered()
            return
        }
        let channel = try await connect()
        let byHost = Dictionary(uniqueKeysWithValues: agents.map { ($0.host, $0) })
        defer { logLatency() }
        try await cancelWhenGracefulShutdown {
            // Many fake hosts register a few at a time, not one by one.
            let nodes = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var nodes = [String](repeating: "", count: agents.count)
                for (i, agent) in agents.enumerated() {
                    if i >= 16, let (j, node) = try await group.next() { nodes[j] = node }
                    group.addTask { (i, try await register(agent, channel)) }
                }
                for try await (j, node) in group { nodes[j] = node }
                return nodes
            }
            await onRegistered()
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await consume(channel, byHost) }
                group.addTask {
                    try await PeriodicService(every: settings.heartbeatInterval) {
                        await heartbeat(agents.map(\.host), channel)
                    }.run()
                }
                group.addTask {
                    try await PeriodicService(every: settings.powerSyncInterval) {
                        for agent in agents {
                            let listedAt = Clock.now()
                            let guests = await agent.driver.listGuests()
                            await send(.powerSync(PowerSync(host: agent.host, guests: guests, listedAt: listedAt)), channel)
                        }
                    }.run()
                }
                group.addTask {
                    try await PeriodicService(every: settings.providerRefreshInterval) {
                        for (agent, node) in zip(agents, nodes) {
                            do { try await reportProvider(agent, node: node, channel) } catch {
                                if !Task.isCancelled { logger.warning("updating placement for compute host \(agent.host) failed: \(error)") }
                            }
                        }
                    }.run()
                }
                group.addTask {
                    try await PeriodicService(every: settings.maintenanceInterval) {
                        for agent in agents { await agent.driver.maintain() }
                    }.run()
                }
            }
        }
    }

    /// Says, once at the end, how long messages took to reach this agent (read by `stratus bench boot --processes`).
    func logLatency() {
        let channel = channelLatency.drain().sorted(), received = receivedLatency.drain().sorted()
        guard !channel.isEmpty else { return }
        logger.info("channel latency over \(channel.count) messages: sent→claimed p50 \(Percentile.of(channel, 0.5)) ms p99 \(Percentile.of(channel, 0.99)) ms (database clock); sent→received p50 \(Percentile.of(received, 0.5)) ms p99 \(Percentile.of(received, 0.99)) ms")
    }

    /// Tells the conductor the host exists, then Placement what it holds; retried until both answer (the
    /// control plane may start later). Returns the compute node's uuid.
    func register(_ agent: ComputeAgent, _ channel: any AgentChannel) async throws -> String {
        let registration = await agent.registration()
        var waited = false
        while true {
            do {
                guard let node = try await channel.report(.registerHost(registration), requestID: nil) else {
                    throw MessageError("registering \(agent.host) gave no compute node")
                }
                try await reportProvider(agent, node: node, channel)
                logger.info("compute host \(agent.host) registered (\(registration.hypervisorType): \(registration.resources.vcpus) vCPU, \(registration.resources.memoryMB) MB)")
                return node
            } catch {
                try Task.checkCancellation()
                if !waited { logger.warning("waiting for the control plane to register compute host \(agent.host): \(error)") }
                waited = true
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    func reportProvider(_ agent: ComputeAgent, node: String, _ channel: any AgentChannel) async throws {
        try await channel.reportProvider(ProviderReport(
            uuid: node, name: agent.host, inventories: settings.inventory.inventories(for: await agent.driver.hostResources()),
            capabilities: agent.driver.capabilityTraits))
    }

    /// The claim loop: asks for as many messages as there is room for, and runs each in its own task.
    func consume(_ channel: any AgentChannel, _ byHost: [String: ComputeAgent]) async {
        let hosts = Array(byHost.keys).sorted()
        await LeasedWorkLoop(capacity: settings.concurrency).run { limit in
            do {
                // More room than one claim may ask for (agent_concurrency above the channel's limit) takes several.
                return try await channel.claim(hosts: hosts, limit: min(limit, ClaimRequest.maxLimit), wait: settings.pollWait)  // the server waits
            } catch {
                if !Task.isCancelled {
                    logger.warning("claiming messages failed, retrying: \(error)")
                    try? await Task.sleep(for: .seconds(1))
                }
                return []
            }
        } handle: { delivery in
            if delivery.attempt == 1 {
                channelLatency.record(milliseconds: (delivery.claimedAt - delivery.sentAt) * 1000)
                receivedLatency.record(milliseconds: (Clock.now() - delivery.sentAt) * 1000)
            }
            await handle(delivery, agent: byHost[delivery.host], channel)
        }
    }

    /// One message: decode, carry out while keeping the lease, then report and ack (or reply, or refuse).
    func handle(_ delivery: Delivery, agent: ComputeAgent?, _ channel: any AgentChannel) async {
        var messageLogger = self.logger
        messageLogger[metadataKey: "request_id"] = delivery.requestID.map { .string($0) }
        messageLogger[metadataKey: "message_id"] = .string(delivery.id)
        let logger = messageLogger
        do {
            guard let agent else { throw MessageError("this agent does not serve host \(delivery.host)") }
            let command = try WireFormat.decode(ComputeCommand.self, from: delivery.command)
            let outcome = try await whileLeased(delivery, channel) {
                try await agent.perform(command, logger: logger) { report in await send(report, channel) }
            }
            switch outcome {
            case .report(let report):
                if let refused = try await channel.ack(delivery, report: report) {
                    logger.warning("the control plane refused the report on \(delivery.id): \(refused)")
                }
            case .reply(let reply):
                try await channel.reply(delivery, reply)
            case .nothing:
                _ = try await channel.ack(delivery, report: nil)
            }
        } catch let error as MessageError {
            logger.error("refusing message \(delivery.id) for \(delivery.host): \(error.reason)")
            do { try await channel.refuse(delivery, reason: error.reason) } catch {
                logger.warning("refusing \(delivery.id) failed; its lease will expire: \(error)")
            }
        } catch {
            // Not acked: the lease expires and the message is delivered again (handlers are idempotent).
            if !Task.isCancelled { logger.warning("message \(delivery.id) for \(delivery.host) failed; it will be redelivered: \(error)") }
        }
    }

    /// Runs `work`, extending the delivery's lease on an interval until it finishes.
    func whileLeased<T: Sendable>(_ delivery: Delivery, _ channel: any AgentChannel,
                                  _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                while true {
                    try await Task.sleep(for: settings.leaseExtendInterval)
                    do {
                        if try await !channel.extend(delivery) {
                            logger.warning("lease on \(delivery.id) was lost during the work; it may run again elsewhere")
                        }
                    } catch where !Task.isCancelled {
                        logger.warning("extending the lease on \(delivery.id) failed (the work goes on): \(error)")
                    }
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    /// One heartbeat request per `HeartbeatBatch.maxHosts` hosts, so a process with many hosts reports them all
    /// well within `service_down_time` however busy the control plane is.
    func heartbeat(_ hosts: [String], _ channel: any AgentChannel) async {
        let size = HeartbeatBatch.maxHosts
        for start in stride(from: 0, to: hosts.count, by: size) {
            let batch = Array(hosts[start..<min(hosts.count, start + size)])
            do {
                let unknown = try await channel.heartbeat(hosts: batch)
                if !unknown.isEmpty { logger.warning("heartbeat refused for hosts that are not registered: \(unknown.joined(separator: ", "))") }
            } catch {
                if !Task.isCancelled { logger.warning("heartbeat of \(batch.count) hosts failed: \(error)") }
            }
        }
    }

    func send(_ report: HostReport, _ channel: any AgentChannel) async {
        do { _ = try await channel.report(report, requestID: nil) } catch {
            if !Task.isCancelled { logger.warning("report \(report) failed: \(error)") }
        }
    }
}
