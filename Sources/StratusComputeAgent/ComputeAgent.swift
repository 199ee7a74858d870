import Logging
import StratusCore
import StratusMessages

/// The compute agent of one host: what it offers, and how it carries out what the conductor sends to
/// `compute.HOST` through its driver. It knows nothing of storage or HTTP: `AgentRunner` brings it the
/// messages and takes its reports.
public struct ComputeAgent: Sendable {
    public let host: String
    public let zone: String
    public let driver: any VirtDriver

    public init(host: String, zone: String = "nova", driver: any VirtDriver) {
        self.host = host
        self.zone = zone
        self.driver = driver
    }

    /// What the conductor records for this host.
    public func registration() async -> HostRegistration {
        HostRegistration(host: host, zone: zone, resources: await driver.hostResources(), hypervisorType: driver.hypervisorType,
                         hypervisorVersion: driver.hypervisorVersion, cpuInfo: driver.cpuInfo)
    }

    /// What the agent does with one command: a report to send (casts) or a reply (calls).
    public enum Outcome: Sendable, Equatable {
        case report(HostReport)
        case reply(ConsoleReply)
        case nothing
    }

    /// Carries out `command`. Driver failures become reports (the conductor decides what follows); only
    /// cancellation (shutting down) throws, so the lease runs out and the message is delivered again. `send` carries
    /// reports made during a long step (a live migration's progress).
    public func perform(_ command: ComputeCommand, logger: Logger,
                        send: @escaping @Sendable (HostReport) async -> Void = { _ in }) async throws -> Outcome {
        switch command {
        case .spawn(let request):
            let started = Clock.now()
            // Checked before anything is made, and so without the failed spawn's clean-up: that would remove a disk
            // this host does share (the admin said it did not).
            if let expected = request.onSharedStorage, await driver.instanceOnSharedStorage(request.instanceUUID) != expected {
                return .report(.spawnFailed(SpawnOutcome(host: host, instanceUUID: request.instanceUUID, started: started,
                                                         error: "Invalid state of instance files on shared storage")))
            }
            do {
                try await driver.spawn(request)
                return .report(.spawned(SpawnOutcome(host: host, instanceUUID: request.instanceUUID, started: started)))
            } catch where Task.isCancelled {
                throw CancellationError()
            } catch {
                // A failed spawn is an answer, not a retry: the conductor decides whether to reschedule. What the
                // failed spawn left behind goes now; a destroy that fails too is said, and power sync finds the rest.
                do { try await driver.destroy(instanceUUID: request.instanceUUID) } catch let cleanup {
                    logger.warning("cleaning up the failed spawn of \(request.instanceUUID) failed: \(cleanup)")
                }
                return .report(.spawnFailed(SpawnOutcome(
                    host: host, instanceUUID: request.instanceUUID, started: started, error: "\(error)")))
            }
        case .power(let request):
            let started = Clock.now()
            var failure: String?
            do { try await driver.power(instanceUUID: request.instanceUUID, action: request.action) } catch where Task.isCancelled {
                throw CancellationError()
            } catch {
                failure = "\(error)"
            }
            return .report(.powerDone(PowerOutcome(
                host: host, instanceUUID: request.instanceUUID, action: request.action, started: started, error: failure)))
        case .console(let request):
            do {
                return .reply(ConsoleReply(output: try await driver.consoleOutput(instanceUUID: request.instanceUUID, lines: request.lines)))
            } catch {
                return .reply(ConsoleReply(error: "\(error)"))
            }
        case .destroyOrphan(let ref):
            try await driver.destroy(instanceUUID: ref.instanceUUID)
            return .nothing
        case .destroy(let ref):
            try await driver.destroy(instanceUUID: ref.instanceUUID)
            return .report(.destroyed(HostInstance(host: host, instanceUUID: ref.instanceUUID)))
        case .move(let step, let request):
            return .report(.moved(try await move(step, request, logger: logger)))
        case .liveMove(let step, let request):
            return try await liveMove(step, request, logger: logger, send: send).map { .report(.liveMoved($0)) } ?? .nothing
        case .snapshot(let request):
            let started = Clock.now()
            @Sendable func outcome(_ phase: SnapshotOutcome.Phase, _ error: String? = nil) -> SnapshotOutcome {
                SnapshotOutcome(host: host, instanceUUID: request.instanceUUID, imageID: request.imageID, phase: phase, started: started, error: error)
            }
            do {
                try await driver.snapshot(request) { phase in await send(.snapshot(outcome(phase))) }
                return .report(.snapshot(outcome(.done)))
            } catch where Task.isCancelled {
                throw CancellationError()
            } catch {
                return .report(.snapshot(outcome(.done, "\(error)")))
            }
        }
    }

    /// One host-side step of a cold migration or resize. A failure is reported (the conductor rolls the move
    /// back); what a failed destination start left behind is removed first.
    func move(_ step: MoveStep, _ request: MoveRequest, logger: Logger) async throws -> MoveOutcome {
        let started = Clock.now()
        let uuid = request.guest.instanceUUID
        func outcome(_ error: String? = nil, diskSource: String? = nil) -> MoveOutcome {
            MoveOutcome(host: host, migrationUUID: request.migrationUUID, instanceUUID: uuid, step: step, started: started, error: error,
                        diskSource: diskSource)
        }
        do {
            switch step {
            case .resizeInstance:
                // Nova's libvirt driver refuses before touching the guest; so does every driver here.
                guard request.guest.rootGB >= request.oldRootGB else { return outcome("Resize error: Unable to resize disk down.") }
                return outcome(diskSource: try await driver.migrateDiskAndPowerOff(request))
            case .finishResize: try await driver.finishMigration(request)
            case .confirmResize: try await driver.confirmMigration(request)
            case .revertResize: try await driver.revertMigration(request)
            case .finishRevertResize: try await driver.finishRevertMigration(request)
            }
            return outcome()
        } catch where Task.isCancelled {
            throw CancellationError()
        } catch {
            if step == .finishResize {
                // Only what the start made goes: on a resize to this same host the source's kept guest stays.
                do { try await driver.revertMigration(request) } catch let cleanup {
                    logger.warning("cleaning up the failed start of \(uuid) on \(host) failed: \(cleanup)")
                }
            }
            return outcome("\(error)")
        }
    }
}
