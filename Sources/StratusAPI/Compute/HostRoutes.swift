import Hummingbird
import StratusCompute
import StratusCore

extension ComputeAPI {
    /// `os-services` and `os-hypervisors` (admin only, as Nova's default policy).
    func registerHosts(on router: Router<StratusRequestContext>) {
        guard let hostStore else { return }
        router.get("compute/v2.1/os-services") { _, context in
            try requireAdmin(context)
            let now = Clock.now()
            let services: [JSON] = try await hostStore.services().map { service in
                var entry: [String: JSON] = [
                    "binary": .string(service.binary), "host": .string(service.host), "zone": .string(service.zone),
                    "status": service.disabled ? "disabled" : "enabled",
                    "state": service.forcedDown || now - service.lastSeen > 60 ? "down" : "up",
                    "updated_at": .string(Clock.iso8601Micro(service.lastSeen)), "disabled_reason": .optional(service.disabledReason),
                ]
                entry["id"] = context.microversion.atLeast(2, 53) ? .string(service.id) : .int(abs(service.id.hashValue % 100_000))
                if context.microversion.atLeast(2, 11) { entry["forced_down"] = .bool(service.forcedDown) }
                return .object(entry)
            }
            return JSONResponse.make(status: .ok, ["services": .array(services)])
        }
        router.get("compute/v2.1/os-hypervisors") { _, context in
            try requireAdmin(context)
            return JSONResponse.make(status: .ok, ["hypervisors": .array(try await hypervisors(context, detail: false))])
        }
        router.get("compute/v2.1/os-hypervisors/detail") { _, context in
            try requireAdmin(context)
            return JSONResponse.make(status: .ok, ["hypervisors": .array(try await hypervisors(context, detail: true))])
        }
    }

    func hypervisors(_ context: StratusRequestContext, detail: Bool) async throws -> [JSON] {
        let services = Dictionary(try await hostStore!.services().map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
        let counts = try await servers?.countByHost() ?? [:]
        let now = Clock.now()
        return try await hostStore!.nodes().map { node in
            let service = services[node.host]
            var entry: [String: JSON] = [
                "id": context.microversion.atLeast(2, 53) ? .string(node.uuid) : .int(abs(node.uuid.hashValue % 100_000)),
                "hypervisor_hostname": .string(node.host),
                "state": (service.map { !$0.forcedDown && now - $0.lastSeen <= 60 } ?? false) ? "up" : "down",
                "status": (service?.disabled ?? false) ? "disabled" : "enabled",
            ]
            if detail {
                entry["hypervisor_type"] = .string(node.hypervisorType)
                entry["host_ip"] = "127.0.0.1"
                entry["service"] = ["host": .string(node.host), "id": .string(service?.id ?? ""), "disabled_reason": nil]
                if !context.microversion.atLeast(2, 88) {
                    entry["vcpus"] = .int(node.vcpus)
                    entry["memory_mb"] = .int(node.memoryMB)
                    entry["local_gb"] = .int(node.localGB)
                    entry["running_vms"] = .int(counts[node.host] ?? 0)
                    entry["hypervisor_version"] = 1
                }
            }
            return .object(entry)
        }
    }
}
