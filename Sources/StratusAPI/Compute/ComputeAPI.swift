import Hummingbird
import StratusCompute
import StratusCore
import StratusImage
import StratusNetwork
import StratusPlacement
import StratusQueue

/// The Compute API (Nova v2.1) at `/compute/v2.1`: version documents and microversions, flavors, servers and
/// their actions, groups, key pairs, quotas, services, hypervisors, aggregates and availability zones.
public struct ComputeAPI: Sendable {
    public static let minimum = Microversion(2, 1)
    public static let maximum = Microversion(2, 96)

    let flavors: FlavorStore
    /// Servers, and the queue their workflows start on.
    let servers: InstanceStore
    let hostStore: HostStore
    let queue: Queue
    let bodyLimit: Int
    let instanceNameTemplate: String
    /// `http://host:port`, known once the listener is bound.
    let baseURL: @Sendable () -> String
    let quotas: QuotaStore
    let groups: ServerGroupStore
    let keypairs: KeypairStore
    let aggregates: AggregateStore
    let images: ImageStore
    let network: NetworkStore
    let migrations: MigrationStore
    /// Placement, to mirror host aggregates into.
    let placement: PlacementStore
    /// `[DEFAULT] service_down_time`
    let serviceDownTime: Double

    public init(flavors: FlavorStore, servers: InstanceStore, hosts: HostStore, queue: Queue,
                placement: PlacementStore, quotaDefaults: [String: Int] = [:], bodyLimit: Int,
                instanceNameTemplate: String = "instance-%(uuid)s", serviceDownTime: Double = 60,
                baseURL: @escaping @Sendable () -> String) {
        self.flavors = flavors
        self.servers = servers
        self.hostStore = hosts
        self.queue = queue
        self.placement = placement
        self.bodyLimit = bodyLimit
        self.instanceNameTemplate = instanceNameTemplate
        self.serviceDownTime = serviceDownTime
        self.baseURL = baseURL
        quotas = QuotaStore(storage: flavors.storage, defaults: quotaDefaults)
        groups = ServerGroupStore(storage: flavors.storage)
        keypairs = KeypairStore(storage: flavors.storage)
        aggregates = AggregateStore(storage: flavors.storage)
        images = ImageStore(storage: flavors.storage)
        network = NetworkStore(storage: flavors.storage)
        migrations = MigrationStore(storage: flavors.storage)
    }

    public static func microversions() -> MicroversionMiddleware {
        MicroversionMiddleware(
            service: "compute", pathPrefix: "/compute", minimum: minimum, maximum: maximum,
            legacyHeader: "X-OpenStack-Nova-API-Version", unversioned: ["/compute", "/compute/"])
    }

    var root: String { baseURL() + "/compute/v2.1" }

    /// Nova's service state: up unless forced down or silent for longer than `service_down_time`.
    func isUp(_ service: HostStore.Service, now: Double = Clock.now()) -> Bool {
        !service.forcedDown && now - service.lastSeen <= serviceDownTime
    }

    /// Nova's `check_instance_host(check_is_up=True)`: a move needs its source's service up (409 otherwise).
    func requireSourceUp(_ instance: Instance, services: [HostStore.Service]) throws {
        if let source = instance.host, let service = services.first(where: { $0.host == source }), !isUp(service) {
            throw StratusError.conflict("Service is unavailable at this time.")
        }
    }

    public func register(on router: PolicedRouter) {
        router.get("compute", .open) { _, _ in
            JSONResponse.make(status: .ok, ["versions": [
                ["id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
                 "links": [["rel": "self", "href": .string(baseURL() + "/compute/v2/")]]],
                versionJSON(),
            ]])
        }
        router.get("compute/v2.1", .open) { _, _ in
            var version = versionJSON()
            if case .object(var fields) = version {
                fields["media-types"] = [["base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"]]
                version = .object(fields)
            }
            return JSONResponse.make(status: .ok, ["version": version])
        }
        registerFlavors(on: router)
        registerServers(on: router)
        registerServerActions(on: router)
        registerServerMetadata(on: router)
        registerServerGroups(on: router)
        registerKeypairs(on: router)
        registerQuotas(on: router)
        registerHosts(on: router)
        registerAggregates(on: router)
        registerMigrations(on: router)
    }

    func versionJSON() -> JSON {
        ["id": "v2.1", "status": "CURRENT", "version": .string(Self.maximum.description),
         "min_version": .string(Self.minimum.description), "updated": "2013-07-23T11:33:21Z",
         "links": [["rel": "self", "href": .string(root + "/")], ["rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"]]]
    }

    func links(_ path: String) -> JSON {
        [["rel": "self", "href": .string(root + "/" + path)], ["rel": "bookmark", "href": .string(baseURL() + "/compute/" + path)]]
    }

    func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }
}
