import Foundation

/// Identifier helpers in the forms OpenStack services use.
public enum Identifier {
    /// Keystone's form: 32 lowercase hex digits, no dashes.
    public static func keystone() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// Nova's and Neutron's form: a dashed lowercase UUID.
    public static func uuid() -> String { UUID().uuidString.lowercased() }

    /// A request id in oslo's form, `req-` followed by a dashed UUID.
    public static func requestID() -> String { "req-" + uuid() }

    /// Whether `text` is a request id in oslo's form, so it may be kept as a global request id.
    public static func isRequestID(_ text: String) -> Bool {
        guard text.hasPrefix("req-"), text.count == 40 else { return false }
        return UUID(uuidString: String(text.dropFirst(4))) != nil
    }
}

/// Wall-clock time in the forms stored and shown.
public enum Clock {
    /// Seconds since 1970, as stored in the database.
    public static func now() -> Double { Date().timeIntervalSince1970 }

    /// ISO 8601 with microseconds and `Z`, as Keystone prints `expires_at`.
    public static func iso8601Micro(_ seconds: Double) -> String {
        let date = Date(timeIntervalSince1970: seconds)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let micros = Int((seconds - seconds.rounded(.down)) * 1_000_000)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!,
            micros)
    }

    /// ISO 8601 without fractions, as Nova and the version documents print times.
    public static func iso8601(_ seconds: Double) -> String {
        String(iso8601Micro(seconds).prefix(19)) + "Z"
    }

    /// Seconds since 1970 from ISO 8601 (`2026-11-22T07:00:00Z`, optional fraction and offset); nil if not one.
    public static func parseISO8601(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        }
        // Nova also takes a naive time, meaning UTC.
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text + "Z")?.timeIntervalSince1970
    }
}

/// Ethernet MAC addresses as OpenStack writes them: six colon-separated pairs of hex digits.
public enum MACAddress {
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
    }
}

extension Duration {
    /// The duration in (fractional) milliseconds, for logs, metrics and benchmarks.
    public var inMilliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
    /// The duration in (fractional) seconds.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
