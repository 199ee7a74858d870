import Foundation
import Synchronization

/// Runs external programs from tests: the `stratus` binary and the real `openstack` CLI.
public enum ProcessRunner {
    /// What a finished program left behind.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The package root, found from this file's path, so tests work from any working directory.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `stratus` binary `swift build` made next to the test bundle.
    public static var stratusBinary: String {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let candidates = [bundleDir + "/stratus", packageRoot + "/.build/debug/stratus"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    /// The real python-openstackclient: `STRATUS_OPENSTACK_CLI`, else the venv scripts/test makes.
    public static var openstackCLI: String? {
        let configured = ProcessInfo.processInfo.environment["STRATUS_OPENSTACK_CLI"] ?? packageRoot + "/.venv/bin/openstack"
        return FileManager.default.isExecutableFile(atPath: configured) ? configured : nil
    }

    /// Runs to completion (killed after `timeout` seconds) and collects output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: Double = 120) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let outData = Mutex(Data())
        let errData = Mutex(Data())
        out.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            outData.withLock { $0.append(chunk) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            errData.withLock { $0.append(chunk) }
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { kill(pid, SIGKILL) }
        }
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        let restOut = (try? out.fileHandleForReading.readToEnd()) ?? nil
        let restErr = (try? err.fileHandleForReading.readToEnd()) ?? nil
        let stdout = outData.withLock { $0 + (restOut ?? Data()) }
        let stderr = errData.withLock { $0 + (restErr ?? Data()) }
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// A long-running child process (a `stratus up`), read line by line until a marker shows.
public final class BackgroundProcess: @unchecked Sendable {
    /// Output so far; a class so the pipe's handler can share it.
    final class Output: Sendable {
        let text = Mutex("")
    }
    let process: Process
    private let output = Output()

    public init(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        self.process = process
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            output.text.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
        }
        try process.run()
    }

    public var text: String { output.text.withLock { $0 } }

    /// Waits until the output contains `marker`; nil if the process exited or `timeout` passed first.
    public func waitFor(_ marker: String, timeout: Double = 60) async -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let current = text
            if let range = current.range(of: marker) {
                let line = current[range.lowerBound...].prefix { $0 != "\n" }
                return String(line)
            }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for exit; returns the status, or nil after `timeout`.
    public func waitForExit(timeout: Double = 30) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
