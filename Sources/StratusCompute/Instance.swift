import Foundation
import StratusCore

/// A server as the control plane records it.
public struct Instance: Sendable, Equatable {
    public var uuid: String
    public var name: String
    public var projectID: String
    public var userID: String
    public var flavor: Flavor
    public var imageRef: String
    public var host: String?
    public var node: String?
    public var vmState: VMState
    public var taskState: TaskState?
    public var powerState: PowerState
    public var availabilityZone: String?
    public var keyName: String?
    public var metadata: [String: String]
    public var userData: String?
    public var createdAt: Double
    public var updatedAt: Double
    public var launchedAt: Double?
    public var fault: Fault?
    /// The hypervisor-side name from `instance_name_template`, derived from the UUID so it is the same in every cell.
    public var instanceName: String
    public var locked: Bool = false
    public var lockedReason: String?
    public var deleted: Bool = false
    public var description: String?
    /// Server tags (microversion 2.26), in the order they were set.
    public var tags: [String] = []
    /// The scheduler hints given at create, kept for rescheduling.
    public var hints = SchedulerHints()
    /// The boot image's properties when the server was created (`hw_*`, `img_*`, `kernel_id`, …).
    public var imageProperties: [String: String] = [:]
    /// The networks asked for at create, in order.
    public var requestedNetworks: [RequestedNetwork] = []
    /// The ports bound to the server, and whether the build created them (those are deleted with it; ports the
    /// user brought are only unbound).
    public var ports: [AttachedPort] = []

    /// What went wrong, in Nova's `fault` shape.
    public struct Fault: Sendable, Equatable, Codable {
        public var code: Int
        public var message: String
        public var details: String
        public var created: Double

        public init(code: Int, message: String, details: String, created: Double = Clock.now()) {
            self.code = code
            self.message = message
            self.details = details
            self.created = created
        }
    }

    public var status: String { ServerStatus.of(vmState, taskState) }

    public init(uuid: String, name: String, projectID: String, userID: String, flavor: Flavor, imageRef: String,
                instanceName: String) {
        self.uuid = uuid
        self.name = name
        self.projectID = projectID
        self.userID = userID
        self.flavor = flavor
        self.imageRef = imageRef
        self.vmState = .building
        self.taskState = .scheduling
        self.powerState = .noState
        self.metadata = [:]
        self.createdAt = Clock.now()
        self.updatedAt = createdAt
        self.instanceName = instanceName
    }

    /// Nova's default `instance_name_template` is `instance-%08x` over a per-database id; Stratus uses the UUID so
    /// names never collide across cells (the seeds' lesson).
    public static func name(template: String, uuid: String) -> String {
        template.replacingOccurrences(of: "%(uuid)s", with: uuid)
    }

    /// The guest hostname Nova derives from the display name: lower case, letters, digits and dashes, at most 63.
    public var hostname: String {
        let mapped = name.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" ? $0 : "-" }
        let trimmed = String(mapped).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "server-\(uuid.prefix(8))" : String(trimmed.prefix(63))
    }
}

/// `os:scheduler_hints` as given at create: the server group and same/different host requests.
public struct SchedulerHints: Sendable, Equatable, Codable {
    public var group: String?
    public var sameHost: [String] = []
    public var differentHost: [String] = []

    public init(group: String? = nil, sameHost: [String] = [], differentHost: [String] = []) {
        self.group = group
        self.sameHost = sameHost
        self.differentHost = differentHost
    }
}

/// One entry of a create's `networks`: a network (maybe with a fixed IP) or an existing port.
public struct RequestedNetwork: Sendable, Equatable {
    public var networkID: String?
    public var fixedIP: String?
    public var portID: String?

    public init(networkID: String? = nil, fixedIP: String? = nil, portID: String? = nil) {
        self.networkID = networkID
        self.fixedIP = fixedIP
        self.portID = portID
    }

    var stored: JSON {
        var fields: [String: JSON] = [:]
        if let networkID { fields["network"] = .string(networkID) }
        if let fixedIP { fields["fixed_ip"] = .string(fixedIP) }
        if let portID { fields["port"] = .string(portID) }
        return .object(fields)
    }

    init(stored json: JSON) {
        self.init(networkID: json["network"]?.stringValue, fixedIP: json["fixed_ip"]?.stringValue, portID: json["port"]?.stringValue)
    }
}

/// A port bound to a server.
public struct AttachedPort: Sendable, Equatable {
    public var id: String
    public var createdByBuild: Bool

    public init(id: String, createdByBuild: Bool) {
        self.id = id
        self.createdByBuild = createdByBuild
    }
}

/// One entry of `os-instance-actions`.
public struct InstanceActionRecord: Sendable, Equatable {
    public var id: String
    public var instanceUUID: String
    public var action: String
    public var requestID: String
    public var userID: String
    public var projectID: String
    public var startTime: Double
    public var finishTime: Double?
    public var message: String?
    public var events: [Event]

    /// One step of an action, with where it ran and how it ended.
    public struct Event: Sendable, Equatable {
        public var name: String
        public var startTime: Double
        public var finishTime: Double?
        public var result: String?
        public var host: String?
        public var details: String?
    }
}
