/// Writes JSON straight into bytes, for large responses where building `JSON` values first would cost more than
/// the writing. The caller emits keys and values in order; commas are placed automatically.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// One entry per open container: whether it already holds an element.
    private var hasElement: [Bool] = []
    private var afterKey = false

    public init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = hasElement.last {
            if last { bytes.append(0x2C) }
            hasElement[hasElement.count - 1] = true
        }
    }

    public mutating func beginObject() { separate(); bytes.append(0x7B); hasElement.append(false) }
    public mutating func endObject() { bytes.append(0x7D); hasElement.removeLast() }
    public mutating func beginArray() { separate(); bytes.append(0x5B); hasElement.append(false) }
    public mutating func endArray() { bytes.append(0x5D); hasElement.removeLast() }

    public mutating func key(_ name: String) {
        separate()
        JSON.appendString(name, to: &bytes)
        bytes.append(0x3A)
        afterKey = true
    }

    public mutating func string(_ value: String) { separate(); JSON.appendString(value, to: &bytes) }
    public mutating func int(_ value: Int) {
        separate()
        guard value >= 0 else { bytes.append(contentsOf: String(value).utf8); return }
        // Digits straight into the buffer, without a String per number.
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
                rest /= 10
                count += 1
            } while rest > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }
    public mutating func null() { separate(); bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }
    /// Appends already-serialised JSON as the next value.
    public mutating func raw(_ serialized: [UInt8]) { separate(); bytes.append(contentsOf: serialized) }

    public mutating func value(_ json: JSON) { separate(); bytes.append(contentsOf: json.encodedBytes()) }

    public mutating func optionalString(_ value: String?) {
        if let value { string(value) } else { null() }
    }
}
