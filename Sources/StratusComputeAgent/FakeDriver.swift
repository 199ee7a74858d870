import Foundation
import Synchronization

/// A driver that pretends: guests "run" in a dictionary. Configurable size, spawn delay and failure injection,
/// for tests and scale benchmarks. Never the only proof that something works.
public final class FakeDriver: VirtDriver {
    /// What a fake guest is doing.
    public enum GuestState: Sendable, Equatable { case running, stopped, paused, suspended }

    public let resources: HostResources
    public let spawnDelay: Duration
    private let state = Mutex<(guests: [String: GuestState], failNextSpawns: Int, failingMoves: [MoveStep: Int])>(([:], 0, [:]))
    let live = Mutex(LiveState())

    /// What the fake live migrations on this host do: injected failures, how long the copy takes, and the
    /// aborts and force-completes asked for.
    struct LiveState {
        var failing: [LiveStep: Int] = [:]
        var markers: Set<String> = []
        var copyTime: Duration = .zero
        var cancelled: Set<String> = []
        var forced: Set<String> = []
        var migrating: Set<String> = []
        var failingSnapshots = 0
        var failingInPostCopy = 0
        var postCopyTime: Duration?
    }

    /// Where snapshots are uploaded (none: a snapshot fails).
    let images: (any ImageSource)?

    public init(resources: HostResources = HostResources(vcpus: 16, memoryMB: 32768, localGB: 500),
                spawnDelay: Duration = .zero, images: (any ImageSource)? = nil) {
        self.resources = resources
        self.spawnDelay = spawnDelay
        self.images = images
    }

    public var hypervisorType: String { "fake" }

    public func hostResources() async -> HostResources { resources }

    /// Takes any image, as Nova's fake driver does.
    public var capabilityTraits: [String: Bool] { ["COMPUTE_IMAGE_TYPE_QCOW2": true, "COMPUTE_IMAGE_TYPE_RAW": true] }

    /// Makes the next `count` spawns fail, as a broken hypervisor would.
    public func failNextSpawns(_ count: Int) { state.withLock { $0.failNextSpawns = count } }

    /// Makes the next `count` move steps `step` on this host fail, as a broken hypervisor would.
    public func failNextMoves(_ step: MoveStep, count: Int = 1) { state.withLock { $0.failingMoves[step] = count } }

    /// Guests that run now.
    public var running: Set<String> { state.withLock { Set($0.guests.filter { $0.value == .running }.keys) } }

    public func guestState(_ uuid: String) -> GuestState? { state.withLock { $0.guests[uuid] } }

    /// Powers a guest off behind the control plane's back, as a guest shutting itself down would.
    public func powerOffBehindTheScenes(_ uuid: String) { state.withLock { $0.guests[uuid] = .stopped } }

    public func spawn(_ request: SpawnRequest) async throws {
        if spawnDelay > .zero { try await Task.sleep(for: spawnDelay) }
        let fail = state.withLock { state -> Bool in
            if state.failNextSpawns > 0 {
                state.failNextSpawns -= 1
                return true
            }
            state.guests[request.instanceUUID] = .running
            return false
        }
        if fail { throw DriverError("fake driver: injected spawn failure for \(request.instanceName)") }
    }

    public func destroy(instanceUUID: String) async throws {
        _ = state.withLock { $0.guests.removeValue(forKey: instanceUUID) }
    }

    public func power(instanceUUID: String, action: PowerAction) async throws {
        try state.withLock { state in
            guard state.guests[instanceUUID] != nil else { throw DriverError("fake driver: no guest \(instanceUUID)") }
            switch action {
            case .stop: state.guests[instanceUUID] = .stopped
            case .start, .rebootSoft, .rebootHard, .unpause, .resume: state.guests[instanceUUID] = .running
            case .pause: state.guests[instanceUUID] = .paused
            case .suspend: state.guests[instanceUUID] = .suspended
            }
        }
    }

    public func consoleOutput(instanceUUID: String, lines: Int?) async throws -> String {
        guard let guest = guestState(instanceUUID) else { throw DriverError("fake driver: no guest \(instanceUUID)") }
        let all = ["fake console of \(instanceUUID)", "state: \(guest)", "login:"]
        return all.suffix(lines ?? all.count).joined(separator: "\n") + "\n"
    }

    public func migrateDiskAndPowerOff(_ request: MoveRequest) async throws -> String? {
        try moveStep(.resizeInstance, request) { guests, uuid in
            guard guests[uuid] != nil else { throw DriverError("fake driver: no guest \(uuid) to migrate") }
            guests[uuid] = .stopped
        }
        return nil
    }

    public func finishMigration(_ request: MoveRequest) async throws {
        try moveStep(.finishResize, request) { guests, uuid in guests[uuid] = request.powerOn ? .running : .stopped }
    }

    public func confirmMigration(_ request: MoveRequest) async throws {
        try moveStep(.confirmResize, request) { guests, uuid in
            if request.sourceHost != request.destHost { guests[uuid] = nil }  // one guest on a same-host resize: kept
        }
    }

    public func revertMigration(_ request: MoveRequest) async throws {
        try moveStep(.revertResize, request) { guests, uuid in
            if request.sourceHost != request.destHost { guests[uuid] = nil }  // one guest on a same-host resize: kept
        }
    }

    public func finishRevertMigration(_ request: MoveRequest) async throws {
        try moveStep(.finishRevertResize, request) { guests, uuid in
            guard guests[uuid] != nil else { throw DriverError("fake driver: no guest \(uuid) kept to revert to") }
            guests[uuid] = request.powerOn ? .running : .stopped
        }
    }

    /// A move step that fails if one was injected for it, else changes the guests.
    private func moveStep(_ step: MoveStep, _ request: MoveRequest,
                          _ change: (inout [String: GuestState], String) throws -> Void) throws {
        try state.withLock { state in
            if let left = state.failingMoves[step], left > 0 {
                state.failingMoves[step] = left - 1
                throw DriverError("fake driver: injected \(step.rawValue) failure for \(request.guest.instanceName)")
            }
            try change(&state.guests, request.guest.instanceUUID)
        }
    }

    /// Makes the next `count` live-migration steps `step` on this host fail, as a broken hypervisor would.
    public func failNextLiveSteps(_ step: LiveStep, count: Int = 1) { live.withLock { $0.failing[step] = count } }

    /// Makes the next `count` live migrations from this host fail after switching to post-copy: the guest is left
    /// paused here, as QEMU leaves a post-copy that lost its destination.
    public func failNextLiveMigrationsInPostCopy(_ count: Int = 1) { live.withLock { $0.failingInPostCopy = count } }

    /// Makes a force-complete switch the copy to post-copy (as `live_migration_permit_post_copy` does) which then
    /// takes `time`: the switch is reported, and an abort asked for meanwhile does nothing.
    public func switchToPostCopyWhenForced(taking time: Duration) { live.withLock { $0.postCopyTime = time } }

    /// How long a live migration from this host copies before it completes (an abort or force-complete ends it sooner).
    public func setLiveMigrationCopyTime(_ time: Duration) { live.withLock { $0.copyTime = time } }

    /// Makes the next `count` snapshots on this host fail.
    public func failNextSnapshots(_ count: Int = 1) { live.withLock { $0.failingSnapshots = count } }

    /// Guests whose live migration from this host is copying now.
    public var liveMigrating: Set<String> { live.withLock { $0.migrating } }

    /// A fake guest's "disk": a few bytes naming it, uploaded through the Image API like a real snapshot.
    public func snapshot(_ request: SnapshotRequest, progress: @escaping @Sendable (SnapshotOutcome.Phase) async -> Void) async throws {
        guard guestState(request.instanceUUID) != nil else { throw DriverError("fake driver: no guest \(request.instanceUUID)") }
        guard let images else { throw DriverError("fake driver: no image service to upload the snapshot to") }
        try live.withLock { live in
            if live.failingSnapshots > 0 {
                live.failingSnapshots -= 1
                throw DriverError("fake driver: injected snapshot failure for \(request.instanceUUID)")
            }
        }
        await progress(.pendingUpload)
        let path = NSTemporaryDirectory() + "fake-snapshot-\(request.imageID)"
        try await withTemporaryFile(path) {
            try Data("fake snapshot of \(request.instanceUUID)\n".utf8).write(to: URL(fileURLWithPath: path))
            await progress(.uploading)
            try await images.upload(request.imageID, from: path)
        }
    }

    public func listGuests() async -> [String: Bool] {
        state.withLock { $0.guests.mapValues { $0 != .stopped } }
    }
}

// MARK: Live migration

extension FakeDriver {
    func injectedLiveFailure(_ step: LiveStep, _ request: LiveMigrationRequest) throws {
        try live.withLock { live in
            if let left = live.failing[step], left > 0 {
                live.failing[step] = left - 1
                throw DriverError("fake driver: injected \(step.rawValue) failure for \(request.guest.instanceName)")
            }
        }
    }

    /// Fake hosts never share an instances_path: each sees only its own markers.
    public func createSharedPathMarker(migrationUUID: String) async throws {
        live.withLock { _ = $0.markers.insert(migrationUUID) }
    }

    public func seesSharedPathMarker(migrationUUID: String) async -> Bool { live.withLock { $0.markers.contains(migrationUUID) } }

    public func removeSharedPathMarker(migrationUUID: String) async throws { live.withLock { _ = $0.markers.remove(migrationUUID) } }

    public func preLiveMigration(_ request: LiveMigrationRequest) async throws -> LiveIncoming {
        try injectedLiveFailure(.preLiveMigration, request)
        try state.withLock { state in
            let uuid = request.guest.instanceUUID
            if state.guests[uuid] == .running { throw DriverError("fake driver: \(uuid) already runs here") }
            state.guests[uuid] = .paused  // waiting for the incoming guest
        }
        return LiveIncoming(uri: "fake:\(request.destHost)", nbd: request.blockMigration ? "fake-nbd:\(request.destHost)" : nil)
    }

    public func liveMigration(_ request: LiveMigrationRequest, progress: @escaping @Sendable (LiveProgress) async -> Void) async throws {
        let uuid = request.guest.instanceUUID
        try injectedLiveFailure(.liveMigration, request)
        guard guestState(uuid) == .running || guestState(uuid) == .paused else { throw DriverError("fake driver: no guest \(uuid) to migrate") }
        let copyTime = live.withLock { live in
            live.migrating.insert(uuid)
            return live.copyTime
        }
        defer { live.withLock { live in _ = live.migrating.remove(uuid); _ = live.forced.remove(uuid); _ = live.cancelled.remove(uuid) } }
        let total = request.guest.memoryMB << 20
        let deadline = ContinuousClock.now + copyTime
        var nextReport = ContinuousClock.now  // at once, then once a second (each report is a message)
        while true {
            let (cancelled, forced, postCopyTime) = live.withLock { ($0.cancelled.contains(uuid), $0.forced.contains(uuid), $0.postCopyTime) }
            if cancelled { throw LiveMigrationCancelled() }
            if forced, let postCopyTime {
                await progress(LiveProgress(host: "", migrationUUID: request.migrationUUID, memoryTotal: total,
                                            memoryProcessed: total / 2, memoryRemaining: total - total / 2, postCopy: true))
                try await Task.sleep(for: postCopyTime)
                break
            }
            if forced || ContinuousClock.now >= deadline { break }
            if ContinuousClock.now >= nextReport {
                nextReport = ContinuousClock.now + .seconds(1)
                await progress(LiveProgress(host: "", migrationUUID: request.migrationUUID, memoryTotal: total,
                                            memoryProcessed: total / 2, memoryRemaining: total - total / 2))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await progress(LiveProgress(host: "", migrationUUID: request.migrationUUID, memoryTotal: total, memoryProcessed: total))
        let failInPostCopy = live.withLock { live in
            defer { live.failingInPostCopy = max(0, live.failingInPostCopy - 1) }
            return live.failingInPostCopy > 0
        }
        if failInPostCopy {
            state.withLock { _ = $0.guests[uuid] = .paused }
            throw LiveMigrationPostCopyFailed("fake driver: injected post-copy failure for \(request.guest.instanceName)")
        }
        state.withLock { _ = $0.guests[uuid] = .stopped }  // QEMU's `postmigrate`: the guest runs elsewhere now
    }

    public func postLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws {
        try injectedLiveFailure(.postAtDestination, request)
        state.withLock { $0.guests[request.guest.instanceUUID] = request.paused ? .paused : .running }  // as its user left it
    }

    public func cleanupLiveMigrationSource(_ request: LiveMigrationRequest) async throws {
        try injectedLiveFailure(.cleanupSource, request)
        state.withLock { _ = $0.guests.removeValue(forKey: request.guest.instanceUUID) }
    }

    public func rollbackLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws {
        try injectedLiveFailure(.rollbackAtDestination, request)
        state.withLock { _ = $0.guests.removeValue(forKey: request.guest.instanceUUID) }
    }

    public func abortLiveMigration(_ request: LiveMigrationRequest) async throws {
        let instanceUUID = request.guest.instanceUUID
        live.withLock { live in if live.migrating.contains(instanceUUID) { live.cancelled.insert(instanceUUID) } }
    }

    public func forceCompleteLiveMigration(_ request: LiveMigrationRequest) async throws {
        let instanceUUID = request.guest.instanceUUID
        live.withLock { live in if live.migrating.contains(instanceUUID) { live.forced.insert(instanceUUID) } }
    }
}
