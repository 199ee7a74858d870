import Foundation

/// What a finished host program left behind.
public struct CommandResult: Sendable {
    public var status: Int32
    public var output: String
    public var error: String

    /// The program's own complaint, for faults: its last stderr lines, else its stdout.
    public var complaint: String {
        let text = error.isEmpty ? output : error
        return text.split(separator: "\n").suffix(3).joined(separator: "; ").trimmingCharacters(in: .whitespaces)
    }
}

/// Runs host programs (`qemu-img`, `qemu-system-x86_64 -daemonize`) to completion. Spawned with posix_spawn and
/// every inherited descriptor closed: Foundation's `Process` notices the end of a child by a descriptor the child
/// inherits, which a daemonizing QEMU keeps open for its whole life. Output goes to temporary files, and `waitpid`
/// blocks a thread of its own, never a concurrency thread.
public enum HostCommand {
    public static func run(_ program: String, _ arguments: [String]) async throws -> CommandResult {
        guard let executable = resolve(program) else { throw DriverError("\(program) is not installed on this host") }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("stratus-cmd-\(UUID().uuidString)").path
        let outPath = scratch + ".out"
        let errPath = scratch + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        closeOnExec()
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, nil, argv, environ)
        let pid = child
        guard spawned == 0 else { throw DriverError("\(program) could not start: \(String(cString: strerror(spawned)))") }
        let status: Int32 = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
                // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
                let signal = raw & 0x7f
                continuation.resume(returning: signal == 0 ? (raw >> 8) & 0xff : 128 + signal)
            }
        }
        return CommandResult(
            status: status, output: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            error: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Marks every descriptor above stderr close-on-exec, so children inherit none of ours (glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` is not imported into Swift).
    static func closeOnExec() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Runs `program` and throws its complaint unless it succeeded.
    @discardableResult
    static func check(_ program: String, _ arguments: [String], failure: String) async throws -> CommandResult {
        let result = try await run(program, arguments)
        guard result.status == 0 else { throw DriverError("\(failure): \(result.complaint)") }
        return result
    }

    /// An absolute path, or the first match on PATH (and the sbin directories root would have).
    static func resolve(_ program: String) -> String? {
        if program.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
