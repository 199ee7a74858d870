import Foundation
import StratusCore

/// `createImage` on QEMU: the guest's overlay and its base flattened into one qcow2 (`qemu-img convert`), uploaded
/// through the Image API. A running guest is paused for the copy (Nova's cold snapshot, without the shutdown) so the
/// disk is consistent, and runs again as soon as the copy is taken, before the upload.
extension QEMUDriver {
    public func snapshot(_ request: SnapshotRequest, progress: @escaping @Sendable (SnapshotOutcome.Phase) async -> Void) async throws {
        let uuid = request.instanceUUID
        let guest = guest(uuid)
        let copy = guest.directory + "/snapshot-\(request.imageID).qcow2"
        // The copy is only ever a temporary file in the instance directory: gone after the upload or the failure.
        try await withTemporaryFile(copy) { try await takeAndUpload(request, guest: guest, copy: copy, progress: progress) }
    }

    func takeAndUpload(_ request: SnapshotRequest, guest: QEMUGuest, copy: String,
                       progress: @escaping @Sendable (SnapshotOutcome.Phase) async -> Void) async throws {
        let uuid = request.instanceUUID
        try await locks.withLock(uuid) { [self] in
            guard let plan = guest.plan else { throw DriverError("no guest \(uuid) on this host") }
            guard let disk = plan.disk else { throw DriverError("the guest \(uuid) has no disk to snapshot") }
            var paused = false
            if guest.isRunning, try await monitor(plan, { qmp in try await qmp.status() }) == "running" {
                try await monitor(plan) { qmp in try await qmp.execute("stop") }
                paused = true
            }
            do {
                // -U: QEMU holds the image's lock while the guest is paused; nothing writes to it meanwhile.
                try await HostCommand.check("qemu-img", ["convert", "-U", "-f", "qcow2", "-O", "qcow2", disk, copy],
                                            failure: "cannot copy the guest's disk")
            } catch {
                if paused { try await monitor(plan) { qmp in try await qmp.execute("cont") } }
                throw error
            }
            if paused { try await monitor(plan) { qmp in try await qmp.execute("cont") } }
        }
        await progress(.pendingUpload)
        await progress(.uploading)
        try await source.upload(request.imageID, from: copy)
    }
}
