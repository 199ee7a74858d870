import Foundation
import Synchronization
import Hummingbird
import StratusCompute
import StratusCore
import StratusMessages
import ServiceLifecycle
import StratusQueue

/// The compute agents' channel at `/compute/agent/v1` (service role only): long-poll for the messages of the
/// hosts an agent serves, settle each with the lease it was given, and report back. Agents hold no database
/// credentials; this is their only way in.
public struct AgentAPI: Sendable {
    let queue: Queue
    let instances: InstanceStore
    let migrations: MigrationStore
    let hosts: HostStore
    let bodyLimit: Int
    /// Hosts seen registered, and when.
    let registered = RegisteredHosts()
    /// The longest a claim may wait for a message.
    static let maxWait = 30_000
    /// Messages settled in one batch of acks.
    public static let maxAcks = 500
    static let rule = RouteAccess.rule("os_compute_api:os-compute-agent")

    public init(queue: Queue, instances: InstanceStore, hosts: HostStore, bodyLimit: Int) {
        self.queue = queue
        self.instances = instances
        self.migrations = MigrationStore(storage: instances.storage)
        self.hosts = hosts
        self.bodyLimit = bodyLimit
    }

    public func register(on router: PolicedRouter) {
        router.post("compute/agent/v1/claim", Self.rule) { request, _ in
            let claim = try await decode(ClaimRequest.self, request)
            return try await reply(ClaimResponse(deliveries: try await self.claim(claim)))
        }
        router.post("compute/agent/v1/messages/:id/ack", Self.rule) { request, context in
            let id = try context.parameters.require("id")
            let action = try await decode(LeaseAction.self, request)
            let ack = AckBatch.Ack(id: id, lease: action.lease, requestID: context.requestID, report: action.report)
            guard let outcome = try await settle([ack]).first, outcome.settled else { throw Self.leaseLost(id) }
            return try reply(AckResult(refusedReport: outcome.refusedReport))
        }
        router.post("compute/agent/v1/acks", Self.rule) { request, _ in
            let batch = try await decode(AckBatch.self, request)
            guard (1...Self.maxAcks).contains(batch.acks.count), Set(batch.acks.map(\.id)).count == batch.acks.count else {
                throw StratusError.badRequest("'acks' must hold between 1 and \(Self.maxAcks) acks of different messages.")
            }
            return try reply(AckBatchResult(results: try await settle(batch.acks)))
        }
        router.post("compute/agent/v1/messages/:id/extend", Self.rule) { request, context in
            let message = try await held(request, context)
            guard try await queue.extendLease(message.message, owner: message.lease) else { throw Self.leaseLost(message.message.id) }
            return Response(status: .noContent)
        }
        router.post("compute/agent/v1/messages/:id/refuse", Self.rule) { request, context in
            let message = try await held(request, context)
            let reason = message.action.reason ?? "refused by the agent"
            try await queue.fail(message.message, owner: message.lease, reason: "refused by the agent: \(reason)", permanent: true)
            return Response(status: .noContent)
        }
        router.post("compute/agent/v1/messages/:id/reply", Self.rule) { request, context in
            let message = try await held(request, context)
            guard message.message.kind == .call, let answer = message.action.reply else {
                throw StratusError.badRequest("Message \(message.message.id) is not a call, or the reply is missing.")
            }
            guard try await queue.answer(message.message, owner: message.lease, payload: try WireFormat.encode(answer)) else {
                throw Self.leaseLost(message.message.id)
            }
            return Response(status: .noContent)
        }
        router.post("compute/agent/v1/heartbeats", Self.rule) { request, _ in
            let batch = try await decode(HeartbeatBatch.self, request)
            guard (1...HeartbeatBatch.maxHosts).contains(batch.hosts.count), batch.hosts.allSatisfy(Self.validHost) else {
                throw StratusError.badRequest("'hosts' must name between 1 and \(HeartbeatBatch.maxHosts) hosts, each 1-255 characters without '/' or spaces.")
            }
            let seen = try await hosts.heartbeat(hosts: batch.hosts)
            return try reply(HeartbeatResult(unknownHosts: batch.hosts.filter { !seen.contains($0) }))
        }
        router.post("compute/agent/v1/reports", Self.rule) { request, context in
            let report = try await decode(HostReport.self, request)
            return try await self.accept(report, requestID: context.requestID)
        }
    }

    /// Leases messages of the named hosts, waiting up to `wait_ms` for the first: an enqueue anywhere (NOTIFY
    /// across processes) wakes the wait at once.
    func claim(_ claim: ClaimRequest) async throws -> [Delivery] {
        guard !claim.hosts.isEmpty, claim.hosts.count <= 10_000, claim.hosts.allSatisfy(Self.validHost) else {
            throw StratusError.badRequest("'hosts' must name between 1 and 10000 hosts, each 1-255 characters without '/'.")
        }
        guard (1...ClaimRequest.maxLimit).contains(claim.limit) else {
            throw StratusError.badRequest("'limit' must be between 1 and \(ClaimRequest.maxLimit).")
        }
        guard (0...Self.maxWait).contains(claim.waitMilliseconds) else {
            throw StratusError.badRequest("'wait_ms' must be between 0 and \(Self.maxWait).")
        }
        let topics = claim.hosts.map(Queue.hostTopic)
        let channel = Queue.wakeUpChannel(topics[0])
        let lease = "agent-" + Identifier.uuid()
        let deadline = ContinuousClock.now + .milliseconds(claim.waitMilliseconds)
        // A listener shutting down gracefully waits for the requests it serves: a long-poll answers at once (with
        // what it holds, often nothing) rather than keep the process up for the rest of its wait.
        let stopping = ShutdownFlag()
        return try await withGracefulShutdownHandler {
            try await waitForMessages(topics: topics, channel: channel, owner: lease, limit: claim.limit, until: deadline, unless: stopping)
        } onGracefulShutdown: {
            stopping.raise()
            queue.storage.wakeups.signal(channel)
        }
    }

    /// Claims for `lease` until there is something, the deadline passes, or the process stops.
    private func waitForMessages(topics: [String], channel: String, owner lease: String, limit: Int,
                                 until deadline: ContinuousClock.Instant, unless stopping: ShutdownFlag) async throws -> [Delivery] {
        while true {
            // Nothing more is leased once the process stops: a reply it might not finish writing would strand them.
            if stopping.isRaised { return [] }
            let version = queue.storage.wakeups.version(channel)
            let messages = try await queue.claim(topics: topics, owner: lease, limit: limit)
            if !messages.isEmpty || ContinuousClock.now >= deadline {
                return messages.map { message in
                    Delivery(id: message.id, host: Queue.host(ofTopic: message.topic), lease: lease,
                             kind: message.kind.rawValue, attempt: message.attempt, requestID: message.requestID, command: message.payload,
                             sentAt: message.sentAt, claimedAt: message.claimedAt)
                }
            }
            // Polls too, in case a wake-up was missed (it is only a hint), but never faster than once a second.
            let remaining = deadline - ContinuousClock.now
            await queue.storage.wakeups.wait(channel, since: version, timeout: min(remaining, queue.settings.pollInterval))
        }
    }

    /// Settles acks in one transaction: each whose lease is held is marked done, and its report (unless refused)
    /// is applied or sent to the conductor with it, so a report is taken if and only if its message is settled.
    func settle(_ acks: [AckBatch.Ack]) async throws -> [AckBatchResult.Outcome] {
        let refusals = try await refusals(acks.compactMap { ack in ack.report.map { (ack.id, $0) } })
        let settled = try await queue.storage.transaction { tx in
            let acked = try await queue.ack(leases: acks.map { ($0.id, $0.lease) }, in: tx)
            let taken = acks.filter { acked.contains($0.id) && refusals[$0.id] == nil }
            // The common report, a build spawned where it was placed, is applied here in the ack's transaction (no hop
            // through a conductor), all of the batch's at once; anything else goes to the conductor to judge.
            let spawned = try await instances.completeSpawns(taken.compactMap { ack in
                guard case .spawned(let outcome)? = ack.report, outcome.error == nil else { return nil }
                return outcome
            }, in: tx)
            var reports: [(payload: JSON, requestID: String?)] = []
            for ack in taken {
                guard let report = ack.report else { continue }
                if case .spawned(let outcome) = report, outcome.error == nil, spawned.contains(outcome.instanceUUID) { continue }
                // The message's request id travels on, if it is one (the header path checked it the same way).
                let requestID = ack.requestID.flatMap { Identifier.isRequestID($0) ? $0 : nil } ?? Identifier.requestID()
                reports.append((try WireFormat.encode(report), requestID))
            }
            try await queue.enqueue(topic: Queue.reportsTopic, payloads: reports, in: tx)
            return acked
        }
        return acks.map { AckBatchResult.Outcome(id: $0.id, settled: settled.contains($0.id), refusedReport: refusals[$0.id]) }
    }

    /// Why each of these reports (keyed by their message) may not be taken, read in one query: the rules of `validate`.
    func refusals(_ reports: [(id: String, report: HostReport)]) async throws -> [String: String] {
        let placed = try await instances.hosts(of: reports.compactMap(\.report.instanceUUID))
        let moves = try await migrations.hosts(of: reports.compactMap(\.report.migrationUUID))
        var refusals: [String: String] = [:]
        for (id, report) in reports {
            do {
                try await validate(report, placed: placed, moves: moves)
            } catch let error as StratusError {
                refusals[id] = error.message
            }
        }
        return refusals
    }

    /// A report from a host. Reports about an instance must come from the host the instance is on; the host
    /// must be registered (except to register it).
    func accept(_ report: HostReport, requestID: String) async throws -> Response {
        if case .registerHost = report {
            guard Self.validHost(report.host) else { throw StratusError.badRequest("Invalid host name '\(report.host)'.") }
            let node = try await queue.call(topic: Queue.reportsTopic, payload: try WireFormat.encode(report), timeout: 30, requestID: requestID)
            return JSONResponse.make(status: .ok, ["node": node])
        }
        try await validate(report)
        if case .heartbeat(let ref) = report {
            try await hosts.heartbeat(host: ref.host)
        } else {
            try await queue.cast(topic: Queue.reportsTopic, payload: try WireFormat.encode(report), requestID: requestID)
        }
        return Response(status: .accepted)
    }

    /// A report may only come from a registered host, one about an instance only from the instance's host, and
    /// one about a move only from the migration's source or destination. `placed` and `moves`, when given, hold
    /// what was already read for a batch.
    func validate(_ report: HostReport, placed: [String: String?]? = nil,
                  moves: [String: (source: String, dest: String?)]? = nil) async throws {
        guard Self.validHost(report.host) else { throw StratusError.badRequest("Invalid host name '\(report.host)'.") }
        guard try await isRegistered(report.host) else {
            throw StratusError.notFound("Compute host \(report.host) is not registered.")
        }
        if let uuid = report.instanceUUID {
            let hosts = if let placed { placed } else { try await instances.hosts(of: [uuid]) }
            guard let host = hosts[uuid] else { throw StratusError.notFound("Instance \(uuid) could not be found.") }
            guard host == report.host else {
                throw StratusError.conflict("Instance \(uuid) is not on host \(report.host); the report is refused.")
            }
        }
        if let uuid = report.migrationUUID {
            let known = if let moves { moves } else { try await migrations.hosts(of: [uuid]) }
            guard let move = known[uuid] else { throw StratusError.notFound("Migration \(uuid) could not be found.") }
            guard move.source == report.host || move.dest == report.host else {
                throw StratusError.conflict("Migration \(uuid) is not from or to host \(report.host); the report is refused.")
            }
        }
    }

    /// The message named in the path, if the lease in the body holds it.
    func held(_ request: Request, _ context: StratusRequestContext) async throws -> (message: QueueMessage, lease: String, action: LeaseAction) {
        let id = try context.parameters.require("id")
        let action = try await decode(LeaseAction.self, request)
        guard let message = try await queue.leased(id: id, owner: action.lease) else { throw Self.leaseLost(id) }
        return (message, action.lease, action)
    }

    /// Whether `host` registered; a yes is remembered for a while (reports come by the thousand, hosts rarely go).
    func isRegistered(_ host: String) async throws -> Bool {
        let now = Clock.now()
        if let seen = registered.withLock({ $0[host] }), now - seen < 30 { return true }
        guard try await hosts.isRegistered(host: host) else { return false }
        registered.withLock { $0[host] = now }
        return true
    }

    static func leaseLost(_ id: String) -> StratusError {
        .conflict("The lease on message \(id) is not held: it expired, went to another agent, or never existed.")
    }

    static func validHost(_ host: String) -> Bool {
        !host.isEmpty && host.utf8.count <= 255 && !host.contains("/") && !host.contains(where: \.isWhitespace)
    }

    func decode<Message: Decodable>(_ type: Message.Type, _ request: Request) async throws -> Message {
        let json = try await request.jsonObject(limit: bodyLimit)
        do { return try WireFormat.decode(type, from: json) } catch let error as MessageError {
            throw StratusError.badRequest("Invalid agent message: \(error.reason).")
        }
    }

    func reply<Message: Encodable>(_ message: Message) throws -> Response {
        JSONResponse.make(status: .ok, try WireFormat.encode(message))
    }
}

/// Hosts known to be registered, with when that was last checked.
final class RegisteredHosts: Sendable {
    private let state = Mutex<[String: Double]>([:])
    func withLock<T>(_ body: (inout [String: Double]) -> T) -> T { state.withLock { body(&$0) } }
}

/// Set once, when the process starts to shut down gracefully.
final class ShutdownFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .releasing) }
    var isRaised: Bool { raised.load(ordering: .acquiring) }
}
