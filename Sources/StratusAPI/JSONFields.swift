import StratusCore

/// Reads fields out of a request's JSON object, refusing wrong types with a 400 that names the field by its
/// path, as OpenStack's schema validation does ("Invalid input for field 'user/name': …").
public struct JSONFields: Sendable {
    public let object: [String: JSON]
    /// Slash-separated path of this object inside the body, for messages.
    public let path: String

    public init(_ json: JSON, path: String) throws {
        guard case .object(let object) = json else {
            throw Self.invalid(path, "expected an object, got \(json.typeName)")
        }
        self.object = object
        self.path = path
    }

    /// The object under `key` of a body, required.
    public init(body: JSON, key: String) throws {
        guard let inner = body[key] else {
            throw StratusError.badRequest("Invalid input for field '\(key)': '\(key)' is a required property.")
        }
        try self.init(inner, path: key)
    }

    static func invalid(_ path: String, _ why: String) -> StratusError {
        .badRequest("Invalid input for field '\(path)': \(why).")
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path)/\(key)" }

    public func has(_ key: String) -> Bool { object[key] != nil }

    /// A string, nil when absent (or null and `nullable`). Empty strings are refused unless `allowEmpty`.
    public func string(_ key: String, required: Bool = false, maxLength: Int = 255, allowEmpty: Bool = false,
                       nullable: Bool = false) throws -> String? {
        guard let value = object[key] else {
            if required { throw Self.invalid(fieldPath(key), "'\(key)' is a required property") }
            return nil
        }
        if value.isNull, nullable, !required { return nil }
        guard case .string(let text) = value else {
            throw Self.invalid(fieldPath(key), "expected a string, got \(value.typeName)")
        }
        if text.isEmpty && !allowEmpty { throw Self.invalid(fieldPath(key), "must not be empty") }
        if text.count > maxLength {
            throw Self.invalid(fieldPath(key), "is longer than \(maxLength) characters")
        }
        return text
    }

    public func requiredString(_ key: String, maxLength: Int = 255) throws -> String {
        try string(key, required: true, maxLength: maxLength)!
    }

    /// An integer within `range`; nil when absent.
    public func int(_ key: String, required: Bool = false, range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        guard let value = object[key] else {
            if required { throw Self.invalid(fieldPath(key), "'\(key)' is a required property") }
            return nil
        }
        guard let number = value.intValue else {
            throw Self.invalid(fieldPath(key), "expected an integer, got \(value.typeName)")
        }
        guard range.contains(number) else {
            let bound = number < range.lowerBound ? "less than the minimum of \(range.lowerBound)" : "greater than the maximum of \(range.upperBound)"
            throw Self.invalid(fieldPath(key), "\(number) is \(bound)")
        }
        return number
    }

    public func double(_ key: String) throws -> Double? {
        guard let value = object[key] else { return nil }
        guard case .number(let number) = value else {
            throw Self.invalid(fieldPath(key), "expected a number, got \(value.typeName)")
        }
        return number
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let value = object[key] else { return nil }
        guard case .bool(let flag) = value else {
            throw Self.invalid(fieldPath(key), "expected a boolean, got \(value.typeName)")
        }
        return flag
    }

    public func fields(_ key: String, required: Bool = false) throws -> JSONFields? {
        guard let value = object[key] else {
            if required { throw Self.invalid(fieldPath(key), "'\(key)' is a required property") }
            return nil
        }
        return try JSONFields(value, path: fieldPath(key))
    }

    public func stringArray(_ key: String, required: Bool = false) throws -> [String]? {
        guard let value = object[key] else {
            if required { throw Self.invalid(fieldPath(key), "'\(key)' is a required property") }
            return nil
        }
        guard case .array(let items) = value else {
            throw Self.invalid(fieldPath(key), "expected an array, got \(value.typeName)")
        }
        return try items.map { item in
            guard case .string(let text) = item else {
                throw Self.invalid(fieldPath(key), "expected an array of strings, found \(item.typeName)")
            }
            return text
        }
    }

    /// Refuses properties outside `allowed`, for schemas with `additionalProperties: false`.
    public func rejectUnknown(_ allowed: Set<String>) throws {
        if let extra = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw StratusError.badRequest(
                "Invalid input for field '\(path)': Additional properties are not allowed ('\(extra)' was unexpected).")
        }
    }
}
