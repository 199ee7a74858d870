import Foundation
import StratusCore
import Synchronization

/// Nova's `[libvirt] live_migration_*` options, as this host applies them.
public struct LiveMigrationSettings: Sendable {
    /// `live_migration_inbound_addr`: where this host's QEMU listens for incoming guests and disk copies.
    public var inboundAddress = "127.0.0.1"
    /// `live_migration_bandwidth` in MiB/s; 0: as fast as the link goes (QEMU's own default is 32 MiB/s).
    public var bandwidthMiB = 0
    /// `live_migration_downtime` (ms), `_steps`, `_delay` (s per GiB): the allowed pause grows in steps.
    public var downtimeMs = 500
    public var downtimeSteps = 10
    public var downtimeDelay = 75
    /// `live_migration_completion_timeout` (s per GiB, 0: none) and what happens then.
    public var completionTimeout = 800
    public var timeoutForcesCompletion = false
    /// `live_migration_permit_post_copy`, `live_migration_permit_auto_converge`.
    public var permitPostCopy = false
    public var permitAutoConverge = false
    public init() {}

    /// Nova's `downtime_steps`: (seconds after the start, allowed downtime in ms) pairs, growing to the maximum.
    public func downtimeSchedule(dataGB: Double) -> [(after: Double, downtimeMs: Int)] {
        let delay = Double(downtimeDelay) * dataGB
        let base = Double(downtimeMs) / Double(downtimeSteps)
        let offset = (Double(downtimeMs) - base) / Double(downtimeSteps)
        return (0...downtimeSteps).map { i in (delay * Double(i), Int(base + offset * Double(i))) }
    }
}

/// What QEMU measured of one finished live migration from this host (for `stratus bench live-migration`).
public struct LiveMigrationStats: Sendable, Equatable {
    /// Until the disk mirror was in sync (0 without a block migration).
    public var mirrorMs: Double
    /// QEMU's `total-time` of the memory migration.
    public var memoryMs: Double
    /// QEMU's `downtime`: how long the guest was paused at the switch.
    public var downtimeMs: Double
}

extension LiveMigrationStats {
    /// From QEMU's `query-migrate` answer for a completed migration.
    init(mirrorMs: Double, completed info: JSON) {
        self.init(mirrorMs: mirrorMs, memoryMs: info["total-time"]?.doubleValue ?? 0, downtimeMs: info["downtime"]?.doubleValue ?? 0)
    }
}

/// The live migrations copying from one host, and the aborts and force-completes asked of them: an abort arrives
/// as a message of its own while the copy runs, and must not wait for the guest's lock. Asks are kept by migration,
/// so one that arrives before its copy is in hand (an agent restarted mid-copy gets the abort at once, the copy
/// only when its lease runs out) waits for it, and never touches another migration of the same guest.
final class OutgoingMigrations: Sendable {
    private struct Asked { var cancel = false, force = false }
    /// Asks of migrations not in hand are forgotten beyond this many (aborts of moves long over).
    static let pendingLimit = 64
    private let state = Mutex<(copying: Set<String>, asked: [String: Asked])>(([], [:]))
    private let finished = Mutex<[String: LiveMigrationStats]>([:])

    func record(_ uuid: String, _ stats: LiveMigrationStats) { finished.withLock { $0[uuid] = stats } }
    func stats(_ uuid: String) -> LiveMigrationStats? { finished.withLock { $0[uuid] } }

    func begin(_ migration: String) { state.withLock { _ = $0.copying.insert(migration) } }
    func end(_ migration: String) {
        state.withLock { state in
            state.copying.remove(migration)
            state.asked.removeValue(forKey: migration)
        }
    }
    func cancel(_ migration: String) { ask(migration) { $0.cancel = true } }
    func force(_ migration: String) { ask(migration) { $0.force = true } }
    func asked(_ migration: String) -> (cancel: Bool, force: Bool) {
        state.withLock { state in state.asked[migration].map { ($0.cancel, $0.force) } ?? (false, false) }
    }

    private func ask(_ migration: String, _ change: (inout Asked) -> Void) {
        state.withLock { state in
            change(&state.asked[migration, default: Asked()])
            if state.asked.count > Self.pendingLimit {
                let copying = state.copying
                state.asked = state.asked.filter { copying.contains($0.key) || $0.key == migration }
            }
        }
    }
}

/// Live migration over QMP, no libvirt: the destination's QEMU starts from the same plan with `-incoming defer`,
/// listens with `migrate-incoming` (and for a block migration serves its new, empty disk over NBD); the source
/// mirrors its disk there (`drive-mirror`, only the overlay: the destination has the same base), then migrates
/// the memory. Until the destination runs the guest, the source's guest runs on: every failure leaves it there.
extension QEMUDriver {
    /// QEMU's measurements of the latest live migration of `uuid` from this host.
    public func lastOutgoingMigration(_ uuid: String) -> LiveMigrationStats? { outgoing.stats(uuid) }

    func markerPath(_ migrationUUID: String) -> String { settings.instancesPath + "/.shared-check-" + migrationUUID }

    public func createSharedPathMarker(migrationUUID: String) async throws {
        guard FileManager.default.createFile(atPath: markerPath(migrationUUID), contents: Data()) else {
            throw DriverError("cannot write the shared-storage marker in \(settings.instancesPath)")
        }
    }

    public func seesSharedPathMarker(migrationUUID: String) async -> Bool {
        FileManager.default.fileExists(atPath: markerPath(migrationUUID))
    }

    public func removeSharedPathMarker(migrationUUID: String) async throws {
        try removeIfPresent(markerPath(migrationUUID))
    }

    /// A shared instances_path (`[qemu] shared_instances_path`) that holds the guest's disk already.
    public func instanceOnSharedStorage(_ instanceUUID: String) async -> Bool {
        settings.sharedPathHost != nil && FileManager.default.fileExists(atPath: guest(instanceUUID).directory + "/disk")
    }

    func incomingPath(_ guest: QEMUGuest) -> String { guest.runtime + "/incoming.json" }

    public func preLiveMigration(_ request: LiveMigrationRequest) async throws -> LiveIncoming {
        let uuid = request.guest.instanceUUID
        return try await locks.withLock(uuid) { [self] in
            let guest = guest(uuid)
            if guest.isRunning {
                // A redelivery: the QEMU started for this migration waits already.
                if let data = FileManager.default.contents(atPath: incomingPath(guest)),
                   let incoming = try? JSONDecoder().decode(LiveIncoming.self, from: data) { return incoming }
                throw DriverError("a guest \(uuid) already runs on this host")
            }
            // A shared instances_path without this host's own subdirectory in each guest directory would put both QEMUs'
            // monitor sockets and pid files in one place: starting this one would unlink the running source's.
            // Refused before anything is touched.
            guard !request.sharedInstancePath || settings.sharedPathHost != nil else {
                throw DriverError("instances_path is shared with the source but [qemu] shared_instances_path is not set on this host")
            }
            // The directory is always prepared here (never assumed), with a fresh disk for the copy; on a shared
            // instances_path the disk is there already and stays (only this host's own files are made).
            var plan = try await prepare(request.guest, in: guest)
            plan.incoming = "defer"
            try await guest.launch(plan)
            let address = settings.liveMigration.inboundAddress
            let incoming = LiveIncoming(uri: "tcp:\(address):\(try LoopbackPort.free())",
                                        nbd: request.blockMigration ? "nbd:\(address):\(try LoopbackPort.free()):exportname=" : nil)
            var served = incoming
            try await monitor(plan) { qmp in
                if settings.liveMigration.permitPostCopy {
                    try await qmp.execute("migrate-set-capabilities", ["capabilities": [["capability": "postcopy-ram", "state": true]]])
                }
                if let nbd = incoming.nbd {
                    let device = try await Self.diskDevice(&qmp)
                    let port = nbd.split(separator: ":")[2]
                    try await qmp.execute("nbd-server-start", ["addr": ["type": "inet", "data": ["host": .string(address), "port": .string(String(port))]]])
                    try await qmp.execute("nbd-server-add", ["device": .string(device), "writable": true])
                    served.nbd = nbd + device
                }
                try await qmp.execute("migrate-incoming", ["uri": .string(incoming.uri)])
            }
            try JSONEncoder().encode(served).write(to: URL(fileURLWithPath: incomingPath(guest)))
            return served
        }
    }

    /// The block device of the guest's disk (`virtio0` for a `-drive if=virtio`).
    static func diskDevice(_ qmp: inout QMPConnection) async throws -> String {
        let devices = try await qmp.execute("query-block").arrayValue ?? []
        guard let disk = devices.first(where: { $0["inserted"]?["file"]?.stringValue?.hasSuffix("/disk") == true }),
              let name = disk["device"]?.stringValue else { throw DriverError("the guest has no disk to copy") }
        return name
    }

    /// The block job named `job` (the disk mirror), if QEMU still runs it.
    static func blockJob(_ qmp: inout QMPConnection, _ job: String) async throws -> JSON? {
        try await qmp.execute("query-block-jobs").arrayValue?.first { $0["device"]?.stringValue == job }
    }

    public func liveMigration(_ request: LiveMigrationRequest, progress: @escaping @Sendable (LiveProgress) async -> Void) async throws {
        let uuid = request.guest.instanceUUID
        let guest = guest(uuid)
        guard guest.isRunning, let plan = guest.plan else { throw DriverError("the guest \(uuid) does not run on this host") }
        guard let incoming = request.incoming else { throw DriverError("the destination's address is missing") }
        // Without its own subdirectories this host could not clean up after the move without touching the guest's
        // directory, which the destination then runs from: refused before anything is copied.
        guard !request.sharedInstancePath || settings.sharedPathHost != nil else {
            throw DriverError("instances_path is shared with the destination but [qemu] shared_instances_path is not set on this host")
        }
        let live = settings.liveMigration
        // Named after the migration: a job another migration left behind is never taken for this one's.
        let job = "mirror-" + request.migrationUUID.prefix(8)
        // A redelivery (this agent died, or restarted, while it copied or after): never copy twice. Copied already is
        // success (the destination runs the guest: rolling back now would lose it). A copy QEMU still carries on by
        // itself is watched again from where it is; a disk mirror still running is waited for, not started again.
        // (`query-migrate` alone cannot tell a finished copy: a guest that arrived here by migration shows that one
        // `completed`, and a migration that failed or was cancelled before leaves its status behind.)
        let (state, earlier, mirrorRuns) = try await monitor(plan) { qmp in
            (try await qmp.status(), try await qmp.execute("query-migrate")["status"]?.stringValue ?? "none",
             try await Self.blockJob(&qmp, job) != nil)
        }
        if state == "postmigrate" { return }
        let marker = Self.postCopyMarker(plan, migrationUUID: request.migrationUUID)
        if FileManager.default.fileExists(atPath: marker), !earlier.hasPrefix("postcopy") {
            throw LiveMigrationPostCopyFailed("QEMU's post-copy ended '\(earlier)' while this host's agent was away")
        }
        let copying = !["none", "completed", "failed", "cancelled"].contains(earlier)
        outgoing.begin(request.migrationUUID)
        defer { outgoing.end(request.migrationUUID) }
        var mirroring = mirrorRuns
        // Switched to post-copy (by this agent, or by the one before it): from then on the guest runs on the destination
        // and a failure is not rolled back.
        var postCopy = earlier.hasPrefix("postcopy")
        // Paused by the agent before this one to converge (its user had not paused it): resumed if the move fails.
        var paused = state == "paused" && !request.paused
        let ramGB = max(2, Double(request.guest.memoryMB) / 1024)
        let dataGB = ramGB + (request.blockMigration ? max(2, Double(request.guest.rootGB)) : 0)
        // One monitor connection for the whole copy (a connection per poll costs more than the poll); it may last
        // as long as the completion timeout allows, plus a margin, before a hung QEMU becomes an error.
        let sessionTimeout = live.completionTimeout > 0 ? Double(live.completionTimeout) * dataGB + 120 : 86400
        do {
            try await monitor(plan, timeout: sessionTimeout) { qmp in
                let mirrorStart = Date()
                if copying, !postCopy, request.blockMigration, !mirroring {
                    // The memory still moves but the disk's copy ended while this host's agent was away (an NBD error
                    // ended it, or the agent's own clean-up): the destination's disk misses writes since, so the
                    // guest must not switch over.
                    try await qmp.execute("migrate_cancel")
                    throw DriverError("the copy of the guest's disk to the destination ended while this host's agent was away; the live migration is cancelled")
                }
                if !copying {
                    // (Capabilities and parameters are QEMU's: a copy resumed below keeps the ones it was started with.)
                    var capabilities: [JSON] = []
                    if live.permitAutoConverge { capabilities.append(["capability": "auto-converge", "state": true]) }
                    if live.permitPostCopy { capabilities.append(["capability": "postcopy-ram", "state": true]) }
                    if !capabilities.isEmpty { try await qmp.execute("migrate-set-capabilities", ["capabilities": .array(capabilities)]) }
                    let bandwidth = live.bandwidthMiB > 0 ? live.bandwidthMiB << 20 : 10 << 30
                    try await qmp.execute("migrate-set-parameters", [
                        "max-bandwidth": .int(bandwidth), "downtime-limit": .int(live.downtimeSchedule(dataGB: dataGB)[0].downtimeMs)])
                    if request.blockMigration, !mirroring, let nbd = incoming.nbd {
                        let device = try await Self.diskDevice(&qmp)
                        try await qmp.execute("drive-mirror", [
                            "device": .string(device), "target": .string(nbd), "sync": "top", "format": "raw", "mode": "existing",
                            "job-id": .string(job)])
                        mirroring = true
                    }
                    if mirroring { try await waitForMirror(&qmp, job: job, uuid: uuid, request: request, progress: progress) }
                }
                let mirrorMs = Date().timeIntervalSince(mirrorStart) * 1000
                let started = Date()
                if !copying { try await qmp.execute("migrate", ["uri": .string(incoming.uri)]) }
                let schedule = live.downtimeSchedule(dataGB: dataGB)
                var step = 1
                var lastReport = Date()  // the first report after a second: a short copy sends none (each is a round trip)
                // A resumed copy that was forced already (paused, or switched to post-copy) is not forced again.
                var forced = paused || postCopy
                var watch = PostCopyWatch()
                var postCopyReported = false
                func report(_ info: JSON, switched: Bool) async {
                    let ram = info["ram"]
                    await progress(LiveProgress(host: "", migrationUUID: request.migrationUUID, memoryTotal: ram?["total"]?.intValue ?? 0,
                                                memoryProcessed: ram?["transferred"]?.intValue ?? 0,
                                                memoryRemaining: ram?["remaining"]?.intValue ?? 0, postCopy: switched ? true : nil))
                }
                while true {
                    let info = try await qmp.execute("query-migrate")
                    let status = info["status"]?.stringValue ?? ""
                    if status.hasPrefix("postcopy") { postCopy = true }
                    try watch.check(status)
                    if status == "completed" {
                        outgoing.record(uuid, LiveMigrationStats(mirrorMs: mirroring ? mirrorMs : 0, completed: info))
                        break
                    }
                    if status == "failed" {
                        let reason = info["error-desc"]?.stringValue ?? "QEMU gave no reason"
                        if postCopy { throw LiveMigrationPostCopyFailed(reason) }
                        throw DriverError("the live migration failed: \(reason)")
                    }
                    if status == "cancelled" { throw LiveMigrationCancelled() }
                    // QEMU's own clock of the copy, so that a resumed one is timed from when it really began.
                    let elapsed = info["total-time"]?.doubleValue.map { $0 / 1000 } ?? Date().timeIntervalSince(started)
                    let asked = outgoing.asked(request.migrationUUID)
                    let timedOut = live.completionTimeout > 0 && elapsed > Double(live.completionTimeout) * dataGB
                    // (In post-copy the guest runs on the destination already: there is nothing to cancel back to.)
                    if !postCopy, asked.cancel || (timedOut && !live.timeoutForcesCompletion) {
                        try await qmp.execute("migrate_cancel")
                    } else if (asked.force || timedOut) && !forced {
                        // Nova's force-complete: post-copy when permitted, else pause the guest so its memory stops changing.
                        forced = true
                        if live.permitPostCopy {
                            try await startPostCopy(&qmp, marker: marker)
                            postCopy = true
                        } else {
                            // (A guest its user paused is paused already, and stays so if the move fails.)
                            if try await qmp.status() == "running" {
                                try await qmp.execute("stop")
                                paused = true
                            }
                        }
                    }
                    // The switch is told at once: from now on the migration can no longer be aborted or forced.
                    if postCopy, !postCopyReported {
                        postCopyReported = true
                        await report(info, switched: postCopy)
                    }
                    // Every step reached at once (a resumed copy is well along), then the allowed downtime they reach.
                    let reached = step
                    while step < schedule.count, elapsed >= schedule[step].after { step += 1 }
                    if step > reached {
                        try await qmp.execute("migrate-set-parameters", ["downtime-limit": .int(schedule[step - 1].downtimeMs)])
                    }
                    if Date().timeIntervalSince(lastReport) >= 1 {
                        lastReport = Date()
                        // The disk must stay mirrored until the switch: once a second, the job is looked for.
                        // (Past the switch the guest writes the destination's disk itself: the mirror no longer matters.)
                        if mirroring, !postCopy, try await Self.blockJob(&qmp, job) == nil {
                            try await qmp.execute("migrate_cancel")
                            throw DriverError("the copy of the guest's disk to the destination stopped; the live migration is cancelled")
                        }
                        await report(info, switched: postCopy)
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
                // The guest runs on the destination now; the mirror, in sync to the end, is let go without a switch.
                if mirroring { try await qmp.execute("block-job-cancel", ["device": .string(job)]) }
            }
        } catch where Task.isCancelled {
            // This agent stops: QEMU's copy is left as it is, for the step delivered again to carry on (stopping the
            // disk's copy here would let the memory's go on without it).
            throw CancellationError()
        } catch let error as LiveMigrationPostCopyFailed {
            throw error
        } catch where postCopy {
            // Past the switch, the monitor's session ended (its time ran out, the connection broke) while QEMU may go
            // on: followed on a new one; nothing is undone whatever it finds.
            outgoing.record(uuid, try await followPostCopy(plan, job: job, mirroring: mirroring))
        } catch {
            // The guest stays here: the copy of its disk stops, and a guest paused to converge runs again. What of that
            // fails is added to the step's error (the operator must know the guest may be paused), never dropped.
            var problems: [String] = []
            if mirroring {
                do { try await monitor(plan) { qmp in try await qmp.execute("block-job-cancel", ["device": .string(job), "force": true]) } } catch {
                    problems.append("stopping the disk copy also failed: \(error)")
                }
            }
            if paused {
                do { try await monitor(plan) { qmp in try await qmp.execute("cont") } } catch {
                    problems.append("resuming the guest, paused to converge, also failed: \(error)")
                }
            }
            if problems.isEmpty { throw error }
            throw DriverError(([String(describing: error)] + problems).joined(separator: "; "))
        }
    }

    /// Waits until the disk mirror is in sync (its BLOCK_JOB_READY state), reporting its progress.
    func waitForMirror(_ qmp: inout QMPConnection, job: String, uuid: String, request: LiveMigrationRequest,
                       progress: @escaping @Sendable (LiveProgress) async -> Void) async throws {
        var lastReport = Date()  // the first report after a second: a short copy sends none (each is a round trip)
        while true {
            guard let mirror = try await Self.blockJob(&qmp, job) else {
                throw DriverError("the copy of the guest's disk to the destination stopped")
            }
            let total = mirror["len"]?.intValue ?? 0, done = mirror["offset"]?.intValue ?? 0
            if mirror["ready"]?.boolValue == true { return }
            if outgoing.asked(request.migrationUUID).cancel { throw LiveMigrationCancelled() }
            if Date().timeIntervalSince(lastReport) >= 1 {
                lastReport = Date()
                await progress(LiveProgress(host: "", migrationUUID: request.migrationUUID, diskTotal: total, diskProcessed: done,
                                            diskRemaining: total - done))
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    public func postLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws {
        let uuid = request.guest.instanceUUID
        try await locks.withLock(uuid) { [self] in
            let guest = guest(uuid)
            guard guest.isRunning, let plan = guest.plan else { throw DriverError("the guest \(uuid) does not run on this host") }
            let deadline = Date().addingTimeInterval(60)
            try await monitor(plan) { qmp in
                // The source reports `completed` as the last bytes leave; the guest runs here once they are loaded.
                while try await qmp.status() == "inmigrate" {
                    if Date() > deadline { throw DriverError("the guest \(uuid) did not finish arriving") }
                    try await Task.sleep(for: .milliseconds(20))
                }
                if request.blockMigration {
                    do { try await qmp.execute("nbd-server-stop") } catch let error as QMPError where error.message.contains("not running") {
                        // stopped already (a redelivered step): what this asked for
                    }
                }
                // Paused only to converge (force-complete): it runs again, unless its user had paused it.
                if !request.paused, try await qmp.status() != "running" { try await qmp.execute("cont") }
            }
            try removeIfPresent(incomingPath(guest))
        }
    }

    public func cleanupLiveMigrationSource(_ request: LiveMigrationRequest) async throws {
        try await removeLiveCopy(request)
    }

    public func rollbackLiveMigrationAtDestination(_ request: LiveMigrationRequest) async throws {
        try await removeLiveCopy(request)
    }

    /// The guest's QEMU on this host goes, and its directory; with a shared instances_path only this host's own files
    /// (the disk and console log are the guest's, wherever it runs).
    func removeLiveCopy(_ request: LiveMigrationRequest) async throws {
        let uuid = request.guest.instanceUUID
        guard request.sharedInstancePath else { return try await destroy(instanceUUID: uuid) }
        // A host without its own subdirectories would find the other host's guest here: left alone.
        guard settings.sharedPathHost != nil else { return }
        try await locks.withLock(uuid) { [self] in try await removeOwnFiles(guest(uuid)) }
    }

    public func abortLiveMigration(_ request: LiveMigrationRequest) async throws { outgoing.cancel(request.migrationUUID) }

    public func forceCompleteLiveMigration(_ request: LiveMigrationRequest) async throws { outgoing.force(request.migrationUUID) }
}
