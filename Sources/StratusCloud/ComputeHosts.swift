import Foundation
import Logging
import StratusComputeAgent
import StratusCore

/// The compute hosts one process runs: one QEMU host (this machine) when QEMU is installed, or fake hosts —
/// chosen by `[DEFAULT] compute_driver` / `--driver`. They reach the control plane only through `client`.
struct ComputeHosts: Sendable {
    var agents: [ComputeAgent]
    /// The QEMU drivers, by host (several with `[qemu] host_count`, as `stratus up --hosts N`).
    var qemu: [String: QEMUDriver] = [:]

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

    static func make(_ config: CloudConfig, client: ControlPlaneClient, logger: Logger) async throws -> ComputeHosts {
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
            let agents = try fakeAgents(config, images: HTTPImageSource(client: client))
            if !agents.isEmpty {
                logger.warning("compute hosts use the FAKE driver: servers become ACTIVE without any real guest (\(agents.count) hosts)")
            }
            return ComputeHosts(agents: agents)
        }
        var settings = QEMUDriver.Settings(instancesPath: config.instancesPath)
        settings.binary = binary
        settings.shutdownTimeout = c.double("DEFAULT", "shutdown_timeout")
        settings.shutdownRetryInterval = c.double("DEFAULT", "shutdown_retry_interval")
        settings.unusedImageMinimumAge = c.double("image_cache", "remove_unused_original_minimum_age_seconds")
        settings.liveMigration.inboundAddress = c.string("qemu", "live_migration_inbound_addr")
        settings.liveMigration.bandwidthMiB = c.int("qemu", "live_migration_bandwidth")
        settings.liveMigration.downtimeMs = c.int("qemu", "live_migration_downtime")
        settings.liveMigration.downtimeSteps = c.int("qemu", "live_migration_downtime_steps")
        settings.liveMigration.downtimeDelay = c.int("qemu", "live_migration_downtime_delay")
        settings.liveMigration.completionTimeout = c.int("qemu", "live_migration_completion_timeout")
        settings.liveMigration.timeoutForcesCompletion = c.string("qemu", "live_migration_timeout_action") == "force_complete"
        settings.liveMigration.permitPostCopy = c.bool("qemu", "live_migration_permit_post_copy")
        settings.liveMigration.permitAutoConverge = c.bool("qemu", "live_migration_permit_auto_converge")
        switch c.string("qemu", "accelerator") {
        case "kvm": settings.accelerator = .kvm
        case "tcg": settings.accelerator = .tcg
        default:
            let kernel = config.tinyGuestDirectory.map { $0 + "/vmlinuz" }
            settings.accelerator = await HostProbe.accelerator(
                binary: binary, kernel: kernel, cacheFile: config.instancesPath + "/accelerator")
        }
        // One host is named [DEFAULT] host; several (on one machine, for moving servers between them) are HOST-1 …
        // HOST-N, each with its own instances_path below the configured one, as if on machines of their own, or all
        // with the configured one, as if it were on NFS.
        let count = c.int("qemu", "host_count")
        let shared = c.bool("qemu", "shared_instances_path")
        var hosts = ComputeHosts(agents: [])
        for i in 1...count {
            let host = count == 1 ? config.computeHost : "\(config.computeHost)-\(i)"
            var own = settings
            if shared { own.sharedPathHost = host } else if count > 1 { own.instancesPath = config.instancesPath + "/" + host }
            // Images come through the Image API, as on a host of its own; the cache verifies every byte.
            let driver = try await QEMUDriver.start(settings: own, source: HTTPImageSource(client: client))
            logger.info("compute host \(host): QEMU \(driver.hypervisorVersion) with \(own.accelerator.rawValue.uppercased()), guests in \(own.instancesPath)")
            hosts.agents.append(ComputeAgent(host: host, driver: driver))
            hosts.qemu[host] = driver
        }
        return hosts
    }

    /// Fake hosts `fake-1` … `fake-N` (`[DEFAULT] host` names them `HOST-1` … when set).
    static func fakeAgents(_ config: CloudConfig, images: (any ImageSource)? = nil) throws -> [ComputeAgent] {
        let count = config.configuration.int("fake_driver", "host_count")
        let resources = HostResources(
            vcpus: config.configuration.int("fake_driver", "vcpus"), memoryMB: config.configuration.int("fake_driver", "memory_mb"),
            localGB: config.configuration.int("fake_driver", "local_gb"))
        let differing = try fakeHostResources(config.configuration.string("fake_driver", "host_resources"), defaults: resources)
        let delay = Duration.milliseconds(config.configuration.int("fake_driver", "spawn_delay_ms"))
        let configured = config.configuration.string("DEFAULT", "host")
        let prefix = configured.isEmpty ? "fake" : configured
        return (0..<count).map { i in
            let host = "\(prefix)-\(i + 1)"
            return ComputeAgent(host: host, driver: FakeDriver(resources: differing[host] ?? resources, spawnDelay: delay, images: images))
        }
    }

    /// `[fake_driver] host_resources`: `HOST=key:value,…;HOST=…` with keys vcpus, memory_mb and local_gb; what a
    /// host does not name keeps `defaults`. Anything else is a configuration error that names the bad part.
    static func fakeHostResources(_ text: String, defaults: HostResources) throws -> [String: HostResources] {
        var hosts: [String: HostResources] = [:]
        for entry in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConfigError("[fake_driver] host_resources: '\(entry)' is not HOST=key:value,…")
            }
            var resources = defaults
            for pair in parts[1].split(separator: ",") {
                let kv = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, let value = Int(kv[1]), value > 0 else {
                    throw ConfigError("[fake_driver] host_resources: '\(pair)' of \(parts[0]) is not key:positive-integer")
                }
                switch kv[0] {
                case "vcpus": resources.vcpus = value
                case "memory_mb": resources.memoryMB = value
                case "local_gb": resources.localGB = value
                default: throw ConfigError("[fake_driver] host_resources: unknown key '\(kv[0])' (vcpus, memory_mb, local_gb)")
                }
            }
            hosts[parts[0]] = resources
        }
        return hosts
    }

    /// The agents' loop over the HTTP channel, with Nova's intervals.
    func runner(_ config: CloudConfig, client: ControlPlaneClient, logger: Logger,
                onRegistered: @escaping @Sendable () async -> Void = {}) -> AgentRunner {
        var settings = AgentRunner.Settings()
        settings.heartbeatInterval = .seconds(config.configuration.int("DEFAULT", "report_interval"))
        settings.powerSyncInterval = .seconds(config.configuration.int("DEFAULT", "sync_power_state_interval"))
        settings.maintenanceInterval = .seconds(config.configuration.int("image_cache", "manager_interval"))
        settings.concurrency = config.configuration.int("compute", "agent_concurrency")
        settings.providerRefreshInterval = .seconds(config.configuration.int("compute", "resource_provider_association_refresh"))
        settings.inventory.cpuAllocationRatio = config.configuration.double("DEFAULT", "cpu_allocation_ratio")
        settings.inventory.ramAllocationRatio = config.configuration.double("DEFAULT", "ram_allocation_ratio")
        settings.inventory.diskAllocationRatio = config.configuration.double("DEFAULT", "disk_allocation_ratio")
        settings.inventory.reservedHostCPUs = config.configuration.int("DEFAULT", "reserved_host_cpus")
        settings.inventory.reservedHostMemoryMB = config.configuration.int("DEFAULT", "reserved_host_memory_mb")
        settings.inventory.reservedHostDiskMB = config.configuration.int("DEFAULT", "reserved_host_disk_mb")
        settings.leaseExtendInterval = .milliseconds(Int(max(1, config.configuration.double("queue", "lease_seconds") / 3) * 1000))
        return AgentRunner(agents: agents, settings: settings, logger: logger, onRegistered: onRegistered) {
            HTTPAgentChannel(client: client)
        }
    }
}

extension CloudConfig {
    /// `[DEFAULT] host`, else this machine's short hostname.
    var computeHost: String {
        let configured = configuration.string("DEFAULT", "host")
        return configured.isEmpty ? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost" : configured
    }

    /// The agents' service user from `[service_user]`.
    var serviceCredentials: ServiceCredentials {
        let c = configuration
        return ServiceCredentials(
            authURL: c.string("service_user", "auth_url"), username: c.string("service_user", "username"),
            password: c.string("service_user", "password"), projectName: c.string("service_user", "project_name"),
            userDomainName: c.string("service_user", "user_domain_name"), projectDomainName: c.string("service_user", "project_domain_name"),
            caFile: c.string("service_user", "cafile"))
    }
}
