import Foundation

/// A daemon this driver started on the host (a guest's QEMU, a disk export's `qemu-nbd`), found again through its
/// pid file by any agent, including one restarted after a crash. The pid is checked against /proc: a recycled pid
/// or a zombie is never taken for the daemon.
public struct HostDaemon: Sendable {
    public let pidFile: String
    /// Text the daemon's command line contains (a path of its own), so another process with the same pid is not it.
    public let commandLineMark: String

    public init(pidFile: String, commandLineMark: String) {
        self.pidFile = pidFile
        self.commandLineMark = commandLineMark
    }

    /// The daemon's pid, if it runs.
    public var pid: Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: cmdline, as: UTF8.self).contains(commandLineMark) else { return nil }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { return nil }
        return pid
    }

    var isRunning: Bool { pid != nil }

    /// Waits until the process is gone; false if it still runs after `seconds`.
    func waitForExit(seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning {
            if Date() >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))  // cancelled: the loop ends at the deadline all the same
        }
        return true
    }

    /// Ends the daemon: SIGTERM, SIGKILL when it is still there after `grace` seconds. Throws if it survives both.
    func stop(grace: Double = 2) async throws {
        guard let pid else { return }
        _ = kill(pid, SIGTERM)
        if await waitForExit(seconds: grace) { return }
        _ = kill(pid, SIGKILL)
        if await !waitForExit(seconds: 5) { throw DriverError("process \(pid) (\(pidFile)) does not stop") }
    }
}
