import StratusCore

/// `POST /agent/v1/claim`: the hosts this agent serves, how many messages at most, and how long to wait for one.
public struct ClaimRequest: Sendable, Equatable, Codable {
    public var hosts: [String]
    public var limit: Int
    public var waitMilliseconds: Int
    /// The most messages one claim may ask for.
    public static let maxLimit = 1000

    public init(hosts: [String], limit: Int, waitMilliseconds: Int) {
        self.hosts = hosts
        self.limit = limit
        self.waitMilliseconds = waitMilliseconds
    }
    enum CodingKeys: String, CodingKey { case hosts, limit, waitMilliseconds = "wait_ms" }
}

/// One message leased to an agent. `command` is kept as sent, so an agent that cannot read it can refuse it
/// with the reason instead of the channel dropping it.
public struct Delivery: Sendable, Equatable, Codable {
    public var id: String
    public var host: String
    /// The lease: only its holder may ack, extend, reply or refuse.
    public var lease: String
    /// Whether the sender waits for a reply (`call`) or not (`cast`).
    public var kind: String
    public var attempt: Int
    public var requestID: String?
    public var command: JSON
    /// When the message was sent and when this claim took it, by the database's clock (epoch seconds): the
    /// channel's own latency, without trusting the agent's clock.
    public var sentAt: Double
    public var claimedAt: Double

    public init(id: String, host: String, lease: String, kind: String, attempt: Int, requestID: String?, command: JSON,
                sentAt: Double, claimedAt: Double) {
        self.id = id
        self.host = host
        self.lease = lease
        self.kind = kind
        self.attempt = attempt
        self.requestID = requestID
        self.command = command
        self.sentAt = sentAt
        self.claimedAt = claimedAt
    }
    enum CodingKeys: String, CodingKey {
        case id, host, lease, kind, attempt, requestID = "request_id", command, sentAt = "sent_at", claimedAt = "claimed_at"
    }
}

/// The answer to a claim.
public struct ClaimResponse: Sendable, Equatable, Codable {
    public var deliveries: [Delivery]
    public init(deliveries: [Delivery]) { self.deliveries = deliveries }
}

/// `POST /agent/v1/messages/{id}/ack|extend|refuse|reply`: the lease held; for an ack the report of what was
/// done (sent in the same transaction as the ack, so it exists if and only if the message is settled), for a
/// refusal the reason, for a reply the answer.
public struct LeaseAction: Sendable, Equatable, Codable {
    public var lease: String
    public var report: HostReport?
    public var reason: String?
    public var reply: ConsoleReply?

    public init(lease: String, report: HostReport? = nil, reason: String? = nil, reply: ConsoleReply? = nil) {
        self.lease = lease
        self.report = report
        self.reason = reason
        self.reply = reply
    }
}

/// The answer to an ack: whether its report was taken, and why not (a report about an instance that has moved on
/// is refused; the message is settled all the same).
public struct AckResult: Sendable, Equatable, Codable {
    public var refusedReport: String?
    public init(refusedReport: String? = nil) { self.refusedReport = refusedReport }
    enum CodingKeys: String, CodingKey { case refusedReport = "refused_report" }
}

/// `POST /agent/v1/heartbeats`: one heartbeat for every host an agent process serves (Nova's per-service
/// `report_interval` update, batched: an agent with 1,000 fake hosts sent 1,000 requests every interval, and
/// under load the last of them came after `service_down_time`, so the scheduler thought those hosts were down).
public struct HeartbeatBatch: Sendable, Equatable, Codable {
    /// The most hosts one batch may name (the control plane refuses more; agents send several batches).
    public static let maxHosts = 1000
    public var hosts: [String]
    public init(hosts: [String]) { self.hosts = hosts }
}

/// The answer to a batched heartbeat: the hosts it named that are not registered (nothing was recorded for them).
public struct HeartbeatResult: Sendable, Equatable, Codable {
    public var unknownHosts: [String]
    public init(unknownHosts: [String]) { self.unknownHosts = unknownHosts }
    enum CodingKeys: String, CodingKey { case unknownHosts = "unknown_hosts" }
}

/// `POST /agent/v1/acks`: many settled messages in one request, each with its lease and the report of what was
/// done. The control plane settles them in one transaction; an ack whose lease is no longer held is answered as
/// not settled without failing the others.
public struct AckBatch: Sendable, Equatable, Codable {
    public var acks: [Ack]
    public init(acks: [Ack]) { self.acks = acks }

    /// One message settled.
    public struct Ack: Sendable, Equatable, Codable {
        public var id: String
        public var lease: String
        public var requestID: String?
        public var report: HostReport?
        public init(id: String, lease: String, requestID: String?, report: HostReport?) {
            self.id = id
            self.lease = lease
            self.requestID = requestID
            self.report = report
        }
        enum CodingKeys: String, CodingKey { case id, lease, requestID = "request_id", report }
    }
}

/// The answer to a batch of acks, in the batch's order.
public struct AckBatchResult: Sendable, Equatable, Codable {
    public var results: [Outcome]
    public init(results: [Outcome]) { self.results = results }

    /// Whether one ack settled its message, and why its report was refused, if it was.
    public struct Outcome: Sendable, Equatable, Codable {
        public var id: String
        public var settled: Bool
        public var refusedReport: String?
        public init(id: String, settled: Bool, refusedReport: String?) {
            self.id = id
            self.settled = settled
            self.refusedReport = refusedReport
        }
        enum CodingKeys: String, CodingKey { case id, settled, refusedReport = "refused_report" }
    }
}
