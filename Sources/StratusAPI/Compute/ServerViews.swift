import Crypto
import Foundation
import StratusCompute
import StratusCore

/// Nova's JSON shapes of servers and instance actions, by microversion.
extension ComputeAPI {
    /// `host_status` (2.16) of each host: UP, DOWN, MAINTENANCE (disabled), for admins.
    func hostStatuses() async throws -> [String: String] {
        let now = Clock.now()
        return Dictionary(try await hostStore.services().map { service in
            (service.host, !isUp(service, now: now) ? "DOWN" : service.disabled ? "MAINTENANCE" : "UP")
        }, uniquingKeysWith: { a, _ in a })
    }

    /// Nova's `addresses` of each server from its ports: network name → [{version, addr, type, mac}].
    func addresses(of instances: [Instance]) async throws -> [String: JSON] {
        guard instances.contains(where: { !$0.requestedNetworks.isEmpty }) else { return [:] }
        let wanted = Set(instances.map(\.uuid))
        let ports = instances.count == 1 ? try await network.ports(device: instances[0].uuid) : try await network.ports()
        let names = Dictionary(uniqueKeysWithValues: try await network.networks().map { ($0.id, $0.name) })
        var result: [String: [String: [JSON]]] = [:]
        for port in ports where wanted.contains(port.deviceID) {
            for ip in port.fixedIPs {
                result[port.deviceID, default: [:]][names[port.networkID] ?? port.networkID, default: []].append([
                    "version": 4, "addr": .string(ip.ipAddress), "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": .string(port.macAddress),
                ])
            }
        }
        return result.mapValues { .object($0.mapValues { .array($0) }) }
    }

    func serverJSON(_ instance: Instance, _ version: Microversion, admin: Bool, hostStatus: [String: String] = [:],
                    addresses: JSON = [:]) -> JSON {
        let hostID = instance.host.map { Self.hostID(project: instance.projectID, host: $0) } ?? ""
        var body: [String: JSON] = [
            "id": .string(instance.uuid), "name": .string(instance.name), "status": .string(instance.status),
            "tenant_id": .string(instance.projectID), "user_id": .string(instance.userID),
            "metadata": .object(instance.metadata.mapValues { .string($0) }), "hostId": .string(hostID),
            "image": ["id": .string(instance.imageRef), "links": [["rel": "bookmark", "href": .string(baseURL() + "/compute/images/" + instance.imageRef)]]],
            "created": .string(Clock.iso8601(instance.createdAt)), "updated": .string(Clock.iso8601(instance.updatedAt)),
            "addresses": addresses, "accessIPv4": "", "accessIPv6": "", "links": links("servers/\(instance.uuid)"),
            "OS-DCF:diskConfig": "MANUAL", "progress": 0, "OS-EXT-AZ:availability_zone": .string(instance.availabilityZone ?? "nova"),
            "config_drive": "", "key_name": .optional(instance.keyName),
            "OS-SRV-USG:launched_at": .optional(instance.launchedAt.map { Clock.iso8601Micro($0).replacingOccurrences(of: "Z", with: "") }),
            "OS-SRV-USG:terminated_at": nil, "OS-EXT-STS:task_state": .optional(instance.taskState?.rawValue),
            "OS-EXT-STS:vm_state": .string(instance.vmState.rawValue), "OS-EXT-STS:power_state": .int(instance.powerState.rawValue),
            "os-extended-volumes:volumes_attached": [], "security_groups": [["name": "default"]],
        ]
        if version.atLeast(2, 47) {
            body["flavor"] = [
                "vcpus": .int(instance.flavor.vcpus), "ram": .int(instance.flavor.memoryMB), "disk": .int(instance.flavor.rootGB),
                "ephemeral": .int(instance.flavor.ephemeralGB), "swap": .int(instance.flavor.swapMB),
                "original_name": .string(instance.flavor.name),
                "extra_specs": .object(instance.flavor.extraSpecs.mapValues { .string($0) }),
            ]
        } else {
            body["flavor"] = ["id": .string(instance.flavor.id), "links": links("flavors/\(instance.flavor.id)")]
        }
        if admin {
            body["OS-EXT-SRV-ATTR:host"] = .optional(instance.host)
            body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = .optional(instance.node)
            body["OS-EXT-SRV-ATTR:instance_name"] = .string(instance.instanceName)
        }
        if version.atLeast(2, 9) { body["locked"] = .bool(instance.locked) }
        if version.atLeast(2, 73) { body["locked_reason"] = .optional(instance.lockedReason) }
        if version.atLeast(2, 19) { body["description"] = .optional(instance.description) }
        if version.atLeast(2, 26) { body["tags"] = .array(instance.tags.map { .string($0) }) }
        if version.atLeast(2, 3), admin {
            body["OS-EXT-SRV-ATTR:hostname"] = .string(instance.name)
            body["OS-EXT-SRV-ATTR:reservation_id"] = .string("r-" + String(instance.uuid.prefix(8)))
            body["OS-EXT-SRV-ATTR:launch_index"] = 0
            body["OS-EXT-SRV-ATTR:kernel_id"] = ""
            body["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
            body["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
            body["OS-EXT-SRV-ATTR:user_data"] = .optional(instance.userData)
        }
        if version.atLeast(2, 16), let host = instance.host {
            body["host_status"] = admin ? .string(hostStatus[host] ?? "UNKNOWN") : ""
        }
        if let fault = instance.fault, instance.vmState == .error {
            var faultJSON: [String: JSON] = ["code": .int(fault.code), "message": .string(fault.message),
                                             "created": .string(Clock.iso8601(fault.created))]
            if admin { faultJSON["details"] = .string(fault.details) }
            body["fault"] = .object(faultJSON)
        }
        return .object(body)
    }

    /// Nova's opaque `hostId`: a hash of project and host, so users can tell co-location without seeing host names.
    /// (Nova uses SHA-224; this is SHA-256 cut to the same 56 hex digits.)
    static func hostID(project: String, host: String) -> String {
        String(SHA256.hash(data: Data((project + host).utf8)).map { String(format: "%02x", $0) }.joined().prefix(56))
    }

    func actionJSON(_ action: InstanceActionRecord, _ context: StratusRequestContext, events: Bool) -> JSON {
        let admin = context.auth?.isAdmin ?? false
        var body: [String: JSON] = [
            "action": .string(action.action), "instance_uuid": .string(action.instanceUUID), "message": .optional(action.message),
            "project_id": .string(action.projectID), "request_id": .string(action.requestID),
            "start_time": .string(Clock.iso8601Micro(action.startTime)), "user_id": .string(action.userID),
        ]
        if context.microversion.atLeast(2, 58) {
            body["updated_at"] = .string(Clock.iso8601Micro(action.finishTime ?? action.startTime))
        }
        if events {
            body["events"] = .array(action.events.map { event in
                var entry: [String: JSON] = [
                    "event": .string(event.name), "start_time": .string(Clock.iso8601Micro(event.startTime)),
                    "finish_time": .optional(event.finishTime.map(Clock.iso8601Micro)), "result": .optional(event.result),
                ]
                if admin { entry["traceback"] = .optional(event.result == "Error" ? event.details : nil) }
                if context.microversion.atLeast(2, 62) {
                    if admin { entry["host"] = .optional(event.host) }
                    entry["hostId"] = .string(event.host.map { Self.hostID(project: action.projectID, host: $0) } ?? "")
                }
                if context.microversion.atLeast(2, 84) { entry["details"] = .optional(event.details) }
                return .object(entry)
            })
        }
        return .object(body)
    }
}
