import Foundation
import StratusCore

/// One guest's instance directory and its QEMU process. Everything about a guest lives in the directory
/// (`guest.json` with the launch plan, the disk overlay, the console log, the sockets, the pid file), so any agent —
/// including one restarted after a crash — can find, query and control it. With a shared instances_path the host's
/// own files (launch plan, sockets, pid file) are in its `runtime` subdirectory instead.
public struct QEMUGuest: Sendable {
    /// What the driver keeps in `guest.json`.
    struct Record: Codable, Sendable {
        var plan: QEMULaunchPlan
        /// Cached base images this guest depends on (disk backing file, kernel, initrd): never removed from the cache.
        var bases: [String]
        /// The cold move that last brought the guest here (or back here): a step of it delivered again finds it done.
        var lastMigration: String?
    }

    public let directory: String
    /// This host's files of the guest: `directory` itself unless the instances_path is shared.
    public let runtime: String

    public init(directory: String, runtime: String? = nil) {
        self.directory = directory
        self.runtime = runtime ?? directory
    }

    var recordPath: String { runtime + "/guest.json" }
    var plan: QEMULaunchPlan? { record?.plan }

    var record: Record? {
        guard let data = FileManager.default.contents(atPath: recordPath) else { return nil }
        return try? JSONDecoder().decode(Record.self, from: data)
    }

    func save(_ record: Record) throws {
        let data = try JSONEncoder().encode(record)
        try data.write(to: URL(fileURLWithPath: recordPath + ".part"))
        guard rename(recordPath + ".part", recordPath) == 0 else { throw DriverError("cannot write \(recordPath): \(String(cString: strerror(errno)))") }
    }

    /// The guest's QEMU process, known by its pid file and its monitor socket's path.
    var daemon: HostDaemon { HostDaemon(pidFile: runtime + "/qemu.pid", commandLineMark: runtime + "/qmp.sock") }

    /// The QEMU process of this guest, if one runs.
    public var pid: Int32? { daemon.pid }

    public var isRunning: Bool { pid != nil }
    var isSuspended: Bool { FileManager.default.fileExists(atPath: directory + "/suspended.state") }

    /// Starts QEMU for `plan`; returns once it daemonized and its monitor answers. A failure carries QEMU's own error.
    func launch(_ plan: QEMULaunchPlan) async throws {
        if let problem = plan.problem { throw DriverError("cannot start the guest: \(problem)") }
        for stale in [plan.qmpSocket, plan.serialSocket, plan.pidFile] { try? FileManager.default.removeItem(atPath: stale) }
        let result = try await HostCommand.run(plan.binary, plan.arguments)
        guard result.status == 0 else {
            throw DriverError("QEMU failed to start (exit \(result.status)): \(result.complaint)")
        }
        _ = try await QMPConnection.with(socket: plan.qmpSocket) { qmp in try await qmp.status() }
    }

    /// Waits until the process is gone; false if it still runs after `seconds`.
    func waitForExit(seconds: Double) async -> Bool { await daemon.waitForExit(seconds: seconds) }

    /// Ends QEMU now: `quit` through the monitor, SIGKILL if it does not go within two seconds.
    public func kill() async {
        guard let pid else { return }
        if let plan {
            _ = try? await QMPConnection.with(socket: plan.qmpSocket, timeout: 2) { qmp in try await qmp.execute("quit") }
        }
        if await waitForExit(seconds: 2) { return }
        _ = Foundation.kill(pid, SIGKILL)
        _ = await waitForExit(seconds: 5)
    }

    /// Asks the guest to power off (ACPI power button, repeated every `retryInterval`), as Nova's clean shutdown does;
    /// true if it did within `timeout`.
    func powerDown(timeout: Double, retryInterval: Double = 10) async -> Bool {
        guard let plan else { return true }
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            _ = try? await QMPConnection.with(socket: plan.qmpSocket, timeout: 2) { qmp in try await qmp.execute("system_powerdown") }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            if await waitForExit(seconds: min(retryInterval, left)) { return true }
        }
        return true
    }

    /// Waits until the console log contains `text`; false after `seconds`.
    public func waitForConsole(containing text: String, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let log = FileManager.default.contents(atPath: directory + "/console.log"),
               String(decoding: log, as: UTF8.self).contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    /// The console log, at most its last `lines` lines.
    /// Only the log's tail is read, as Nova's libvirt driver returns at most the last 100 KiB: the log keeps every
    /// boot of the guest and is never truncated.
    public func console(lines: Int?, limit: UInt64 = 100 * 1024) -> String {
        guard let handle = FileHandle(forReadingAtPath: directory + "/console.log") else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > limit ? size - limit : 0)
        var text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        if size > limit, let firstBreak = text.firstIndex(where: \.isNewline) { text = String(text[text.index(after: firstBreak)...]) }
        guard let lines else { return text }
        // The serial console ends lines with CR LF, which Swift counts as one Character: split on any newline.
        var all = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        if all.last == "" { all.removeLast() }
        return all.suffix(lines).joined(separator: "\n") + (all.isEmpty ? "" : "\n")
    }
}
