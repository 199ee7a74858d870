import Crypto
import Foundation
import Hummingbird
import StratusCompute
import StratusCore
import StratusQueue
import StratusStorage

extension ComputeAPI {
    func registerServers(on router: Router<StratusRequestContext>) {
        guard let servers else { return }
        router.post("compute/v2.1/servers") { request, context in
            let auth = try context.requireAuth()
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "server")
            let name = try fields.requiredString("name")
            let flavorRef = try fields.requiredString("flavorRef")
            let flavor: Flavor
            do { flavor = try await flavors.flavor(id: flavorRef) } catch {
                throw StratusError.badRequest("Flavor \(flavorRef) could not be found.")
            }
            guard let imageRef = try fields.string("imageRef", allowEmpty: true), !imageRef.isEmpty else {
                throw StratusError.badRequest("Invalid input for field/attribute imageRef: booting from a volume is not supported yet; imageRef is required.")
            }
            let networks = fields.object["networks"]
            if context.microversion.atLeast(2, 37), networks == nil {
                throw StratusError.badRequest("Invalid input for field/attribute server. Value: 'networks' is a required property.")
            }
            if let networks {
                switch networks {
                case .string(let mode) where mode == "none" || mode == "auto": break
                case .array(let items) where items.isEmpty: break
                default:
                    throw StratusError.badRequest("Requested networks are not supported yet: use \"none\" or \"auto\".")
                }
            }
            let minCount = try fields.int("min_count", range: 1...1000) ?? 1
            let maxCount = try fields.int("max_count", range: 1...1000) ?? minCount
            guard minCount <= maxCount else { throw StratusError.badRequest("min_count must be <= max_count") }
            var metadata: [String: String] = [:]
            if let meta = try fields.fields("metadata") {
                for (key, value) in meta.object {
                    guard let text = value.stringValue, key.count <= 255, text.count <= 255 else {
                        throw StratusError.badRequest("Invalid input for field/attribute metadata: keys and values are strings of at most 255 characters.")
                    }
                    metadata[key] = text
                }
            }
            let zone = try fields.string("availability_zone")
            let keyName = try fields.string("key_name", nullable: true)
            let userData = try fields.string("user_data", maxLength: 65535, nullable: true)
            let finalMetadata = metadata
            let created = try await servers.storage.transaction { tx -> [Instance] in
                var created: [Instance] = []
                for index in 0..<maxCount {
                    let uuid = Identifier.uuid()
                    var instance = Instance(
                        uuid: uuid, name: maxCount > 1 ? "\(name)-\(index + 1)" : name, projectID: auth.projectID ?? "",
                        userID: auth.userID, flavor: flavor, imageRef: imageRef,
                        instanceName: Instance.name(template: instanceNameTemplate, uuid: uuid))
                    instance.availabilityZone = zone
                    instance.keyName = keyName
                    instance.metadata = finalMetadata
                    instance.userData = userData
                    try await servers.insert(instance, in: tx)
                    _ = try await servers.startAction(
                        "create", instance: instance, requestID: context.requestID, userID: auth.userID,
                        projectID: auth.projectID ?? "", in: tx)
                    // The build request commits with the instance: nothing is lost between them.
                    try await queue!.enqueue(topic: "conductor", payload: ["op": "build", "instance": .string(uuid)],
                                             requestID: context.requestID, in: tx)
                    created.append(instance)
                }
                return created
            }
            let first = created[0]
            return JSONResponse.make(status: .accepted, ["server": [
                "id": .string(first.uuid), "links": links("servers/\(first.uuid)"), "OS-DCF:diskConfig": "MANUAL",
                "security_groups": [["name": "default"]], "adminPass": .string(Identifier.keystone().prefix(12).description),
            ]], headers: [.location: root + "/servers/\(first.uuid)"])
        }
        router.get("compute/v2.1/servers") { request, context in
            let list = try await visibleServers(request, context)
            return JSONResponse.make(status: .ok, ["servers": .array(list.map { ["id": .string($0.uuid), "name": .string($0.name), "links": links("servers/\($0.uuid)")] })])
        }
        router.get("compute/v2.1/servers/detail") { request, context in
            let list = try await visibleServers(request, context)
            let auth = try context.requireAuth()
            return JSONResponse.make(status: .ok, ["servers": .array(list.map { serverJSON($0, context.microversion, admin: auth.isAdmin) })])
        }
        router.get("compute/v2.1/servers/:id") { _, context in
            let instance = try await ownedInstance(context)
            return JSONResponse.make(status: .ok, ["server": serverJSON(instance, context.microversion, admin: try context.requireAuth().isAdmin)])
        }
        router.delete("compute/v2.1/servers/:id") { _, context in
            let instance = try await ownedInstance(context)
            try await begin(.delete, instance, context)
            return JSONResponse.empty(.noContent)
        }
        router.post("compute/v2.1/servers/:id/action") { request, context in
            let instance = try await ownedInstance(context)
            let body = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            guard body.object.count == 1, let name = body.object.keys.first else {
                throw StratusError.badRequest("The action body must name exactly one action.")
            }
            switch name {
            case "os-stop": try await begin(.stop, instance, context)
            case "os-start": try await begin(.start, instance, context)
            case "reboot":
                let reboot = try body.fields("reboot", required: true)!
                let type = try reboot.requiredString("type").uppercased()
                guard type == "SOFT" || type == "HARD" else {
                    throw StratusError.badRequest("Invalid input for field/attribute type. Value: \(type). It must be one of SOFT, HARD.")
                }
                try await begin(type == "HARD" ? .rebootHard : .reboot, instance, context)
            default:
                throw StratusError.badRequest("Action \(name) is not supported.")
            }
            return JSONResponse.empty(.accepted)
        }
        router.get("compute/v2.1/servers/:id/os-instance-actions") { _, context in
            let instance = try await ownedInstance(context)
            let actions = try await servers.actions(instanceUUID: instance.uuid)
            return JSONResponse.make(status: .ok, ["instanceActions": .array(actions.map { actionJSON($0, context, events: false) })])
        }
        router.get("compute/v2.1/servers/:id/os-instance-actions/:request_id") { _, context in
            let instance = try await ownedInstance(context)
            let requestID = try context.parameters.require("request_id")
            guard let action = try await servers.actions(instanceUUID: instance.uuid).first(where: { $0.requestID == requestID }) else {
                throw StratusError.notFound("Action \(requestID) not found")
            }
            return JSONResponse.make(status: .ok, ["instanceAction": actionJSON(action, context, events: true)])
        }
    }

    /// Records the action and hands it to the conductor, refusing illegal transitions with Nova's 409.
    func begin(_ action: InstanceAction, _ instance: Instance, _ context: StratusRequestContext) async throws {
        let auth = try context.requireAuth()
        try await servers!.storage.transaction { tx in
            guard var current = try await servers!.instance(instance.uuid, in: tx), !current.deleted else {
                throw StratusError.notFound("Instance \(instance.uuid) could not be found.")
            }
            guard let task = action.begin(from: current.vmState, task: current.taskState) else {
                throw StratusError.conflict(
                    "Cannot '\(action.recordName)' instance \(current.uuid) while it is in vm_state \(current.vmState.rawValue)"
                        + (current.taskState.map { " and task_state \($0.rawValue)" } ?? ""))
            }
            current.taskState = task
            try await servers!.save(current, in: tx)
            _ = try await servers!.startAction(action.recordName, instance: current, requestID: context.requestID,
                                               userID: auth.userID, projectID: auth.projectID ?? "", in: tx)
            try await queue!.enqueue(
                topic: "conductor",
                payload: ["op": .string(action.recordName), "instance": .string(current.uuid),
                          "type": action == .rebootHard ? "HARD" : "SOFT"],
                requestID: context.requestID, in: tx)
        }
    }

    /// The instance, if the caller may see it: owners and admins; anyone else gets 404, as in Nova.
    func ownedInstance(_ context: StratusRequestContext) async throws -> Instance {
        let auth = try context.requireAuth()
        let id = try context.parameters.require("id")
        guard let instance = try await servers!.instance(id), !instance.deleted,
              auth.isAdmin || instance.projectID == auth.projectID else {
            throw StratusError.notFound("Instance \(id) could not be found.")
        }
        return instance
    }

    func visibleServers(_ request: Request, _ context: StratusRequestContext) async throws -> [Instance] {
        let auth = try context.requireAuth()
        let allProjects = auth.isAdmin && ["1", "true", "True"].contains(query(request, "all_tenants") ?? "")
        var list = try await servers!.list(projectID: allProjects ? nil : auth.projectID)
        if let name = query(request, "name") {
            let pattern = try? NSRegularExpression(pattern: name)
            list = list.filter { instance in
                pattern.map { $0.firstMatch(in: instance.name, range: NSRange(instance.name.startIndex..., in: instance.name)) != nil } ?? (instance.name == name)
            }
        }
        if let status = query(request, "status")?.uppercased() { list = list.filter { $0.status == status } }
        if let host = query(request, "host"), auth.isAdmin { list = list.filter { $0.host == host } }
        if let flavor = query(request, "flavor") { list = list.filter { $0.flavor.id == flavor } }
        if let marker = query(request, "marker") {
            guard let index = list.firstIndex(where: { $0.uuid == marker }) else { throw StratusError.badRequest("marker [\(marker)] not found") }
            list = Array(list[(index + 1)...])
        }
        if let text = query(request, "limit") {
            guard let limit = Int(text), limit >= 0 else { throw StratusError.badRequest("limit param must be an integer >= 0") }
            list = Array(list.prefix(limit))
        }
        return list
    }

    func serverJSON(_ instance: Instance, _ version: Microversion, admin: Bool) -> JSON {
        let hostID = instance.host.map { Self.hostID(project: instance.projectID, host: $0) } ?? ""
        var body: [String: JSON] = [
            "id": .string(instance.uuid), "name": .string(instance.name), "status": .string(instance.status),
            "tenant_id": .string(instance.projectID), "user_id": .string(instance.userID),
            "metadata": .object(instance.metadata.mapValues { .string($0) }), "hostId": .string(hostID),
            "image": ["id": .string(instance.imageRef), "links": [["rel": "bookmark", "href": .string(baseURL() + "/compute/images/" + instance.imageRef)]]],
            "created": .string(Clock.iso8601(instance.createdAt)), "updated": .string(Clock.iso8601(instance.updatedAt)),
            "addresses": [:], "accessIPv4": "", "accessIPv6": "", "links": links("servers/\(instance.uuid)"),
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
        if version.atLeast(2, 19) { body["description"] = nil }
        if version.atLeast(2, 26) { body["tags"] = [] }
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
