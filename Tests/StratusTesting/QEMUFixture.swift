import Foundation
import StratusCloud
import StratusComputeAgent

/// What the tests that boot real guests need: QEMU and the tiny guest from `scripts/build-tiny-guest`.
/// `scripts/test` provides both and sets `STRATUS_REQUIRE_QEMU=1`, so in CI a missing piece fails instead of skipping.
public enum QEMUFixture {
    /// The tiny guest's directory: `STRATUS_TINY_GUEST`, else `.build-guest/tiny` in the package.
    public static var tinyGuestDirectory: String {
        ProcessInfo.processInfo.environment["STRATUS_TINY_GUEST"] ?? ProcessRunner.packageRoot + "/.build-guest/tiny"
    }

    public static var available: Bool {
        FileManager.default.fileExists(atPath: tinyGuestDirectory + "/vmlinuz")
            && QEMUDriver.isInstalled(binary: "qemu-system-x86_64")
    }

    public static var required: Bool { ProcessInfo.processInfo.environment["STRATUS_REQUIRE_QEMU"] == "1" }

    /// Configuration for a cloud whose one compute host runs QEMU under TCG (no probe: it would cost every test
    /// cloud seconds; the probe has its own test), with short power-sync and shutdown timeouts.
    public static func config(extra: String = "") -> String {
        """
        [DEFAULT]
        compute_driver = qemu
        host = qemu-host
        sync_power_state_interval = 2
        shutdown_timeout = 20
        shutdown_retry_interval = 5
        [qemu]
        accelerator = tcg
        tiny_guest_dir = \(tinyGuestDirectory)
        [quota]
        instances = -1
        cores = -1
        ram = -1
        \(extra)
        """
    }

    /// Ends every QEMU a test left running under `dataDir` (a failed test must not leave guests behind).
    static func killGuests(under dataDir: String) {
        // instances/UUID, or instances/HOST/UUID with several hosts on the machine.
        let instances = dataDir + "/instances"
        var directories: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: instances)) ?? [] {
            directories.append("\(instances)/\(name)")
            for inner in (try? FileManager.default.contentsOfDirectory(atPath: "\(instances)/\(name)")) ?? [] {
                directories.append("\(instances)/\(name)/\(inner)")
            }
        }
        for directory in directories {
            if let pid = QEMUGuest(directory: directory).pid { kill(pid, SIGKILL) }
            // A cold move's disk export (qemu-nbd), known by its pid file and the kept disk (under instances) it serves.
            if let pid = HostDaemon(pidFile: directory + "/nbd.pid", commandLineMark: instances).pid { kill(pid, SIGKILL) }
        }
    }

    /// The QEMU pid of a guest, if it runs, on whichever host has it.
    public static func pid(_ cloud: ReadyCloud, _ uuid: String) -> Int32? {
        cloud.qemuDrivers.values.lazy.compactMap { $0.pid(of: uuid) }.first
    }
}
