import Hummingbird
import StratusCore
import StratusIdentity

extension IdentityAPI {
    /// Read-only services, endpoints, regions and domains, derived from the catalog, so `openstack endpoint list`
    /// and `service list` work. The catalog is configuration, not data an API call can change.
    func registerCatalogRecords(on router: PolicedRouter) {
        router.get("identity/v3/services", .rule("identity:list_services")) { _, context in
            let services: [JSON] = render.catalog.services.map { service in
                ["id": .string(service.id), "type": .string(service.type), "name": .string(service.name),
                 "enabled": true, "links": render.links("services/\(service.id)")]
            }
            return JSONResponse.make(status: .ok, ["services": .array(services), "links": render.listLinks("services")])
        }
        router.get("identity/v3/endpoints", .rule("identity:list_endpoints")) { _, context in
            var endpoints: [JSON] = []
            for service in render.catalog.services {
                for interface in ["public", "internal", "admin"] {
                    endpoints.append([
                        "id": .string(service.endpointID(interface)), "interface": .string(interface),
                        "region_id": .string(render.catalog.region), "region": .string(render.catalog.region),
                        "url": .string(render.catalog.url(service)), "service_id": .string(service.id), "enabled": true,
                        "links": render.links("endpoints/\(service.endpointID(interface))"),
                    ])
                }
            }
            return JSONResponse.make(status: .ok, ["endpoints": .array(endpoints), "links": render.listLinks("endpoints")])
        }
        router.get("identity/v3/regions", .rule("identity:list_regions")) { _, context in
            _ = try context.requireAuth()
            let region: JSON = ["id": .string(render.catalog.region), "description": "", "parent_region_id": nil,
                                "links": render.links("regions/\(render.catalog.region)")]
            return JSONResponse.make(status: .ok, ["regions": [region], "links": render.listLinks("regions")])
        }
        router.get("identity/v3/domains", .rule("identity:list_domains")) { _, context in
            return JSONResponse.make(
                status: .ok, ["domains": .array(try await store.domains().map(render.domain)), "links": render.listLinks("domains")])
        }
        router.get("identity/v3/domains/:domain_id", .rule("identity:get_domain", target: .parameters(["target.domain.id": "domain_id"]))) { _, context in
            let id = try context.parameters.require("domain_id")
            return JSONResponse.make(status: .ok, ["domain": render.domain(try await store.domain(id: id))])
        }
    }
}
