import StratusCore
import StratusMessages

/// How an agent reaches the control plane: claim the messages of its hosts (leased), settle each one, and
/// report back. `HTTPAgentChannel` is the only implementation an agent uses; tests drive the same HTTP API.
public protocol AgentChannel: Sendable {
    /// Messages for any of `hosts`, waiting up to `wait` for the first one.
    func claim(hosts: [String], limit: Int, wait: Duration) async throws -> [Delivery]
    /// The message is done; `report` (what came of it) goes with the ack, atomically. Returns why the report was
    /// refused, if it was (the message is settled either way).
    func ack(_ delivery: Delivery, report: HostReport?) async throws -> String?
    /// Keeps the lease during long work; false when it was lost (the work may be repeated elsewhere).
    func extend(_ delivery: Delivery) async throws -> Bool
    /// The message can never be handled here: dead-lettered with `reason`.
    func refuse(_ delivery: Delivery, reason: String) async throws
    /// Answers a call and settles it.
    func reply(_ delivery: Delivery, _ reply: ConsoleReply) async throws
    /// Tells the conductor something; `register_host` answers with the compute node's uuid.
    func report(_ report: HostReport, requestID: String?) async throws -> String?
    /// One heartbeat for each of `hosts` (at most 1,000); returns those the control plane does not know.
    func heartbeat(hosts: [String]) async throws -> [String]
    /// Puts a compute node's provider, inventory and traits into Placement (through Placement's own API).
    func reportProvider(_ report: ProviderReport) async throws
}

/// The agent channel over the control plane's HTTP API (`/compute/agent/v1`).
public struct HTTPAgentChannel: AgentChannel {
    let client: ControlPlaneClient
    /// Acks go out in groups (`POST /acks`); see `AckGroup`.
    let acks: AckGroup

    public init(client: ControlPlaneClient) {
        self.client = client
        @Sendable func send(_ batch: [AckBatch.Ack]) async throws -> [AckBatchResult.Outcome] {
            let reply = try await Self.call(client, "/acks", try WireFormat.encode(AckBatch(acks: batch)))
            return try WireFormat.decode(AckBatchResult.self, from: reply).results
        }
        self.acks = AckGroup(maxBatch: 100) { batch in
            do {
                return try await send(batch)
            } catch let error as ControlPlaneError where batch.count > 1 && (error.status == 400 || error.status == 413) {
                // One ack the batch cannot carry (a report too large, say) must not keep the others from settling:
                // each goes on its own, and only a bad one fails.
                var outcomes: [AckBatchResult.Outcome] = []
                for ack in batch {
                    do {
                        outcomes += try await send([ack])
                    } catch is ControlPlaneError {
                        continue  // unanswered: this ack's waiter fails, its lease lapses and the message comes again
                    }
                }
                return outcomes
            }
        }
    }

    public func claim(hosts: [String], limit: Int, wait: Duration) async throws -> [Delivery] {
        let body = try WireFormat.encode(ClaimRequest(hosts: hosts, limit: limit, waitMilliseconds: Int(wait.inMilliseconds)))
        let reply = try await call("/claim", body, timeout: wait + .seconds(15))
        return try WireFormat.decode(ClaimResponse.self, from: reply).deliveries
    }

    public func ack(_ delivery: Delivery, report: HostReport?) async throws -> String? {
        let outcome = try await acks.ack(AckBatch.Ack(id: delivery.id, lease: delivery.lease, requestID: delivery.requestID, report: report))
        guard outcome.settled else {
            throw ControlPlaneError(status: 409, message: "the lease on message \(delivery.id) is not held: it expired or went to another agent")
        }
        return outcome.refusedReport
    }

    public func extend(_ delivery: Delivery) async throws -> Bool {
        do {
            _ = try await call("/messages/\(delivery.id)/extend", try WireFormat.encode(LeaseAction(lease: delivery.lease)))
            return true
        } catch let error as ControlPlaneError where error.status == 409 {
            return false
        }
    }

    public func refuse(_ delivery: Delivery, reason: String) async throws {
        _ = try await call("/messages/\(delivery.id)/refuse", try WireFormat.encode(LeaseAction(lease: delivery.lease, reason: reason)))
    }

    public func reply(_ delivery: Delivery, _ reply: ConsoleReply) async throws {
        _ = try await call("/messages/\(delivery.id)/reply", try WireFormat.encode(LeaseAction(lease: delivery.lease, reply: reply)))
    }

    public func report(_ report: HostReport, requestID: String?) async throws -> String? {
        let reply = try await call("/reports", try WireFormat.encode(report), requestID: requestID)
        return reply["node"]?.stringValue
    }

    public func heartbeat(hosts: [String]) async throws -> [String] {
        let reply = try await call("/heartbeats", try WireFormat.encode(HeartbeatBatch(hosts: hosts)))
        return try WireFormat.decode(HeartbeatResult.self, from: reply).unknownHosts
    }

    public func reportProvider(_ report: ProviderReport) async throws {
        try await PlacementReporter(client: client).report(report)
    }

    private func call(_ path: String, _ body: JSON, timeout: Duration = .seconds(30), requestID: String? = nil) async throws -> JSON {
        try await Self.call(client, path, body, timeout: timeout, requestID: requestID)
    }

    private static func call(_ client: ControlPlaneClient, _ path: String, _ body: JSON, timeout: Duration = .seconds(30),
                             requestID: String? = nil) async throws -> JSON {
        let (status, json) = try await client.request(.POST, ControlPlaneClient.agentService, path, body: body, timeout: timeout,
                                                      requestID: requestID)
        guard (200..<300).contains(status) else {
            let message = json["error"]?["message"]?.stringValue ?? json.encodedString()
            throw ControlPlaneError(status: status, message: message)
        }
        return json
    }
}

