import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle
import StratusAPI
import StratusCompute
import StratusCore
import StratusIdentity
import StratusImage
import StratusNetwork
import StratusPlacement
import StratusPolicy
import StratusQueue
import StratusStorage
import Synchronization

/// The control plane's pieces, shared by the all-in-one and the separate `stratus api` and `stratus conductor`
/// processes: first-start bootstrap, the API listener, and the conductor's services.
enum ControlPlane {
    /// What `bootstrap` leaves behind.
    struct Bootstrapped: Sendable {
        let credentials: BootstrapCredentials
        let identity: IdentityService
    }

    /// Keystone's `bootstrap` and DevStack's first-start setup: the admin, demo and service users, default
    /// flavors and networks, the tiny guest image. Idempotent; secrets are written only once the database is known good.
    static func bootstrap(_ config: CloudConfig, storage: Storage, logger: Logger) async throws -> Bootstrapped {
        let credentials = try BootstrapCredentials.loadOrCreate(in: config.dataDir)
        let identity = try identityService(config, storage: storage)
        let created = try await IdentityBootstrap(identity: identity).run(
            adminPassword: credentials.adminPassword, demoPassword: credentials.demoPassword,
            servicePassword: credentials.servicePassword)
        for account in created { logger.info("bootstrapped user \(account.userName) in project \(account.projectName)") }
        try await FlavorStore(storage: storage).ensureDefaults()
        let adminProject = try await identity.store.project(name: "admin", domainID: "default")
        try await AllInOneCloud.defaultNetworks(NetworkStore(storage: storage), adminProject: adminProject.id, logger: logger)
        if let tiny = config.tinyGuestDirectory {
            try await TinyGuest.register(from: tiny, store: ImageStore(storage: storage), files: imageFiles(config),
                                         owner: adminProject.id, logger: logger)
        }
        return Bootstrapped(credentials: credentials, identity: identity)
    }

    static func identityService(_ config: CloudConfig, storage: Storage) throws -> IdentityService {
        let tokenKey = try TokenCodec.loadOrCreateKey(in: config.tokenKeyDirectory)
        return IdentityService(storage: storage, tokenKey: tokenKey, settings: AllInOneCloud.identitySettings(config))
    }

    static func imageFiles(_ config: CloudConfig) -> ImageFiles {
        ImageFiles(directory: config.imageDirectory, sizeCap: config.configuration.int("image", "image_size_cap"))
    }

    /// The services of one control-plane process, built from one database.
    struct Parts: Sendable {
        let catalog: ServiceCatalog
        let placement: PlacementStore
        let queue: Queue
        let conductor: Conductor
        let routes: RouteTable
        let connections: ConnectionCounter
        let limits: ConnectionLimits

        /// The listener with every API; `onListening` gets the bound port once the catalog knows its URL.
        func application(_ router: Router<StratusRequestContext>, _ config: CloudConfig, logger: Logger,
                         onListening: @escaping @Sendable (Int) async -> Void) throws -> some Service {
            let publicEndpoint = config.configuration.string("api", "public_endpoint")
            let catalog = self.catalog
            let http1 = HTTPServerBuilder.http1(configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(limits: limits, counter: connections)]))
            let scheme = config.listenerScheme
            return Application(
                router: router,
                server: try ListenerTLS.configuration(config).map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
                configuration: .init(address: .hostname(config.bindHost, port: config.port), serverName: nil),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? config.port
                    catalog.baseURL = publicEndpoint.isEmpty ? "\(scheme)://\(config.bindHost):\(port)" : publicEndpoint
                    await onListening(port)
                },
                logger: logger)
        }

        /// What every process that writes placement runs: the claim batcher, and the index follower that applies
        /// other processes' changes.
        func placementServices(logger: Logger) -> [any Service] {
            [placement.batcher!, PlacementIndexFollower(store: placement, logger: logger)]
        }

        /// The conductor: its two consumers, reconciliation, and the queue's clean-up.
        func conductorServices(_ config: CloudConfig, logger: Logger) -> [any Service] {
            let queue = self.queue
            let purge = PeriodicService(every: .seconds(60)) {
                // Finished messages are deleted after an hour so the table stays small; dead letters stay.
                do { try await queue.purgeDone(olderThan: 3600) } catch { logger.warning("queue purge failed: \(error)") }
            }
            let reconcileEvery = Duration.seconds(config.configuration.int("conductor", "reconcile_interval"))
            return [purge, conductor.reconciler(interval: reconcileEvery)] + conductor.consumers()
        }
    }

    static func parts(_ config: CloudConfig, storage: Storage, identity: IdentityService, policy: PolicyEnforcer,
                      logger: Logger) async throws -> (Parts, Router<StratusRequestContext>) {
        let catalog = ServiceCatalog(
            baseURL: "http://\(config.bindHost):\(config.port)",
            region: config.configuration.string("identity", "region_name"),
            services: [
                .init(type: "identity", name: "keystone", path: "/identity"),
                .init(type: "placement", name: "placement", path: "/placement"),
                .init(type: "compute", name: "nova", path: "/compute/v2.1"),
                .init(type: "image", name: "glance", path: "/image"),
                .init(type: "network", name: "neutron", path: "/network"),
            ])
        let placement = PlacementStore(storage: storage, batching: true)
        try await placement.loadIndex()
        let queue = Queue(storage: storage, settings: config.queueSettings)
        let compute = ComputeParts(
            flavors: FlavorStore(storage: storage), instances: InstanceStore(storage: storage), hosts: HostStore(storage: storage),
            queue: queue)
        let routes = RouteTable()
        let router = AllInOneCloud.makeRouter(config: config, identity: identity, catalog: catalog, placement: placement,
                                              compute: compute, policy: policy, routes: routes)
        try PolicySetup.checkRoutes(routes.routes, against: policy)
        let conductor = Conductor(
            instances: compute.instances, hosts: compute.hosts, placement: placement, queue: queue,
            scheduler: try AllInOneCloud.scheduler(config), settings: AllInOneCloud.conductorSettings(config), logger: logger)
        let parts = Parts(catalog: catalog, placement: placement, queue: queue, conductor: conductor, routes: routes,
                          connections: ConnectionCounter(), limits: PolicySetup.connectionLimits(config))
        return (parts, router)
    }
}

/// A value set once and awaited by many (the listener's address, "every host registered").
final class OneShot<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiters: [CheckedContinuation<Value, Never>])>((nil, []))

    func fulfil(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    func value() async -> Value {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Value? in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// Reports the cloud ready once `body` has seen everything it waits for, then ends (its group goes on).
struct ReadyReporter: Service {
    let body: @Sendable () async -> Void
    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
        // Stays until its turn to shut down: ServiceGroup takes a service that ends while it shuts the others down
        // (a cloud stopped right after it became ready) for a failure. Cancellation ends the wait as well, and is
        // no failure of this service's either.
        do { try await gracefulShutdown() } catch is CancellationError {}
    }
}
