import StratusCore

/// A Nova flavor: the size of a server.
public struct Flavor: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var memoryMB: Int
    public var vcpus: Int
    public var rootGB: Int
    public var ephemeralGB: Int = 0
    public var swapMB: Int = 0
    public var rxtxFactor: Double = 1.0
    public var isPublic: Bool = true
    public var disabled: Bool = false
    public var description: String?
    public var extraSpecs: [String: String] = [:]

    public init(id: String, name: String, memoryMB: Int, vcpus: Int, rootGB: Int) {
        self.id = id
        self.name = name
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.rootGB = rootGB
    }

    /// DevStack's default flavors, created by `stratus up` on first start.
    public static let defaults: [Flavor] = [
        Flavor(id: "1", name: "m1.tiny", memoryMB: 512, vcpus: 1, rootGB: 1),
        Flavor(id: "2", name: "m1.small", memoryMB: 2048, vcpus: 1, rootGB: 20),
        Flavor(id: "3", name: "m1.medium", memoryMB: 4096, vcpus: 2, rootGB: 40),
        Flavor(id: "4", name: "m1.large", memoryMB: 8192, vcpus: 4, rootGB: 80),
        Flavor(id: "5", name: "m1.xlarge", memoryMB: 16384, vcpus: 8, rootGB: 160),
        Flavor(id: "42", name: "m1.nano", memoryMB: 128, vcpus: 1, rootGB: 1),
        Flavor(id: "84", name: "m1.micro", memoryMB: 192, vcpus: 1, rootGB: 1),
    ]
}

extension Flavor {
    /// The flavor as stored with an instance (the keys of its Codable form), written and read with Stratus's
    /// own JSON code: Foundation's coders dominated instance reads at scale.
    var stored: JSON {
        var fields: [String: JSON] = [
            "id": .string(id), "name": .string(name), "memoryMB": .int(memoryMB), "vcpus": .int(vcpus), "rootGB": .int(rootGB),
            "ephemeralGB": .int(ephemeralGB), "swapMB": .int(swapMB), "rxtxFactor": .number(rxtxFactor),
            "isPublic": .bool(isPublic), "disabled": .bool(disabled),
            "extraSpecs": .object(extraSpecs.mapValues { .string($0) }),
        ]
        if let description { fields["description"] = .string(description) }
        return .object(fields)
    }

    init?(stored json: JSON) {
        guard let id = json["id"]?.stringValue, let name = json["name"]?.stringValue else { return nil }
        self.init(id: id, name: name, memoryMB: json["memoryMB"]?.intValue ?? 0, vcpus: json["vcpus"]?.intValue ?? 0,
                  rootGB: json["rootGB"]?.intValue ?? 0)
        ephemeralGB = json["ephemeralGB"]?.intValue ?? 0
        swapMB = json["swapMB"]?.intValue ?? 0
        rxtxFactor = json["rxtxFactor"]?.doubleValue ?? 1
        isPublic = json["isPublic"]?.boolValue ?? true
        disabled = json["disabled"]?.boolValue ?? false
        description = json["description"]?.stringValue
        extraSpecs = json["extraSpecs"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
    }
}

extension SchedulerHints {
    var stored: JSON {
        var fields: [String: JSON] = [
            "sameHost": .array(sameHost.map { .string($0) }), "differentHost": .array(differentHost.map { .string($0) }),
        ]
        if let group { fields["group"] = .string(group) }
        return .object(fields)
    }

    init(stored json: JSON) {
        self.init(group: json["group"]?.stringValue, sameHost: json["sameHost"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                  differentHost: json["differentHost"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }
}
