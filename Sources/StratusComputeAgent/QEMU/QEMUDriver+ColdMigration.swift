import Foundation
import StratusCore

/// Cold migration and resize on QEMU, as Nova's libvirt driver does them, with NBD where Nova copies over ssh: the
/// source powers the guest off, renames its directory `UUID_resize` (kept until confirm, brought back by a revert)
/// and serves the overlay's bytes read-only with `qemu-nbd` on its inbound address; the destination fetches the
/// image's base into its own cache, copies the overlay, points it at that base, grows it to the new flavor's root
/// disk and starts the guest. Each step finds itself done when it is delivered again.
extension QEMUDriver {
    static let keptSuffix = "_resize"

    /// What a cold move keeps of a guest on its source until it is confirmed or reverted.
    func kept(_ uuid: String) -> QEMUGuest { guest(directory: uuid + Self.keptSuffix) }

    /// The `qemu-nbd` that serves a kept guest's disk to the destination.
    func diskExport(_ kept: QEMUGuest) -> HostDaemon {
        HostDaemon(pidFile: kept.runtime + "/nbd.pid", commandLineMark: kept.directory + "/disk")
    }

    public func migrateDiskAndPowerOff(_ request: MoveRequest) async throws -> String? {
        let uuid = request.guest.instanceUUID
        return try await locks.withLock(uuid) { [self] in
            let guest = guest(uuid), kept = kept(uuid)
            // A redelivery finds the guest kept already, and its disk served.
            if kept.record == nil {
                guard let record = guest.record else { throw DriverError("no guest \(uuid) on this host to migrate") }
                // Delivered again after this move ended (reverted here, or a resize to this host confirmed): the guest
                // here is not to be handed over again.
                if record.lastMigration == request.migrationUUID {
                    throw DriverError("migration \(request.migrationUUID) of \(uuid) has already ended on this host")
                }
                try await stop(guest)
                try FileManager.default.moveItem(atPath: guest.directory, toPath: kept.directory)
            }
            guard kept.plan?.disk != nil else { return nil }
            do {
                return try await serveDisk(kept, name: request.migrationUUID)
            } catch {
                // The step failed: the guest as it was before it, back in its directory and running if it ran.
                do { try await bringBack(uuid, after: request.migrationUUID, powerOn: request.powerOn) } catch let undo {
                    throw DriverError("\(error); bringing the guest back also failed: \(undo)")
                }
                throw error
            }
        }
    }

    /// Serves the kept disk's bytes, read-only, to whoever knows the export's name (the migration's uuid). The
    /// export outlives the agent (a restarted one finds it by its pid file) and ends with confirm or revert.
    func serveDisk(_ kept: QEMUGuest, name: String) async throws -> String {
        let export = diskExport(kept)
        let saved = kept.runtime + "/nbd.uri"
        if export.isRunning, let uri = try? String(contentsOfFile: saved, encoding: .utf8) { return uri }
        try await export.stop()
        let address = settings.liveMigration.inboundAddress
        let port = try LoopbackPort.free()
        try await HostCommand.check("qemu-nbd", [
            "--read-only", "--format=raw", "--persistent", "--shared=4", "--fork", "--bind=\(address)", "--port=\(port)",
            "--export-name=\(name)", "--pid-file=\(export.pidFile)", kept.directory + "/disk",
        ], failure: "cannot serve the guest's disk to the destination")
        let uri = "nbd://\(address.contains(":") ? "[\(address)]" : address):\(port)/\(name)"
        try Data(uri.utf8).write(to: URL(fileURLWithPath: saved))
        return uri
    }

    public func finishMigration(_ request: MoveRequest) async throws {
        let uuid = request.guest.instanceUUID
        try await locks.withLock(uuid) { [self] in
            let guest = guest(uuid)
            if let record = guest.record {
                // A redelivery: the guest arrived already (and runs, if it is to).
                if record.lastMigration == request.migrationUUID {
                    if request.powerOn, !guest.isRunning { try await fresh(guest, record.plan) }
                    return
                }
                // Left by an earlier move whose clean-up did not happen: never taken for this move's disk.
                try await remove(guest)
            }
            let plan = try await prepare(request.guest, in: guest, disk: .copy(from: request.diskSource), arrivedBy: request.migrationUUID)
            if request.powerOn { try await fresh(guest, plan) }
        }
    }

    /// The copy of another host's overlay, byte for byte, then backed by this host's cached base and grown to
    /// `rootGB` (never shrunk: the agent refused that before the source handed anything over).
    func copyOverlay(_ path: String, from uri: String?, on base: String, image: ImageInfo, rootGB: Int) async throws {
        if FileManager.default.fileExists(atPath: path) { return }  // copied before this delivery
        guard let uri else { throw DriverError("the source handed the guest's disk over to no address") }
        let part = path + ".part"
        try removeIfPresent(part)
        try await HostCommand.check("qemu-img", ["convert", "-q", "-f", "raw", "-O", "raw", uri, part],
                                    failure: "cannot copy the guest's disk from its source")
        // The copy names the source's base as its backing file: this host's copy of the same image takes its place.
        try await HostCommand.check("qemu-img", ["rebase", "-q", "-u", "-f", "qcow2", "-b", base, "-F", image.diskFormat, part],
                                    failure: "cannot back the copied disk with this host's image cache")
        if rootGB > 0 {
            let info = try await HostCommand.check("qemu-img", ["info", "--output=json", "-f", "qcow2", part], failure: "cannot read the copied disk")
            let size = (try? JSON.parse(info.output))?["virtual-size"]?.intValue ?? 0
            if rootGB << 30 > size {
                try await HostCommand.check("qemu-img", ["resize", "-q", "-f", "qcow2", part, String(rootGB << 30)],
                                            failure: "cannot grow the guest's disk to the new flavor")
            }
        }
        try FileManager.default.moveItem(atPath: part, toPath: path)
    }

    public func confirmMigration(_ request: MoveRequest) async throws {
        let uuid = request.guest.instanceUUID
        try await locks.withLock(uuid) { [self] in try await removeKept(uuid) }
    }

    /// The export ends and the kept directory goes (the caller holds the guest's lock). Nothing kept is success.
    func removeKept(_ uuid: String) async throws {
        let kept = kept(uuid)
        try await diskExport(kept).stop()
        try removeIfPresent(kept.directory)
    }

    /// Only the guest `finishMigration` started goes: on a resize to the same host, the kept one stays for the revert.
    public func revertMigration(_ request: MoveRequest) async throws {
        let uuid = request.guest.instanceUUID
        try await locks.withLock(uuid) { [self] in try await remove(guest(uuid)) }
    }

    public func finishRevertMigration(_ request: MoveRequest) async throws {
        let uuid = request.guest.instanceUUID
        try await locks.withLock(uuid) { [self] in try await bringBack(uuid, after: request.migrationUUID, powerOn: request.powerOn) }
    }

    /// The kept guest, as it was before `migration`, back in its directory (its old flavor's plan with it), running if
    /// `powerOn` (the caller holds the guest's lock). A redelivery finds it back already.
    func bringBack(_ uuid: String, after migration: String, powerOn: Bool) async throws {
        let guest = guest(uuid), kept = kept(uuid)
        if kept.record != nil {
            try await diskExport(kept).stop()
            // In the way can only be the destination's guest of a resize to this same host, which the revert (or the
            // failed start's cleanup) ended: what is left of it goes.
            try await remove(guest)
            try FileManager.default.moveItem(atPath: kept.directory, toPath: guest.directory)
            for handedOver in ["nbd.uri", "nbd.pid"] { try removeIfPresent(guest.runtime + "/" + handedOver) }
            if var record = guest.record {
                record.lastMigration = migration
                try guest.save(record)
            }
        }
        guard let plan = guest.plan else { throw DriverError("no guest \(uuid) kept on this host to revert to") }
        if powerOn, !guest.isRunning { try await fresh(guest, plan) }
    }
}
