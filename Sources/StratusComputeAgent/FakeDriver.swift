import Synchronization

/// A driver that pretends: guests "run" in a dictionary. Configurable size, spawn delay and failure injection,
/// for tests and scale benchmarks. Never the only proof that something works.
public final class FakeDriver: VirtDriver {
    public let resources: HostResources
    public let spawnDelay: Duration
    private let state = Mutex<(running: Set<String>, failNextSpawns: Int)>(([], 0))

    public init(resources: HostResources = HostResources(vcpus: 16, memoryMB: 32768, localGB: 500),
                spawnDelay: Duration = .zero) {
        self.resources = resources
        self.spawnDelay = spawnDelay
    }

    public var hypervisorType: String { "fake" }

    public func hostResources() async -> HostResources { resources }

    /// Makes the next `count` spawns fail, as a broken hypervisor would.
    public func failNextSpawns(_ count: Int) { state.withLock { $0.failNextSpawns = count } }

    public var running: Set<String> { state.withLock { $0.running } }

    public func spawn(_ request: SpawnRequest) async throws {
        if spawnDelay > .zero { try await Task.sleep(for: spawnDelay) }
        let fail = state.withLock { state -> Bool in
            if state.failNextSpawns > 0 {
                state.failNextSpawns -= 1
                return true
            }
            state.running.insert(request.instanceUUID)
            return false
        }
        if fail { throw DriverError("fake driver: injected spawn failure for \(request.instanceName)") }
    }

    public func destroy(instanceUUID: String) async throws {
        _ = state.withLock { $0.running.remove(instanceUUID) }
    }

    public func power(instanceUUID: String, action: PowerAction) async throws {
        state.withLock { state in
            switch action {
            case .stop: state.running.remove(instanceUUID)
            case .start, .rebootSoft, .rebootHard: state.running.insert(instanceUUID)
            }
        }
    }
}
