import Foundation

/// Flavor extra specs scoped `aggregate_instance_extra_specs:` (or unscoped) must be matched by the metadata of
/// one of the host's aggregates (Nova's AggregateInstanceExtraSpecsFilter). Values compare as strings;
/// `<in> x` matches a substring and `<or> a <or> b` any of the alternatives.
public struct AggregateInstanceExtraSpecsFilter: HostFilter {
    public static let name = "AggregateInstanceExtraSpecsFilter"
    static let scope = "aggregate_instance_extra_specs:"
    public init() {}

    public func passes(_ host: HostState, _ spec: RequestSpec) -> Bool {
        for (key, wanted) in spec.flavorExtraSpecs {
            let name: String
            if key.hasPrefix(Self.scope) {
                name = String(key.dropFirst(Self.scope.count))
            } else if !key.contains(":") {
                name = key
            } else {
                continue  // another filter's scope
            }
            guard let offered = host.aggregateMetadata[name], offered.contains(where: { Self.matches($0, wanted) }) else {
                return false
            }
        }
        return true
    }

    static func matches(_ value: String, _ wanted: String) -> Bool {
        let trimmed = wanted.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("<in>") {
            return value.contains(trimmed.dropFirst(4).trimmingCharacters(in: .whitespaces))
        }
        if trimmed.hasPrefix("<or>") {
            return trimmed.components(separatedBy: "<or>").map { $0.trimmingCharacters(in: .whitespaces) }.contains(value)
        }
        if trimmed.hasPrefix("s==") { return value == trimmed.dropFirst(3).trimmingCharacters(in: .whitespaces) }
        return value == trimmed
    }
}
