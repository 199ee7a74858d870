import Logging
import StratusCore
import StratusMessages

/// The host-side steps of a live migration. A step that fails is reported (the conductor rolls the move back);
/// clean-ups that fail are not reported but thrown, so the queue delivers them again until they are done.
extension ComputeAgent {
    func liveMove(_ step: LiveStep, _ request: LiveMigrationRequest, logger: Logger,
                  send: @escaping @Sendable (HostReport) async -> Void) async throws -> LiveOutcome? {
        let started = Clock.now()
        let uuid = request.guest.instanceUUID
        var outcome = LiveOutcome(host: host, migrationUUID: request.migrationUUID, instanceUUID: uuid, step: step, started: started)
        do {
            switch step {
            case .checkDestination:
                try await driver.createSharedPathMarker(migrationUUID: request.migrationUUID)
            case .checkSource:
                guard await driver.listGuests()[uuid] == true else {
                    throw DriverError("the guest of \(uuid) does not run on \(host): only a running guest can be live-migrated")
                }
                outcome.sharedInstancePath = await driver.seesSharedPathMarker(migrationUUID: request.migrationUUID)
            case .preLiveMigration:
                try await driver.removeSharedPathMarker(migrationUUID: request.migrationUUID)
                do {
                    outcome.incoming = try await driver.preLiveMigration(request)
                } catch where !Task.isCancelled {
                    // What a failed preparation left here goes now (and again with the conductor's rollback).
                    do { try await driver.rollbackLiveMigrationAtDestination(request) } catch let cleanup {
                        logger.warning("cleaning up the failed preparation of \(uuid) on \(host) failed: \(cleanup)")
                    }
                    throw error
                }
            case .liveMigration:
                let host = self.host
                try await driver.liveMigration(request) { progress in
                    var progress = progress
                    progress.host = host
                    await send(.liveProgress(progress))
                }
            case .postAtDestination:
                try await driver.postLiveMigrationAtDestination(request)
            case .cleanupSource:
                try await driver.cleanupLiveMigrationSource(request)
            case .rollbackAtDestination:
                try await driver.removeSharedPathMarker(migrationUUID: request.migrationUUID)
                try await driver.rollbackLiveMigrationAtDestination(request)
            case .abort:
                try await driver.abortLiveMigration(request)
                return nil
            case .forceComplete:
                try await driver.forceCompleteLiveMigration(request)
                return nil
            }
            return outcome
        } catch where Task.isCancelled {
            throw CancellationError()
        } catch {
            // A clean-up that failed is done again (a redelivery), never reported as a step that may be skipped.
            if [.cleanupSource, .rollbackAtDestination, .abort, .forceComplete].contains(step) { throw error }
            outcome.error = "\(error)"
            if error is LiveMigrationCancelled { outcome.cancelled = true }
            if error is LiveMigrationPostCopyFailed { outcome.postCopyFailed = true }
            return outcome
        }
    }
}
