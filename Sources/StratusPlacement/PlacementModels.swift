import StratusCore

/// A resource provider: a compute node, a NUMA cell, a shared storage pool, a NIC…
public struct ResourceProvider: Sendable, Equatable {
    public var uuid: String
    public var name: String
    public var generation: Int
    public var parentUUID: String?
    public var rootUUID: String

    public init(uuid: String, name: String, generation: Int, parentUUID: String?, rootUUID: String) {
        self.uuid = uuid
        self.name = name
        self.generation = generation
        self.parentUUID = parentUUID
        self.rootUUID = rootUUID
    }
}

/// One resource class's inventory on a provider.
public struct Inventory: Sendable, Equatable {
    public var total: Int
    public var reserved: Int = 0
    public var minUnit: Int = 1
    public var maxUnit: Int = Inventory.maxInt
    public var stepSize: Int = 1
    public var allocationRatio: Double = 1.0

    /// Placement's MAX_INT, the default `max_unit`.
    public static let maxInt = 2_147_483_647

    public init(total: Int, reserved: Int = 0, minUnit: Int = 1, maxUnit: Int = Inventory.maxInt, stepSize: Int = 1,
                allocationRatio: Double = 1.0) {
        self.total = total
        self.reserved = reserved
        self.minUnit = minUnit
        self.maxUnit = maxUnit
        self.stepSize = stepSize
        self.allocationRatio = allocationRatio
    }

    /// `(total - reserved) * allocation_ratio`, truncated as Placement does.
    public var capacity: Int { Int((Double(total - reserved) * allocationRatio).rounded(.down)) }

    /// Whether one allocation of `amount` respects min_unit, max_unit and step_size.
    public func permits(_ amount: Int) -> Bool {
        amount >= minUnit && amount <= maxUnit && amount % stepSize == 0
    }
}

/// What one consumer holds on one provider.
public struct ProviderAllocation: Sendable, Equatable {
    public var providerUUID: String
    public var resources: [String: Int]

    public init(providerUUID: String, resources: [String: Int]) {
        self.providerUUID = providerUUID
        self.resources = resources
    }
}

/// A consumer's complete set of allocations, as `PUT /allocations/{consumer}` or one entry of
/// `POST /allocations` states it. An empty `allocations` removes the consumer's allocations.
public struct ConsumerAllocations: Sendable, Equatable {
    public var consumerUUID: String
    public var allocations: [ProviderAllocation]
    public var projectID: String
    public var userID: String
    public var consumerType: String?
    /// The generation the caller last saw: nil means "a new consumer" (1.28+); `.none` skips the check (<1.28).
    public var expectedGeneration: GenerationCheck

    /// How the consumer generation is checked.
    public enum GenerationCheck: Sendable, Equatable {
        case skip
        case newConsumer
        case equals(Int)
    }

    public init(consumerUUID: String, allocations: [ProviderAllocation], projectID: String, userID: String,
                consumerType: String? = nil, expectedGeneration: GenerationCheck = .skip) {
        self.consumerUUID = consumerUUID
        self.allocations = allocations
        self.projectID = projectID
        self.userID = userID
        self.consumerType = consumerType
        self.expectedGeneration = expectedGeneration
    }
}

/// A consumer's allocations as read back.
public struct ConsumerRecord: Sendable, Equatable {
    public var uuid: String
    public var projectID: String
    public var userID: String
    public var consumerType: String?
    public var generation: Int
    /// provider uuid → (provider generation, resources)
    public var allocations: [String: (generation: Int, resources: [String: Int])]

    public static func == (lhs: ConsumerRecord, rhs: ConsumerRecord) -> Bool {
        lhs.uuid == rhs.uuid && lhs.generation == rhs.generation
            && lhs.allocations.mapValues(\.resources) == rhs.allocations.mapValues(\.resources)
    }
}

/// Placement's error codes, carried in `StratusError.Code.faultName` so the fault renderer emits them.
public enum PlacementFault {
    public static func code(_ status: Int, _ name: String) -> StratusError.Code {
        StratusError.Code(status: status, faultName: name, title: titles[status] ?? "Error")
    }

    static let titles = [400: "Bad Request", 404: "Not Found", 409: "Conflict", 405: "Method Not Allowed",
                         406: "Not Acceptable"]

    public static func badRequest(_ message: String, code: String = "placement.undefined_code") -> StratusError {
        StratusError(self.code(400, code), message)
    }
    public static func notFound(_ message: String, code: String = "placement.undefined_code") -> StratusError {
        StratusError(self.code(404, code), message)
    }
    public static func conflict(_ message: String, code: String = "placement.undefined_code") -> StratusError {
        StratusError(self.code(409, code), message)
    }
    public static func concurrentUpdate(_ message: String) -> StratusError {
        conflict(message, code: "placement.concurrent_update")
    }
}
