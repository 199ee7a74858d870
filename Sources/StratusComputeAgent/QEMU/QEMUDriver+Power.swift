import Foundation
import StratusCore

/// Power changes through QMP. Each is idempotent: asking for the state a guest is already in changes nothing.
extension QEMUDriver {
    public func power(instanceUUID: String, action: PowerAction) async throws {
        try await locks.withLock(instanceUUID) { [self] in
            let guest = guest(instanceUUID)
            guard let plan = guest.plan else { throw DriverError("no guest \(instanceUUID) on this host") }
            switch action {
            case .stop:
                try await stop(guest)
            case .start:
                if !guest.isRunning { try await fresh(guest, plan) }
            case .rebootSoft:
                // Nova's soft reboot: a clean shutdown and a new start; a guest that ignores ACPI is reset hard.
                try await stop(guest)
                try await guest.launch(plan)
            case .rebootHard:
                if guest.isRunning {
                    try await monitor(plan) { qmp in
                        try await qmp.execute("system_reset")
                        // A reset of a paused guest leaves it in `prelaunch`: it runs only after `cont`.
                        if try await qmp.status() != "running" { try await qmp.execute("cont") }
                    }
                } else {
                    try await fresh(guest, plan)  // Nova allows a hard reboot of a suspended server: it boots afresh
                }
            case .pause:
                try await running(guest, plan) { qmp in try await qmp.execute("stop") }
            case .unpause:
                try await running(guest, plan) { qmp in try await qmp.execute("cont") }
            case .suspend:
                try await suspend(guest, plan)
            case .resume:
                try await resume(guest, plan)
            }
        }
    }

    /// A boot from the disk, not from a saved state (which is dropped: it would be stale once the disk moved on).
    func fresh(_ guest: QEMUGuest, _ plan: QEMULaunchPlan) async throws {
        try? FileManager.default.removeItem(atPath: plan.savedState)
        try await guest.launch(plan)
    }

    /// Clean shutdown within `shutdown_timeout`, then hard.
    func stop(_ guest: QEMUGuest) async throws {
        guard guest.isRunning else { return }
        if await !guest.powerDown(timeout: settings.shutdownTimeout, retryInterval: settings.shutdownRetryInterval) {
            await guest.kill()
        }
        if guest.isRunning { throw DriverError("the QEMU process of \(guest.directory) does not stop") }
    }

    /// Nova's suspend (libvirt's managed save): the paused guest's state is written into the instance directory and
    /// QEMU exits; resume starts QEMU from that state.
    func suspend(_ guest: QEMUGuest, _ plan: QEMULaunchPlan) async throws {
        if guest.isSuspended && !guest.isRunning { return }
        try await running(guest, plan) { qmp in
            try await qmp.execute("stop")
            try await qmp.execute("migrate", ["uri": .string("exec:cat > '\(plan.savedState).part'")])
        }
        try await waitForMigration(plan, until: "completed")
        try FileManager.default.moveItem(atPath: plan.savedState + ".part", toPath: plan.savedState)
        await guest.kill()
    }

    func resume(_ guest: QEMUGuest, _ plan: QEMULaunchPlan) async throws {
        if guest.isRunning {
            try await monitor(plan) { qmp in if try await qmp.status() == "paused" { try await qmp.execute("cont") } }
            return
        }
        guard guest.isSuspended else { throw DriverError("the guest \(plan.name) has no saved state to resume from") }
        var resumed = plan
        resumed.incoming = "exec:cat '\(plan.savedState)'"
        try await guest.launch(resumed)
        let deadline = Date().addingTimeInterval(120)
        while true {
            let status = try await monitor(plan) { qmp in try await qmp.status() }
            if status != "inmigrate" { break }
            if Date() > deadline { throw DriverError("restoring the saved state of \(plan.name) did not finish") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await monitor(plan) { qmp in try await qmp.execute("cont") }
        try? FileManager.default.removeItem(atPath: plan.savedState)
    }

    func waitForMigration(_ plan: QEMULaunchPlan, until wanted: String) async throws {
        let deadline = Date().addingTimeInterval(120)
        while true {
            let info = try await monitor(plan) { qmp in try await qmp.execute("query-migrate") }
            let status = info["status"]?.stringValue ?? ""
            if status == wanted { return }
            if status == "failed" || status == "cancelled" {
                throw DriverError("saving the guest's state failed: \(info["error-desc"]?.stringValue ?? status)")
            }
            if Date() > deadline { throw DriverError("saving the guest's state did not finish (\(status))") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @discardableResult
    func running<T: Sendable>(_ guest: QEMUGuest, _ plan: QEMULaunchPlan, _ body: (inout QMPConnection) async throws -> T) async throws -> T {
        guard guest.isRunning else { throw DriverError("the guest \(plan.name) is not running") }
        return try await monitor(plan, body)
    }

    @discardableResult
    func monitor<T: Sendable>(_ plan: QEMULaunchPlan, timeout: Double = 10,
                              _ body: (inout QMPConnection) async throws -> T) async throws -> T {
        do {
            return try await QMPConnection.with(socket: plan.qmpSocket, timeout: timeout, body)
        } catch let error as QMPError {
            throw DriverError("\(error)")
        }
    }
}
