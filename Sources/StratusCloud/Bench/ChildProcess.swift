import Foundation
#if canImport(Glibc)
import Glibc
#endif
import StratusCore

/// A `stratus` process a benchmark starts: its output goes to a log file the benchmark reads; it is stopped by
/// its own pid (SIGTERM, then SIGKILL after a grace period), never by name.
final class ChildProcess: @unchecked Sendable {  // Process: only its thread-safe status is read after run()
    let name: String
    let logPath: String
    private let process: Process

    init(_ name: String, binary: String, arguments: [String], logDirectory: String) throws {
        self.name = name
        self.logPath = logDirectory + "/\(name).log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw ConfigError("cannot create \(logPath)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try log.close()
        self.process = process
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log says `marker`; fails with the log's end if the process exits or `timeout` passes first.
    func waitFor(_ marker: String, timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(marker) { return }
            guard process.isRunning else { throw ConfigError("\(name) exited before saying '\(marker)':\n\(log.suffix(3000))") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ConfigError("\(name) did not say '\(marker)' within \(timeout):\n\(log.suffix(3000))")
    }

    /// Runs to completion; fails with the log if the status is not 0.
    func finish(timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(pid, SIGKILL) }
        guard !process.isRunning, process.terminationStatus == 0 else {
            throw ConfigError("\(name) failed:\n\(log.suffix(3000))")
        }
    }

    /// Peak resident memory (VmHWM) and CPU seconds so far, from /proc.
    func usage() -> (peakRSSMiB: Int, cpuSeconds: Double) {
        var cpu = -1.0
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is the 3rd field, utime and stime the 14th and 15th.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) {
                cpu = ((user + system) / Double(sysconf(Int32(_SC_CLK_TCK))) * 100).rounded() / 100
            }
        }
        return (BootBenchmark.peakRSSMiB(process: "\(pid)"), cpu)
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Duration = .seconds(15)) async {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(pid, SIGKILL) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}
