import Foundation
import Hummingbird
import StratusAPI
import Logging
import ServiceLifecycle
import StratusComputeAgent
import StratusCore
import StratusIdentity
import StratusPolicy
import StratusStorage

/// The multi-node processes: `stratus bootstrap`, `stratus api`, `stratus conductor` and `stratus compute`.
/// The control-plane ones share one PostgreSQL and hold no state another process could contradict; the compute
/// one holds no database credentials at all.
public enum SeparateProcesses {
    /// Keystone's `bootstrap` for a deployment: the accounts, flavors, networks; writes `clouds.yaml` and the
    /// agents' `compute-agent.conf` (with `[api] public_endpoint` as the URL) into the data dir.
    public static func bootstrap(_ config: CloudConfig, logger: Logger) async throws -> [String] {
        try config.prepareDataDir()
        return try await Storage.withStorage(config.databaseURL, maxConnections: 2, logger: logger) { storage in
            try await waitForSchema(storage, logger: logger, wait: false)
            let prepared = try await ControlPlane.bootstrap(config, storage: storage, logger: logger)
            let identityURL = publicURL(config) + "/identity"
            let clouds = config.dataDir + "/clouds.yaml", agent = config.dataDir + "/compute-agent.conf"
            try prepared.credentials.writeCloudsFile(to: clouds, authURL: identityURL, region: config.configuration.string("identity", "region_name"))
            try prepared.credentials.writeAgentConfig(to: agent, authURL: identityURL, caFile: config.localAgentCAFile)
            return [clouds, agent]
        }
    }

    /// `stratus api`: every HTTP API on one listener. Stateless: run as many as you like behind a balancer.
    public static func api(_ config: CloudConfig, logger: Logger, handleSignals: Bool = true) async throws {
        let policy = try PolicySetup.enforcer(config)
        _ = try ListenerTLS.configuration(config)
        try await withControlPlane(config, policy: policy, logger: logger, handleSignals: handleSignals) { parts, router in
            let app = try parts.application(router, config, logger: logger) { port in
                logger.info("stratus api listening on \(config.bindHost):\(port); catalog at \(parts.catalog.identityURL)")
            }
            return [app] + parts.placementServices(logger: logger)
        }
    }

    /// `stratus conductor`: workflows, scheduling, reconciliation. Work is shared through the queue's leases, so
    /// any number run at once and a killed one's steps resume elsewhere when their leases end.
    public static func conductor(_ config: CloudConfig, logger: Logger, handleSignals: Bool = true) async throws {
        let policy = try PolicySetup.enforcer(config)
        _ = try AllInOneCloud.scheduler(config)
        try await withControlPlane(config, policy: policy, logger: logger, handleSignals: handleSignals) { parts, _ in
            logger.info("stratus conductor running")
            return parts.placementServices(logger: logger) + parts.conductorServices(config, logger: logger)
        }
    }

    /// `stratus compute`: one hypervisor's agent (or many fake hosts), over HTTP(S) only, as the `[service_user]`.
    public static func compute(_ config: CloudConfig, logger: Logger, handleSignals: Bool = true) async throws {
        try ComputeHosts.validate(config)
        let credentials = config.serviceCredentials
        guard !credentials.authURL.isEmpty, !credentials.password.isEmpty else {
            throw ConfigError("[service_user] auth_url and password are required (stratus bootstrap writes them to compute-agent.conf)")
        }
        let client = ControlPlaneClient(credentials: credentials, logger: logger)
        do {
            let hosts = try await ComputeHosts.make(config, client: client, logger: logger)
            let runner = hosts.runner(config, client: client, logger: logger) {
                logger.info("compute hosts registered: \(hosts.agents.map(\.host).joined(separator: ", "))")
            }
            let group = ServiceGroup(services: [runner], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger)
            try await group.run()
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    /// Opens the database, waits until it is migrated and bootstrapped (saying so), then runs `services`.
    static func withControlPlane(
        _ config: CloudConfig, policy: PolicyEnforcer, logger: Logger, handleSignals: Bool,
        _ services: @Sendable (ControlPlane.Parts, Router<StratusRequestContext>) async throws -> [any Service]
    ) async throws {
        let maxConnections = config.configuration.int("database", "max_pool_size")
        try await Storage.withStorage(config.databaseURL, maxConnections: maxConnections, logger: logger) { storage in
            try await waitForSchema(storage, logger: logger, wait: true)
            let identity = try await waitForBootstrap(config, storage: storage, logger: logger)
            let (parts, router) = try await ControlPlane.parts(config, storage: storage, identity: identity, policy: policy, logger: logger)
            let group = ServiceGroup(
                services: try await services(parts, router), gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                logger: logger)
            try await group.run()
        }
    }

    static func waitForSchema(_ storage: Storage, logger: Logger, wait: Bool) async throws {
        var said = false
        while true {
            let missing = try await Migrator.missing(AllInOneCloud.migrations, in: storage)
            if missing.isEmpty { return }
            guard wait else { throw ConfigError("the database is not migrated (\(missing.count) migrations missing): run stratus db migrate first") }
            if !said { logger.warning("waiting for `stratus db migrate`: \(missing.count) migrations missing") }
            said = true
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The token keys and the service project exist once `stratus bootstrap` ran; no process makes its own keys.
    static func waitForBootstrap(_ config: CloudConfig, storage: Storage, logger: Logger) async throws -> IdentityService {
        var said = false
        while true {
            if TokenCodec.keyExists(in: config.tokenKeyDirectory) {
                let identity = try ControlPlane.identityService(config, storage: storage)
                if try await !identity.store.projects(name: "service", domainID: "default").isEmpty { return identity }
            }
            if !said { logger.warning("waiting for `stratus bootstrap` (token keys in \(config.tokenKeyDirectory), the service project)") }
            said = true
            try await Task.sleep(for: .seconds(1))
        }
    }

    static func publicURL(_ config: CloudConfig) -> String {
        var configured = config.configuration.string("api", "public_endpoint")
        while configured.hasSuffix("/") { configured.removeLast() }
        return configured.isEmpty ? "\(config.listenerScheme)://\(config.bindHost):\(config.port)" : configured
    }
}
