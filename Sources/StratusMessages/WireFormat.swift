import Foundation
import StratusCore

/// The version of the messages between the control plane and compute agents. A peer that receives another
/// version refuses the message with a reason instead of guessing what its fields mean.
public enum WireFormat {
    public static let version = 1

    /// Encodes a message as the JSON the queue stores and the channel carries.
    public static func encode<Message: Encodable>(_ message: Message) throws -> JSON {
        try JSON.parse(String(decoding: try JSONEncoder().encode(message), as: UTF8.self))
    }

    /// Decodes a message; every failure is a `MessageError` that says what was wrong.
    public static func decode<Message: Decodable>(_ type: Message.Type, from json: JSON) throws -> Message {
        do {
            return try JSONDecoder().decode(Message.self, from: Data(json.encodedString().utf8))
        } catch let error as MessageError {
            throw error
        } catch let error as DecodingError {
            throw MessageError(Self.describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "the message" : "'" + keys.joined(separator: ".") + "'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing field '\(key.stringValue)'" + (context.codingPath.isEmpty ? "" : " in \(parent)")
        case .typeMismatch(let type, let context): return "\(path(context)) is not of type \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)) is null where \(type) is required"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "undecodable message"
        }
    }
}

/// A message that cannot be used: wrong version, unknown kind, a missing or mistyped field.
public struct MessageError: Error, Sendable, CustomStringConvertible, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The `version` and `op` every message starts with.
enum EnvelopeKey: String, CodingKey {
    case version, op
}

extension Decoder {
    /// Reads and checks the envelope, returning the message kind.
    func envelope() throws -> String {
        let container = try container(keyedBy: EnvelopeKey.self)
        let version = try container.decode(Int.self, forKey: .version)
        guard version == WireFormat.version else {
            throw MessageError("unsupported message version \(version) (this side speaks \(WireFormat.version))")
        }
        return try container.decode(String.self, forKey: .op)
    }
}

extension Encoder {
    func envelope(_ op: String) throws {
        var container = container(keyedBy: EnvelopeKey.self)
        try container.encode(WireFormat.version, forKey: .version)
        try container.encode(op, forKey: .op)
    }
}
