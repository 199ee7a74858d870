import Hummingbird
import StratusCore
import StratusIdentity
import StratusNetwork

extension NetworkAPI {
    func registerSubnets(on router: PolicedRouter) {
        router.post("network/v2.0/subnets", .rule("create_subnet")) { request, context in
            let auth = try context.requireAuth()
            let fields = try await body(request, "subnet", allowed: [
                "network_id", "cidr", "ip_version", "name", "gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers",
                "host_routes", "description", "tenant_id", "project_id", "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "service_types"])
            let network = try await visibleNetwork(try fields.requiredString("network_id"), auth)
            try requireOwner(network.projectID, auth, "create_subnet")
            guard (try fields.int("ip_version") ?? 4) == 4 else {
                throw NetworkError.invalid("IPv6 subnets are not supported yet; use ip_version 4.")
            }
            let cidrText = try fields.requiredString("cidr")
            guard let cidr = IPv4Network(cidrText), cidr.prefix <= 30 else {
                throw NetworkError.invalid("'\(cidrText)' is not a valid IPv4 CIDR for a subnet (network address, prefix up to /30).")
            }
            var gateway: IPv4? = cidr.firstHost
            if fields.has("gateway_ip") {
                if fields.object["gateway_ip"]?.isNull == true {
                    gateway = nil
                } else {
                    let text = try fields.requiredString("gateway_ip")
                    guard let parsed = IPv4(text) else { throw NetworkError.invalid("'\(text)' is not a valid IP address.") }
                    gateway = parsed
                }
            }
            var pools = Subnet.defaultPools(cidr, gateway: gateway)
            if let raw = fields.object["allocation_pools"], !raw.isNull {
                guard let items = raw.arrayValue else { throw NetworkError.invalid("allocation_pools must be a list.") }
                pools = try items.map { item in
                    guard let start = item["start"]?.stringValue.flatMap(IPv4.init), let end = item["end"]?.stringValue.flatMap(IPv4.init) else {
                        throw NetworkError.invalid("Each allocation pool needs valid 'start' and 'end' addresses.")
                    }
                    return AddressPool(start: start, end: end)
                }
            }
            var subnet = Subnet(networkID: network.id, projectID: network.projectID, name: try fields.string("name", allowEmpty: true) ?? "",
                                cidr: cidr, gateway: gateway, pools: pools)
            subnet.enableDHCP = try fields.bool("enable_dhcp") ?? true
            subnet.dnsNameservers = try nameservers(fields)
            subnet.hostRoutes = try hostRoutes(fields)
            subnet.description = try fields.string("description", allowEmpty: true) ?? ""
            try await store.create(subnet)
            return JSONResponse.make(status: .created, ["subnet": subnetJSON(subnet)])
        }
        router.get("network/v2.0/subnets", .rule("get_subnet")) { request, context in
            let auth = try context.requireAuth()
            let networks = Dictionary(uniqueKeysWithValues: try await store.networks().map { ($0.id, $0) })
            let list = try await store.subnets().filter { subnet in networks[subnet.networkID].map { visible($0, auth) } ?? false }
            return JSONResponse.make(status: .ok, ["subnets": .array(filtered(list.map(subnetJSON), request))])
        }
        router.get("network/v2.0/subnets/:id", .rule("get_subnet")) { _, context in
            JSONResponse.make(status: .ok, ["subnet": subnetJSON(try await visibleSubnet(context))])
        }
        router.put("network/v2.0/subnets/:id", .rule("update_subnet")) { request, context in
            var subnet = try await visibleSubnet(context)
            try requireOwner(subnet.projectID, try context.requireAuth(), "update_subnet")
            let fields = try await body(request, "subnet", allowed: ["name", "enable_dhcp", "dns_nameservers", "host_routes", "description"])
            if let name = try fields.string("name", allowEmpty: true) { subnet.name = name }
            if let dhcp = try fields.bool("enable_dhcp") { subnet.enableDHCP = dhcp }
            if fields.has("dns_nameservers") { subnet.dnsNameservers = try nameservers(fields) }
            if fields.has("host_routes") { subnet.hostRoutes = try hostRoutes(fields) }
            if let description = try fields.string("description", allowEmpty: true) { subnet.description = description }
            try await store.save(subnet)
            return JSONResponse.make(status: .ok, ["subnet": subnetJSON(subnet)])
        }
        router.delete("network/v2.0/subnets/:id", .rule("delete_subnet")) { _, context in
            let subnet = try await visibleSubnet(context)
            try requireOwner(subnet.projectID, try context.requireAuth(), "delete_subnet")
            try await store.deleteSubnet(subnet.id)
            return JSONResponse.empty(.noContent)
        }
    }

    func visibleSubnet(_ context: StratusRequestContext) async throws -> Subnet {
        let id = try context.parameters.require("id")
        guard let subnet = try await store.subnet(id), let network = try await store.network(subnet.networkID),
              visible(network, try context.requireAuth()) else { throw NetworkError.notFound("Subnet", id) }
        return subnet
    }

    func nameservers(_ fields: JSONFields) throws -> [String] {
        let servers = try fields.stringArray("dns_nameservers") ?? []
        for server in servers where IPv4(server) == nil { throw NetworkError.invalid("'\(server)' is not a valid nameserver.") }
        return servers
    }

    func hostRoutes(_ fields: JSONFields) throws -> [Subnet.HostRoute] {
        guard let items = fields.object["host_routes"]?.arrayValue else { return [] }
        return try items.map { item in
            guard let destination = item["destination"]?.stringValue, IPv4Network(destination) != nil,
                  let nexthop = item["nexthop"]?.stringValue, IPv4(nexthop) != nil else {
                throw NetworkError.invalid("Each host route needs a valid 'destination' CIDR and 'nexthop' address.")
            }
            return Subnet.HostRoute(destination: destination, nexthop: nexthop)
        }
    }

    func subnetJSON(_ subnet: Subnet) -> JSON {
        var body: [String: JSON] = [
            "id": .string(subnet.id), "name": .string(subnet.name), "network_id": .string(subnet.networkID),
            "tenant_id": .string(subnet.projectID), "project_id": .string(subnet.projectID), "cidr": .string(subnet.cidr.description),
            "ip_version": 4, "gateway_ip": .optional(subnet.gateway?.description), "enable_dhcp": .bool(subnet.enableDHCP),
            "allocation_pools": .array(subnet.pools.map { ["start": .string($0.start.description), "end": .string($0.end.description)] }),
            "dns_nameservers": .array(subnet.dnsNameservers.map { .string($0) }),
            "host_routes": .array(subnet.hostRoutes.map { ["destination": .string($0.destination), "nexthop": .string($0.nexthop)] }),
            "description": .string(subnet.description), "ipv6_ra_mode": nil, "ipv6_address_mode": nil, "subnetpool_id": nil,
            "service_types": [],
        ]
        body.merge(Self.timestamps(subnet.createdAt, subnet.updatedAt)) { a, _ in a }
        return .object(body)
    }
}
