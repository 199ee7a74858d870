import Hummingbird
import StratusCompute
import StratusCore

extension ComputeAPI {
    /// COMPUTE_STATUS_DISABLED follows the service at once. If Placement cannot be written now the service change
    /// stands, and the conductor's reconciler puts the trait right within `[conductor] reconcile_interval`.
    func syncStatusTrait(_ service: HostStore.Service, _ context: StratusRequestContext) async {
        do {
            try await ComputeStatusTrait(hosts: hostStore, placement: placement).apply(host: service.host, disabled: service.disabled)
        } catch {
            context.logger.warning("COMPUTE_STATUS_DISABLED on \(service.host) not updated now (the reconciler will): \(error)")
        }
    }

    /// `os-services` and `os-hypervisors` (admin only, as Nova's default policy).
    func registerHosts(on router: PolicedRouter) {
        router.get("compute/v2.1/os-services", .rule("os_compute_api:os-services:list")) { request, context in
            var list = try await hostStore.services()
            if let host = query(request, "host") { list = list.filter { $0.host == host } }
            if let binary = query(request, "binary") { list = list.filter { $0.binary == binary } }
            return JSONResponse.make(status: .ok, ["services": .array(list.map { serviceJSON($0, context) })])
        }
        router.put("compute/v2.1/os-services/:id", .rule("os_compute_api:os-services:update")) { request, context in
            let id = try context.parameters.require("id")
            let fields = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            if context.microversion.atLeast(2, 53) {
                try fields.rejectUnknown(["status", "disabled_reason", "forced_down"])
                let status = try fields.string("status")
                guard status == nil || status == "enabled" || status == "disabled" else {
                    throw StratusError.badRequest("Invalid input for field/attribute status. Value: \(status!). It must be one of enabled, disabled.")
                }
                let reason = try fields.string("disabled_reason", nullable: true)
                if reason != nil, status != "disabled" {
                    throw StratusError.badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
                }
                let forced = try fields.bool("forced_down")
                guard status != nil || forced != nil else {
                    throw StratusError.badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.")
                }
                guard let service = try await hostStore.update(
                    serviceID: id, disabled: status.map { $0 == "disabled" }, reason: status == nil ? nil : .some(reason), forcedDown: forced)
                else { throw StratusError.notFound("Service \(id) could not be found.") }
                if status != nil { await syncStatusTrait(service, context) }
                return JSONResponse.make(status: .ok, ["service": serviceJSON(service, context)])
            }
            // Before 2.53: PUT /os-services/{enable,disable,disable-log-reason,force-down} naming host and binary.
            let host = try fields.requiredString("host")
            _ = try fields.requiredString("binary")
            guard let service = try await hostStore.services().first(where: { $0.host == host }) else {
                throw StratusError.notFound("Compute host \(host) could not be found.")
            }
            let updated: HostStore.Service?
            switch id {
            case "enable": updated = try await hostStore.update(serviceID: service.id, disabled: false, reason: .some(nil), forcedDown: nil)
            case "disable": updated = try await hostStore.update(serviceID: service.id, disabled: true, reason: nil, forcedDown: nil)
            case "disable-log-reason":
                let reason = try fields.requiredString("disabled_reason")
                updated = try await hostStore.update(serviceID: service.id, disabled: true, reason: .some(reason), forcedDown: nil)
            case "force-down":
                updated = try await hostStore.update(serviceID: service.id, disabled: nil, reason: nil, forcedDown: try fields.bool("forced_down") ?? true)
            default: throw StratusError.notFound("Unknown service action \(id)")
            }
            guard let updated else { throw StratusError.notFound("Service could not be found.") }
            if id != "force-down" { await syncStatusTrait(updated, context) }
            var body: [String: JSON] = ["host": .string(updated.host), "binary": .string(updated.binary),
                                        "status": updated.disabled ? "disabled" : "enabled"]
            if id == "disable-log-reason" { body["disabled_reason"] = .optional(updated.disabledReason) }
            if id == "force-down" { body = ["host": .string(updated.host), "binary": .string(updated.binary), "forced_down": .bool(updated.forcedDown)] }
            return JSONResponse.make(status: .ok, ["service": .object(body)])
        }
        router.delete("compute/v2.1/os-services/:id", .rule("os_compute_api:os-services:delete")) { _, context in
            let id = try context.parameters.require("id")
            guard let service = try await hostStore.services().first(where: { $0.id == id }) else {
                throw StratusError.notFound("Service \(id) could not be found.")
            }
            if let count = try await servers.countByHost()[service.host], count > 0 {
                throw StratusError.conflict("Unable to delete compute service that is hosting instances (\(count) on \(service.host)). Migrate or delete the instances first.")
            }
            // The provider first: a failure then leaves the service to delete again, not a provider nobody owns.
            if let node = try await hostStore.nodes().first(where: { $0.host == service.host }) {
                do { try await placement.deleteProvider(uuid: node.uuid) } catch let error as StratusError where error.code.status == 404 {}
            }
            _ = try await hostStore.delete(serviceID: id)
            return JSONResponse.empty(.noContent)
        }
        router.get("compute/v2.1/os-hypervisors", .rule("os_compute_api:os-hypervisors:list")) { request, context in
            return JSONResponse.make(status: .ok, ["hypervisors": .array(try await hypervisors(request, context, detail: false))])
        }
        router.get("compute/v2.1/os-hypervisors/detail", .rule("os_compute_api:os-hypervisors:list-detail")) { request, context in
            return JSONResponse.make(status: .ok, ["hypervisors": .array(try await hypervisors(request, context, detail: true))])
        }
        router.get("compute/v2.1/os-hypervisors/:id", .rule("os_compute_api:os-hypervisors:show")) { request, context in
            let id = try context.parameters.require("id")
            let all = try await hypervisors(request, context, detail: true)
            guard let found = all.first(where: { $0["id"]?.stringValue == id || $0["id"]?.intValue.map(String.init) == id }) else {
                throw StratusError.notFound("Hypervisor \(id) could not be found.")
            }
            return JSONResponse.make(status: .ok, ["hypervisor": found])
        }
        router.get("compute/v2.1/os-hypervisors/:id/servers", .rule("os_compute_api:os-hypervisors:servers")) { request, context in
            let name = try context.parameters.require("id")
            let matching = try await hypervisors(request, context, detail: false, withServers: true)
                .filter { $0["hypervisor_hostname"]?.stringValue?.contains(name) == true }
            guard !matching.isEmpty else { throw StratusError.notFound("No hypervisor matching '\(name)' could be found.") }
            return JSONResponse.make(status: .ok, ["hypervisors": .array(matching)])
        }
    }

    /// Nova's integer ids before 2.53 are per-database; Stratus derives a stable one from the uuid.
    static func legacyID(_ uuid: String) -> Int {
        Int(uuid.prefix(8), radix: 16).map { $0 % 1_000_000_000 } ?? 0
    }

    func serviceJSON(_ service: HostStore.Service, _ context: StratusRequestContext) -> JSON {
        var entry: [String: JSON] = [
            "binary": .string(service.binary), "host": .string(service.host), "zone": .string(service.zone),
            "status": service.disabled ? "disabled" : "enabled",
            "state": isUp(service) ? "up" : "down",
            "updated_at": .string(Clock.iso8601Micro(service.lastSeen).replacingOccurrences(of: "Z", with: "")),
            "disabled_reason": .optional(service.disabledReason),
        ]
        entry["id"] = context.microversion.atLeast(2, 53) ? .string(service.id) : .int(Self.legacyID(service.id))
        if context.microversion.atLeast(2, 11) { entry["forced_down"] = .bool(service.forcedDown) }
        return .object(entry)
    }

    func hypervisors(_ request: Request, _ context: StratusRequestContext, detail: Bool, withServers: Bool = false) async throws -> [JSON] {
        let services = Dictionary(try await hostStore.services().map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
        let counts = try await servers.countByHost()
        let includeServers = withServers || (context.microversion.atLeast(2, 53) && query(request, "with_servers") == "true")
        let onHost = includeServers ? Dictionary(grouping: try await servers.list(projectID: nil), by: { $0.host ?? "" }) : [:]
        var nodes = try await hostStore.nodes()
        if context.microversion.atLeast(2, 53), let pattern = query(request, "hypervisor_hostname_pattern") {
            nodes = nodes.filter { $0.host.contains(pattern) }
        }
        let now = Clock.now()
        return nodes.map { node in
            let service = services[node.host]
            var entry: [String: JSON] = [
                "id": context.microversion.atLeast(2, 53) ? .string(node.uuid) : .int(Self.legacyID(node.uuid)),
                "hypervisor_hostname": .string(node.host),
                "state": (service.map { isUp($0, now: now) } ?? false) ? "up" : "down",
                "status": (service?.disabled ?? false) ? "disabled" : "enabled",
            ]
            if includeServers {
                entry["servers"] = .array((onHost[node.host] ?? []).map { ["uuid": .string($0.uuid), "name": .string($0.instanceName)] })
            }
            if detail {
                entry["hypervisor_type"] = .string(node.hypervisorType)
                entry["hypervisor_version"] = .int(node.hypervisorVersion)
                entry["host_ip"] = "127.0.0.1"
                entry["service"] = ["host": .string(node.host), "disabled_reason": .optional(service?.disabledReason),
                                    "id": context.microversion.atLeast(2, 53) ? .string(service?.id ?? "") : .int(Self.legacyID(service?.id ?? ""))]
                if !context.microversion.atLeast(2, 88) {
                    entry["vcpus"] = .int(node.vcpus)
                    entry["memory_mb"] = .int(node.memoryMB)
                    entry["local_gb"] = .int(node.localGB)
                    entry["running_vms"] = .int(counts[node.host] ?? 0)
                    entry["cpu_info"] = .string(node.cpuInfo)
                }
            }
            return .object(entry)
        }
    }
}
