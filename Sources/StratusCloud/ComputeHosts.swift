import Foundation
import Logging
import StratusComputeAgent
import StratusCore
import StratusImage
import StratusQueue

/// The compute hosts `stratus up` runs in its own process: one QEMU host (this machine) when QEMU is installed,
/// or fake hosts — chosen by `[DEFAULT] compute_driver` / `--driver`.
struct ComputeHosts: Sendable {
    var agents: [ComputeAgent]
    var qemu: QEMUDriver?

    var fakeDrivers: [String: FakeDriver] {
        Dictionary(uniqueKeysWithValues: agents.compactMap { agent in (agent.driver as? FakeDriver).map { (agent.host, $0) } })
    }

    /// Refuses, before anything is written, a configuration that asks for QEMU where there is none.
    static func validate(_ config: CloudConfig) throws {
        let binary = config.configuration.string("qemu", "binary")
        if config.configuration.string("DEFAULT", "compute_driver") == "qemu" && !QEMUDriver.isInstalled(binary: binary) {
            throw ConfigError("[DEFAULT] compute_driver = qemu, but \(binary) is not installed (install qemu-system-x86 and qemu-utils)")
        }
    }

    static func make(_ config: CloudConfig, queue: Queue, images: ImageStore, files: ImageFiles, logger: Logger) async throws -> ComputeHosts {
        let c = config.configuration
        let choice = c.string("DEFAULT", "compute_driver")
        let binary = c.string("qemu", "binary")
        if choice == "fake" || (choice == "auto" && !QEMUDriver.isInstalled(binary: binary)) {
            if choice == "auto" {
                logger.warning("""
                    ***** \(binary) is not installed: compute hosts use the FAKE driver and servers become ACTIVE \
                    without any real guest. Install qemu-system-x86 and qemu-utils (scripts/up does) for real VMs. *****
                    """)
            }
            let agents = fakeAgents(config, queue: queue, logger: logger)
            if !agents.isEmpty {
                logger.warning("compute hosts use the FAKE driver: servers become ACTIVE without any real guest (\(agents.count) hosts)")
            }
            return ComputeHosts(agents: agents, qemu: nil)
        }
        var settings = QEMUDriver.Settings(instancesPath: config.instancesPath)
        settings.binary = binary
        settings.shutdownTimeout = c.double("DEFAULT", "shutdown_timeout")
        settings.shutdownRetryInterval = c.double("DEFAULT", "shutdown_retry_interval")
        settings.unusedImageMinimumAge = c.double("image_cache", "remove_unused_original_minimum_age_seconds")
        switch c.string("qemu", "accelerator") {
        case "kvm": settings.accelerator = .kvm
        case "tcg": settings.accelerator = .tcg
        default:
            let kernel = config.tinyGuestDirectory.map { $0 + "/vmlinuz" }
            settings.accelerator = await HostProbe.accelerator(
                binary: binary, kernel: kernel, cacheFile: config.instancesPath + "/accelerator")
        }
        let driver = try await QEMUDriver.start(settings: settings, source: LocalImageSource(store: images, files: files))
        let configuredHost = c.string("DEFAULT", "host")
        let host = configuredHost.isEmpty ? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost" : configuredHost
        logger.info("compute host \(host): QEMU \(driver.hypervisorVersion) with \(settings.accelerator.rawValue.uppercased()), guests in \(settings.instancesPath)")
        let agent = ComputeAgent(
            host: host, driver: driver, queue: queue, logger: logger,
            powerSyncInterval: .seconds(c.int("DEFAULT", "sync_power_state_interval")),
            maintenanceInterval: .seconds(c.int("image_cache", "manager_interval")))
        return ComputeHosts(agents: [agent], qemu: driver)
    }

    /// Fake hosts `fake-1` … `fake-N`.
    static func fakeAgents(_ config: CloudConfig, queue: Queue, logger: Logger) -> [ComputeAgent] {
        let count = config.configuration.int("fake_driver", "host_count")
        let resources = HostResources(
            vcpus: config.configuration.int("fake_driver", "vcpus"), memoryMB: config.configuration.int("fake_driver", "memory_mb"),
            localGB: config.configuration.int("fake_driver", "local_gb"))
        let delay = Duration.milliseconds(config.configuration.int("fake_driver", "spawn_delay_ms"))
        return (0..<count).map { i in
            ComputeAgent(host: "fake-\(i + 1)", driver: FakeDriver(resources: resources, spawnDelay: delay), queue: queue, logger: logger,
                         powerSyncInterval: .seconds(config.configuration.int("DEFAULT", "sync_power_state_interval")))
        }
    }
}
