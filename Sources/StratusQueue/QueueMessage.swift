import StratusCore

/// A message as a consumer receives it.
public struct QueueMessage: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Fire and forget.
        case cast
        /// Request/reply: the caller waits for `Queue.reply`.
        case call
    }

    public let id: String
    public let topic: String
    public let kind: Kind
    public let payload: JSON
    /// The request id of the API call that caused this message, so logs and events follow it across hops.
    public let requestID: String?
    /// 1 on first delivery.
    public let attempt: Int
    public let maxAttempts: Int
    /// When it was sent, and when this delivery claimed it: both by the database's clock (epoch seconds).
    public var sentAt: Double = 0
    public var claimedAt: Double = 0
}

/// A message that exhausted its attempts, kept with the reason.
public struct DeadLetter: Sendable, Equatable {
    public let id: String
    public let topic: String
    public let payload: JSON
    public let attempts: Int
    public let reason: String
}

/// Queue failures a caller can act on.
public enum QueueError: Error, Sendable, CustomStringConvertible {
    /// No reply arrived in time.
    case timeout(topic: String, seconds: Double)
    /// The consumer's handler threw; its message is carried back to the caller.
    case remote(topic: String, message: String)
    /// The message can never be handled (unknown kind or version, a missing field): dead-lettered at once with
    /// the reason, not retried.
    case rejected(String)

    public var description: String {
        switch self {
        case .timeout(let topic, let seconds): return "no reply from \(topic) within \(seconds) s"
        case .remote(let topic, let message): return "\(topic) failed: \(message)"
        case .rejected(let reason): return "message rejected: \(reason)"
        }
    }
}
