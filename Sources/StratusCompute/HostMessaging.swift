import StratusCore
import StratusMessages
import StratusQueue
import StratusStorage

/// Sending typed commands to compute hosts through the queue: topic `compute.HOST`, payload a versioned
/// `ComputeCommand`, so the agent's side decodes exactly what was meant.
extension Queue {
    public static func hostTopic(_ host: String) -> String { hostTopicPrefix + host }

    /// The host a `compute.HOST` topic is for.
    public static func host(ofTopic topic: String) -> String { String(topic.dropFirst(hostTopicPrefix.count)) }

    static let hostTopicPrefix = "compute."

    /// Where hosts' reports go: a topic of its own, so a finished spawn never waits behind a flood of new builds.
    public static let reportsTopic = "conductor-reports"

    /// Sends `command` to `host` inside the caller's transaction.
    public func send(_ command: ComputeCommand, to host: String, requestID: String?, in tx: Transaction) async throws {
        try await enqueue(topic: Self.hostTopic(host), payload: try WireFormat.encode(command), requestID: requestID, in: tx)
    }

    /// Sends `command` to `host` in a transaction of its own.
    public func send(_ command: ComputeCommand, to host: String, requestID: String? = nil) async throws {
        try await cast(topic: Self.hostTopic(host), payload: try WireFormat.encode(command), requestID: requestID)
    }

    /// The conductors' request topic.
    public static let conductorTopic = "conductor"

    /// Sends a request to the conductors inside the caller's transaction (it exists if and only if the caller's
    /// change commits).
    public func request(_ request: ConductorRequest, requestID: String?, in tx: Transaction) async throws {
        try await enqueue(topic: Self.conductorTopic, payload: try WireFormat.encode(request), requestID: requestID, in: tx)
    }

    /// Sends a request to the conductors in a transaction of its own.
    public func request(_ request: ConductorRequest, requestID: String? = nil) async throws {
        try await cast(topic: Self.conductorTopic, payload: try WireFormat.encode(request), requestID: requestID)
    }

    /// A call to `host` (the console), decoded.
    public func ask(_ command: ComputeCommand, of host: String, timeout: Double, requestID: String?) async throws -> ConsoleReply {
        let reply = try await call(topic: Self.hostTopic(host), payload: try WireFormat.encode(command), timeout: timeout, requestID: requestID)
        return try WireFormat.decode(ConsoleReply.self, from: reply)
    }
}
