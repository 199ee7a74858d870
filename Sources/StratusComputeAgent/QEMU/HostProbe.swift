import Foundation
import StratusCore

/// Facts about the real machine: its size for placement, QEMU's version, and whether KVM works.
public enum HostProbe {
    /// vCPUs, memory (/proc/meminfo) and the size of the file system holding `instancesPath`.
    public static func resources(instancesPath: String) -> HostResources {
        var memoryMB = 0
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kB = Int(line.split(separator: " ").dropFirst().first ?? "") {
            memoryMB = kB / 1024
        }
        var stats = statvfs()
        let localGB = statvfs(instancesPath, &stats) == 0 ? Int((UInt64(stats.f_blocks) * UInt64(stats.f_frsize)) >> 30) : 0
        return HostResources(vcpus: ProcessInfo.processInfo.activeProcessorCount, memoryMB: memoryMB, localGB: localGB)
    }

    /// QEMU's version as Nova reports `hypervisor_version` (7.2.22 → 7002022), or nil if QEMU is not installed.
    public static func qemuVersion(binary: String) async -> Int? {
        guard let result = try? await HostCommand.run(binary, ["--version"]), result.status == 0,
              let range = result.output.range(of: #"version (\d+)\.(\d+)\.(\d+)"#, options: .regularExpression) else { return nil }
        let parts = result.output[range].dropFirst("version ".count).split(separator: ".").compactMap { Int($0) }
        return parts.count == 3 ? parts[0] * 1_000_000 + parts[1] * 1000 + parts[2] : nil
    }

    /// Whether guests should run under KVM. `/dev/kvm` existing is not enough (qemu-here.md: a nested hypervisor that
    /// aborts or hangs a Linux guest), so the probe boots `kernel` under KVM and wants its first console line
    /// ("Linux version …") within `deadline` seconds — under working KVM that takes well under a second. The result is
    /// remembered in `cacheFile` so a host is probed once.
    public static func accelerator(binary: String, kernel: String?, cacheFile: String, deadline: Double = 10) async
        -> QEMULaunchPlan.Accelerator
    {
        if let cached = try? String(contentsOfFile: cacheFile, encoding: .utf8),
           let accelerator = QEMULaunchPlan.Accelerator(rawValue: cached.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return accelerator
        }
        let chosen = await probeKVM(binary: binary, kernel: kernel, deadline: deadline) ? QEMULaunchPlan.Accelerator.kvm : .tcg
        try? FileManager.default.createDirectory(atPath: (cacheFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? chosen.rawValue.write(toFile: cacheFile, atomically: true, encoding: .utf8)
        return chosen
    }

    static func probeKVM(binary: String, kernel: String?, deadline: Double) async -> Bool {
        guard let kernel, FileManager.default.isReadableFile(atPath: "/dev/kvm"),
              FileManager.default.isReadableFile(atPath: kernel) else { return false }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stratus-kvm-probe-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var plan = QEMULaunchPlan(name: "kvm-probe", directory: dir, vcpus: 1, memoryMB: 128, accelerator: .kvm,
                                  boot: .kernel(path: kernel, initrd: nil, commandLine: "console=ttyS0 panic=-1"))
        plan.binary = binary
        let guest = QEMUGuest(directory: dir)
        guard (try? await guest.launch(plan)) != nil else { return false }
        let booted = await guest.waitForConsole(containing: "Linux version", seconds: deadline)
        await guest.kill()
        return booted
    }
}
