import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import StratusAPI
import StratusCompute
import StratusComputeAgent
import StratusScheduler
import StratusCore
import StratusIdentity
import StratusImage
import StratusNetwork
import StratusPlacement
import StratusPolicy
import StratusQueue
import StratusStorage

/// What a started cloud tells its caller once it listens.
public struct ReadyCloud: Sendable {
    public let baseURL: String
    public let authURL: String
    public let cloudsFile: String
    public let credentials: BootstrapCredentials
    public let storage: Storage
    public let identity: IdentityService
    public let placement: PlacementStore
    /// The fake drivers of the compute hosts, by host, so tests can inject failures.
    public let fakeDrivers: [String: FakeDriver]
    /// The QEMU driver of this machine's (first) compute host, when the cloud runs real guests.
    public var qemuDriver: QEMUDriver? { computeHosts.lazy.compactMap { qemuDrivers[$0] }.first }
    /// Every QEMU host's driver, by host.
    public let qemuDrivers: [String: QEMUDriver]
    /// The agents' host names.
    public let computeHosts: [String]
    /// Durations of the conductor's scheduling decisions.
    public let schedulerMetrics: SchedulerMetrics
    /// Every route the listener serves, with the policy rules it checks.
    public let routes: [RouteEntry]
    /// The policy rules in force.
    public let policy: PolicyEnforcer
    /// Connections the listener has open now.
    public let openConnections: ConnectionCounter
}

/// `stratus up`: every service in one process, on one listener with DevStack's path prefixes.
public enum AllInOneCloud {
    /// Every module's schema, in the order they must apply.
    public static let migrations: [Migration] = QueueSchema.migrations + IdentitySchema.migrations + PlacementSchema.migrations
        + ComputeSchema.migrations + ImageSchema.migrations + NetworkSchema.migrations

    /// Prepares the data dir and database, bootstraps identity, then serves until cancelled or signalled.
    /// `onReady` runs once the listener is bound, `clouds.yaml` is written and the local compute hosts are
    /// registered (they reach the control plane over HTTP, as remote hosts would).
    /// `stopper`, when given, can shut the cloud down gracefully (at most `stopper.patience` before its services are
    /// cancelled) instead of by cancellation.
    public static func run(
        _ config: CloudConfig, logger: Logger, handleSignals: Bool = true, stopper: CloudStopper? = nil,
        onReady: @escaping @Sendable (ReadyCloud) async -> Void
    ) async throws {
        _ = try scheduler(config)  // a bad filter list stops the start before anything is written
        let policy = try PolicySetup.enforcer(config)  // so does a bad policy file
        _ = try ListenerTLS.configuration(config)  // and a certificate or key that does not load
        try ComputeHosts.validate(config)
        try config.prepareDataDir()
        let maxConnections = config.configuration.int("database", "max_pool_size")
        try await Storage.withStorage(config.databaseURL, maxConnections: maxConnections, logger: logger) { storage in
            try await Migrator.apply(migrations, to: storage, logger: logger)
            let prepared = try await ControlPlane.bootstrap(config, storage: storage, logger: logger)
            let credentials = prepared.credentials
            let (parts, router) = try await ControlPlane.parts(config, storage: storage, identity: prepared.identity, policy: policy, logger: logger)
            let listening = OneShot<String>()
            let registered = OneShot<Void>()
            // The local hosts use the service user over loopback, exactly as `stratus compute` on another machine.
            let client = ControlPlaneClient(
                credentials: ServiceCredentials(authURL: "", username: IdentityBootstrap.serviceUser, password: credentials.servicePassword,
                                                caFile: config.localAgentCAFile),
                logger: logger, authURL: { await listening.value() })
            let hosts: ComputeHosts
            do { hosts = try await ComputeHosts.make(config, client: client, logger: logger) } catch {
                await client.shutdown()  // never left open: a client dropped unclosed traps in debug builds
                throw error
            }
            let runner = hosts.runner(config, client: client, logger: logger) { registered.fulfil(()) }
            let cloudsFile = config.dataDir + "/clouds.yaml"
            let app = try parts.application(router, config, logger: logger) { _ in
                let identityURL = parts.catalog.identityURL
                do {
                    try credentials.writeCloudsFile(to: cloudsFile, authURL: identityURL, region: parts.catalog.region)
                    try credentials.writeAgentConfig(to: config.dataDir + "/compute-agent.conf", authURL: identityURL,
                                                     caFile: config.localAgentCAFile)
                } catch {
                    logger.error("\(error)")
                }
                listening.fulfil(identityURL)
            }
            let ready = ReadyReporter {
                let authURL = await listening.value()
                await registered.value()
                await onReady(ReadyCloud(
                    baseURL: parts.catalog.baseURL, authURL: authURL, cloudsFile: cloudsFile,
                    credentials: credentials, storage: storage, identity: prepared.identity, placement: parts.placement,
                    fakeDrivers: hosts.fakeDrivers, qemuDrivers: hosts.qemu, computeHosts: hosts.agents.map(\.host),
                    schedulerMetrics: parts.conductor.metrics, routes: parts.routes.routes, policy: policy,
                    openConnections: parts.connections))
            }
            var configuration = ServiceGroupConfiguration(
                services: [.init(service: app), .init(service: ready, successTerminationBehavior: .ignore)]
                    + parts.placementServices(logger: logger).map { .init(service: $0) }
                    + parts.conductorServices(config, logger: logger).map { .init(service: $0) }
                    + [.init(service: runner, successTerminationBehavior: .ignore)],
                gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                logger: logger)
            if let stopper { configuration.maximumGracefulShutdownDuration = stopper.patience }
            let group = ServiceGroup(configuration: configuration)
            stopper?.attach(group)
            do {
                try await group.run()
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }

    static func identitySettings(_ config: CloudConfig) -> IdentityService.Settings {
        var settings = IdentityService.Settings()
        settings.tokenLifetime = config.configuration.double("token", "expiration")
        settings.passwordHashRounds = config.configuration.int("identity", "password_hash_rounds")
        settings.revocationCacheSeconds = config.configuration.double("token", "revocation_cache_seconds")
        return settings
    }

    static func makeRouter(config: CloudConfig, identity: IdentityService, catalog: ServiceCatalog,
                           placement: PlacementStore, compute: ComputeParts, policy: PolicyEnforcer,
                           routes: RouteTable) -> Router<StratusRequestContext>
    {
        let base = Router(context: StratusRequestContext.self)
        base.add(middleware: RequestLogMiddleware())
        base.add(middleware: FaultMiddleware(identityURL: { catalog.identityURL }))
        let strategy = TokenMiddleware.Strategy(rawValue: config.configuration.string("api", "auth_strategy")) ?? .keystone
        base.add(middleware: TokenMiddleware(identity: identity, strategy: strategy))
        base.add(middleware: PlacementAPI.microversions())
        base.add(middleware: ComputeAPI.microversions())
        let bodyLimit = config.configuration.int("oslo_middleware", "max_request_body_size")
        let router = PolicedRouter(router: base, enforcer: policy, table: routes, bodyLimit: bodyLimit)
        IdentityAPI(identity: identity, catalog: catalog, bodyLimit: bodyLimit).register(on: router)
        PlacementAPI(
            store: placement, bodyLimit: bodyLimit,
            randomizeCandidates: config.configuration.bool("placement", "randomize_allocation_candidates"),
            baseURL: { catalog.baseURL }
        ).register(on: router)
        NetworkAPI(store: NetworkStore(storage: compute.flavors.storage), bodyLimit: bodyLimit, baseURL: { catalog.baseURL })
            .register(on: router)
        ImageAPI(
            store: ImageStore(storage: compute.flavors.storage),
            files: ImageFiles(directory: config.imageDirectory, sizeCap: config.configuration.int("image", "image_size_cap")),
            bodyLimit: bodyLimit, baseURL: { catalog.baseURL }
        ).register(on: router)
        ComputeAPI(
            flavors: compute.flavors, servers: compute.instances, hosts: compute.hosts, queue: compute.queue, placement: placement,
            quotaDefaults: Dictionary(uniqueKeysWithValues: QuotaStore.resources.map { ($0, config.configuration.int("quota", $0)) }),
            bodyLimit: bodyLimit, instanceNameTemplate: config.configuration.string("DEFAULT", "instance_name_template"),
            serviceDownTime: config.configuration.double("DEFAULT", "service_down_time"), baseURL: { catalog.baseURL }
        ).register(on: router)
        AgentAPI(queue: compute.queue, instances: compute.instances, hosts: compute.hosts, bodyLimit: bodyLimit).register(on: router)
        return base
    }
}

/// The compute control plane's stores, handed to the API together.
struct ComputeParts: Sendable {
    let flavors: FlavorStore
    let instances: InstanceStore
    let hosts: HostStore
    let queue: Queue
}

extension AllInOneCloud {
    static func conductorSettings(_ config: CloudConfig) -> Conductor.Settings {
        var settings = Conductor.Settings()
        settings.maxAttempts = config.configuration.int("scheduler", "max_attempts")
        settings.serviceDownTime = config.configuration.double("DEFAULT", "service_down_time")
        settings.buildTimeout = config.configuration.double("DEFAULT", "instance_build_timeout")
        settings.allowResizeToSameHost = config.configuration.bool("DEFAULT", "allow_resize_to_same_host")
        settings.resizeConfirmWindow = config.configuration.double("DEFAULT", "resize_confirm_window")
        settings.maxConcurrentLiveMigrations = config.configuration.int("DEFAULT", "max_concurrent_live_migrations")
        return settings
    }

    /// DevStack's two networks on first start: `public` (external, 172.24.4.0/24) and the shared `private`
    /// (10.0.0.0/22), both owned by the admin project and usable by every project.
    static func defaultNetworks(_ store: NetworkStore, adminProject: String, logger: Logger) async throws {
        let existing = Set(try await store.networks().map(\.name))
        for (name, cidr, external) in [("public", "172.24.4.0/24", true), ("private", "10.0.0.0/22", false)] where !existing.contains(name) {
            var network = Network(name: name, projectID: adminProject)
            network.external = external
            network.shared = !external
            network.networkType = external ? "flat" : "local"
            network.physicalNetwork = external ? "public" : nil
            try await store.create(network)
            let range = IPv4Network(cidr)!
            try await store.create(Subnet(networkID: network.id, projectID: adminProject, name: name + "-subnet", cidr: range,
                                          gateway: range.firstHost, pools: Subnet.defaultPools(range, gateway: range.firstHost)))
            logger.info("created network \(name) with subnet \(cidr)")
        }
    }

    /// The filter scheduler `[filter_scheduler]` describes; an unknown filter name stops the start.
    static func scheduler(_ config: CloudConfig) throws -> FilterScheduler {
        let c = config.configuration
        var multipliers = FilterScheduler.Multipliers()
        multipliers.ram = c.double("filter_scheduler", "ram_weight_multiplier")
        multipliers.cpu = c.double("filter_scheduler", "cpu_weight_multiplier")
        multipliers.disk = c.double("filter_scheduler", "disk_weight_multiplier")
        multipliers.softAffinity = c.double("filter_scheduler", "soft_affinity_weight_multiplier")
        multipliers.softAntiAffinity = c.double("filter_scheduler", "soft_anti_affinity_weight_multiplier")
        let names = c.string("filter_scheduler", "enabled_filters").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return try FilterScheduler.configured(
            enabledFilters: names, multipliers: multipliers, hostSubsetSize: c.int("filter_scheduler", "host_subset_size"),
            shuffleBestSameWeighedHosts: c.bool("filter_scheduler", "shuffle_best_same_weighed_hosts"))
    }
}
