import StratusCore

/// What a compute agent asks of a hypervisor. `FakeDriver` for tests and scale runs, `QEMUDriver` for real guests.
public protocol VirtDriver: Sendable {
    /// The host's capacity, reported to placement as inventory.
    func hostResources() async -> HostResources
    /// Creates and starts a guest; returns when it runs.
    func spawn(_ request: SpawnRequest) async throws
    /// Stops and removes a guest; succeeds if it is already gone (idempotent).
    func destroy(instanceUUID: String) async throws
    /// Changes a guest's power: stop, start, soft/hard reboot, pause/unpause, suspend/resume. Idempotent where it can be.
    func power(instanceUUID: String, action: PowerAction) async throws
    /// The guest's serial console output, at most the last `lines` lines when given.
    func consoleOutput(instanceUUID: String, lines: Int?) async throws -> String
    /// Guests the driver knows on this host and whether each runs, for the periodic power-state sync.
    func listGuests() async -> [String: Bool]
    var hypervisorType: String { get }
    /// Nova's `hypervisor_version` (QEMU 7.2.22 → 7002022).
    var hypervisorVersion: Int { get }
    /// Nova's `cpu_info`; QEMU adds which accelerator (kvm or tcg) runs the guests.
    var cpuInfo: JSON { get }
    /// Periodic housekeeping (the image cache manager), every `[image_cache] manager_interval`.
    func maintain() async
}

extension VirtDriver {
    public var hypervisorVersion: Int { 1 }
    public var cpuInfo: JSON { [:] }
    public func maintain() async {}
}

/// A host's size as the driver sees it.
public struct HostResources: Sendable, Equatable {
    public var vcpus: Int
    public var memoryMB: Int
    public var localGB: Int

    public init(vcpus: Int, memoryMB: Int, localGB: Int) {
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.localGB = localGB
    }
}

/// Everything a driver needs to start one guest.
public struct SpawnRequest: Sendable, Equatable {
    public var instanceUUID: String
    public var instanceName: String
    public var vcpus: Int
    public var memoryMB: Int
    public var rootGB: Int
    public var imageRef: String
    /// The guest's hostname (from the server's name, as Nova's `hostname`).
    public var hostname: String
    /// The ports bound to the server, one NIC each, in order.
    public var ports: [SpawnPort]

    public init(instanceUUID: String, instanceName: String, vcpus: Int, memoryMB: Int, rootGB: Int, imageRef: String,
                hostname: String = "", ports: [SpawnPort] = []) {
        self.instanceUUID = instanceUUID
        self.instanceName = instanceName
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.rootGB = rootGB
        self.imageRef = imageRef
        self.hostname = hostname
        self.ports = ports
    }
}

/// A port as the driver sees it: which NIC, with which MAC.
public struct SpawnPort: Sendable, Equatable, Codable {
    public var id: String
    public var mac: String
    public init(id: String, mac: String) {
        self.id = id
        self.mac = mac
    }
}

/// A power change the conductor asks a host for.
public enum PowerAction: String, Sendable {
    case stop, start
    case rebootSoft = "reboot_soft"
    case rebootHard = "reboot_hard"
    case pause, unpause, suspend, resume
}

/// A driver failure, with the message the instance fault will carry.
public struct DriverError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
