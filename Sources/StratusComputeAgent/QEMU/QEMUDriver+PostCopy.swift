import Foundation
import StratusCore

/// Post-copy, the part of a live migration that cannot be undone: once `migrate-start-postcopy` runs, the guest
/// runs on the destination while pages still come from the source. A failure then leaves the guest split between
/// the hosts, so it is never rolled back (`LiveMigrationPostCopyFailed`); a monitor session that ends while QEMU
/// goes on is followed on a new one, and the switch is remembered on disk for a step delivered again.
extension QEMUDriver {
    /// How long QEMU's post-copy may stay paused (its connection to the destination lost) before the move is
    /// reported as failed in post-copy; the guest is then left as it is on both hosts for the operator.
    static let postCopyPausedLimit: Double = 30

    /// Counts how long QEMU's post-copy has been paused, across polls.
    struct PostCopyWatch {
        private var pausedSince: Date?

        /// Throws once the post-copy has been paused for `postCopyPausedLimit`: QEMU waits for a recovery
        /// (`migrate-recover`) that nothing here offers.
        mutating func check(_ status: String, now: Date = Date()) throws {
            guard status == "postcopy-paused" else {
                pausedSince = nil
                return
            }
            let since = pausedSince ?? now
            pausedSince = since
            if now.timeIntervalSince(since) >= QEMUDriver.postCopyPausedLimit {
                throw LiveMigrationPostCopyFailed("QEMU's post-copy stayed paused for \(Int(QEMUDriver.postCopyPausedLimit)) s: the destination is unreachable")
            }
        }
    }

    /// Written before the switch, so that a step delivered again (this agent restarted) knows the copy went past
    /// the point of return even when QEMU's status no longer says so (`failed`). Named after the migration.
    static func postCopyMarker(_ plan: QEMULaunchPlan, migrationUUID: String) -> String {
        plan.runtime + "/postcopy-" + migrationUUID.prefix(8)
    }

    /// Switches the copy to post-copy. If QEMU refuses, the guest still runs here only: the marker goes and the
    /// error is the caller's to roll back — unless QEMU did switch after all (its status says so), or its status
    /// cannot be read either (taken as switched: the watch of the post-copy then finds out).
    func startPostCopy(_ qmp: inout QMPConnection, marker: String) async throws {
        try Data().write(to: URL(fileURLWithPath: marker))
        do {
            try await qmp.execute("migrate-start-postcopy")
        } catch {
            let status: String
            do {
                status = try await qmp.execute("query-migrate")["status"]?.stringValue ?? ""
            } catch {
                // Whether QEMU switched is unknown: taken as switched (the marker stays), since rolling back under a
                // guest that may already run on the destination would lose it; the post-copy watch finds out.
                return
            }
            if status.hasPrefix("postcopy") { return }
            try FileManager.default.removeItem(atPath: marker)
            throw error
        }
    }

    /// Watches a post-copy on a new monitor session (the first one ended while QEMU carried on) until QEMU finishes
    /// it, or it fails; either way nothing is undone here. Returns QEMU's figures when the guest runs on the destination.
    func followPostCopy(_ plan: QEMULaunchPlan, job: String, mirroring: Bool) async throws -> LiveMigrationStats {
        do {
            return try await monitor(plan, timeout: 86400) { qmp in
                var watch = PostCopyWatch()
                while true {
                    let info = try await qmp.execute("query-migrate")
                    let status = info["status"]?.stringValue ?? ""
                    if status == "completed" {
                        if mirroring, try await Self.blockJob(&qmp, job) != nil { try await qmp.execute("block-job-cancel", ["device": .string(job)]) }
                        return LiveMigrationStats(mirrorMs: 0, completed: info)
                    }
                    if status == "failed" { throw LiveMigrationPostCopyFailed(info["error-desc"]?.stringValue ?? "QEMU gave no reason") }
                    try watch.check(status)
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
        } catch let error as LiveMigrationPostCopyFailed {
            throw error
        } catch where !Task.isCancelled {
            throw LiveMigrationPostCopyFailed("the source's QEMU could not be watched: \(error)")
        }
    }
}
