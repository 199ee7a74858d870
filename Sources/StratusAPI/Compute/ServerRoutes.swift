import Foundation
import Hummingbird
import StratusCompute
import StratusCore
import StratusIdentity
import StratusMessages
import StratusImage
import StratusNetwork
import StratusQueue
import StratusStorage

extension ComputeAPI {
    func registerServers(on router: PolicedRouter) {
        router.post("compute/v2.1/servers", .rule("os_compute_api:servers:create")) { request, context in
            let body = try await request.jsonObject(limit: bodyLimit)
            let created = try await createServers(body, context)
            let first = created[0]
            var reply: [String: JSON] = [
                "id": .string(first.uuid), "links": links("servers/\(first.uuid)"), "OS-DCF:diskConfig": "MANUAL",
                "security_groups": [["name": "default"]],
            ]
            if !context.microversion.atLeast(2, 99) { reply["adminPass"] = .string(Identifier.keystone().prefix(12).description) }
            return JSONResponse.make(status: .accepted, ["server": .object(reply)], headers: [.location: root + "/servers/\(first.uuid)"])
        }
        router.get("compute/v2.1/servers", .rule("os_compute_api:servers:index")) { request, context in
            let (list, next) = try await visibleServers(request, context, detail: false)
            var body: [String: JSON] = ["servers": .array(list.map { ["id": .string($0.uuid), "name": .string($0.name), "links": links("servers/\($0.uuid)")] })]
            if let next { body["servers_links"] = [["rel": "next", "href": .string(root + "/servers?" + next)]] }
            return JSONResponse.make(status: .ok, .object(body))
        }
        router.get("compute/v2.1/servers/detail", .rule("os_compute_api:servers:detail")) { request, context in
            let (list, next) = try await visibleServers(request, context, detail: true)
            let admin = try context.requireAuth().isAdmin
            let statuses = admin ? try await hostStatuses() : [:]
            let addresses = try await addresses(of: list)
            var body: [String: JSON] = ["servers": .array(list.map {
                serverJSON($0, context.microversion, admin: admin, hostStatus: statuses, addresses: addresses[$0.uuid] ?? [:])
            })]
            if let next { body["servers_links"] = [["rel": "next", "href": .string(root + "/servers/detail?" + next)]] }
            return JSONResponse.make(status: .ok, .object(body))
        }
        router.get("compute/v2.1/servers/:id", .rule("os_compute_api:servers:show")) { _, context in
            let instance = try await ownedInstance(context)
            let admin = try context.requireAuth().isAdmin
            return JSONResponse.make(status: .ok, ["server": serverJSON(
                instance, context.microversion, admin: admin, hostStatus: admin ? try await hostStatuses() : [:],
                addresses: try await addresses(of: [instance])[instance.uuid] ?? [:])])
        }
        router.put("compute/v2.1/servers/:id", .rule("os_compute_api:servers:update")) { request, context in
            let instance = try await ownedInstance(context)
            try requireWritable(instance, context)
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "server")
            try fields.rejectUnknown(context.microversion.atLeast(2, 19) ? ["name", "description", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig", "hostname"] : ["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"])
            let name = try fields.string("name")
            let description = try fields.string("description", maxLength: 255, allowEmpty: true, nullable: true)
            let clearDescription = fields.object["description"]?.isNull == true
            let updated = try await servers.storage.transaction { tx -> Instance in
                guard var current = try await servers.instance(instance.uuid, in: tx) else {
                    throw StratusError.notFound("Instance \(instance.uuid) could not be found.")
                }
                if let name { current.name = name }
                if let description { current.description = description }
                if clearDescription { current.description = nil }
                try await servers.save(current, in: tx)
                return current
            }
            return JSONResponse.make(status: .ok, ["server": serverJSON(updated, context.microversion, admin: try context.requireAuth().isAdmin)])
        }
        router.delete("compute/v2.1/servers/:id", .rule("os_compute_api:servers:delete")) { _, context in
            let instance = try await ownedInstance(context)
            try requireWritable(instance, context)
            try await begin(.delete, instance, context)
            return JSONResponse.empty(.noContent)
        }
    }

    /// Validates a create body, checks quota and group membership, and records the instances with their build
    /// messages in one transaction.
    func createServers(_ body: JSON, _ context: StratusRequestContext) async throws -> [Instance] {
        let auth = try context.requireAuth()
        let project = auth.projectID ?? ""
        let fields = try JSONFields(body: body, key: "server")
        let name = try fields.requiredString("name")
        let flavorRef = try fields.requiredString("flavorRef")
        let flavor: Flavor
        do { flavor = try await flavors.flavor(id: flavorRef) } catch {
            throw StratusError.badRequest("Flavor \(flavorRef) could not be found.")
        }
        let imageRef = try bootImage(fields)
        let image = try await bootableImage(imageRef, auth: auth, flavor: flavor)
        let minCount = try fields.int("min_count", range: 1...1000) ?? 1
        let maxCount = try fields.int("max_count", range: 1...1000) ?? minCount
        guard minCount <= maxCount else {
            throw StratusError.badRequest("min_count must be <= max_count")
        }
        let networks = try await requestedNetworks(fields, context, count: maxCount)
        var metadata: [String: String] = [:]
        if let meta = try fields.fields("metadata") {
            for (key, value) in meta.object {
                guard let text = value.stringValue, !key.isEmpty, key.count <= 255, text.count <= 255 else {
                    throw StratusError.badRequest("Invalid input for field/attribute metadata: keys and values are strings of 1 to 255 characters.")
                }
                metadata[key] = text
            }
        }
        let zone = try fields.string("availability_zone")?.split(separator: ":", maxSplits: 1).first.map(String.init)
        if let zone, !(try await knownZones().contains(zone)) {
            throw StratusError.badRequest("The requested availability zone is not available")
        }
        let keyName = try fields.string("key_name", nullable: true)
        if let keyName, try await keypairs.keypair(user: auth.userID, name: keyName) == nil {
            throw StratusError.badRequest("Invalid key_name provided.")
        }
        let userData = try fields.string("user_data", maxLength: 65535, nullable: true)
        if let userData, Data(base64Encoded: userData) == nil {
            throw StratusError.badRequest("Invalid input for field/attribute user_data. Value: user data must be base64 encoded.")
        }
        let description = context.microversion.atLeast(2, 19) ? try fields.string("description", allowEmpty: true, nullable: true) : nil
        let tags = context.microversion.atLeast(2, 52) ? try validTags(fields.stringArray("tags") ?? []) : []
        let hints = try schedulerHints(body)
        var group: ServerGroup?
        if let groupID = hints.group {
            guard let found = try await groups.group(groupID), auth.isAdmin || found.projectID == project else {
                throw StratusError.badRequest("Invalid input for field/attribute group. Value: \(groupID). Server group \(groupID) could not be found.")
            }
            group = found
        }
        let limits = try await quotas.limits(project: project)
        if let limit = limits["metadata_items"], limit >= 0, metadata.count > limit {
            throw StratusError.forbidden("Quota exceeded for metadata_items: Requested \(metadata.count), but the limit is \(limit)")
        }
        let prototype = (flavor: flavor, imageRef: imageRef, zone: zone, keyName: keyName, metadata: metadata, userData: userData,
                         description: description, tags: tags, hints: hints, imageProperties: image.properties)
        let judged = QuotaStore.judgesInstances(limits)
        return try await servers.storage.transaction { [group] tx -> [Instance] in
            let count = judged
                ? try await quotas.admitInstances(
                    project: project, minimum: minCount, wanted: maxCount, vcpus: flavor.vcpus, memoryMB: flavor.memoryMB, in: tx)
                : maxCount
            var created: [Instance] = []
            for index in 0..<count {
                let uuid = Identifier.uuid()
                var instance = Instance(
                    uuid: uuid, name: count > 1 ? "\(name)-\(index + 1)" : name, projectID: project, userID: auth.userID,
                    flavor: prototype.flavor, imageRef: prototype.imageRef, instanceName: Instance.name(template: instanceNameTemplate, uuid: uuid))
                instance.availabilityZone = prototype.zone
                instance.keyName = prototype.keyName
                instance.metadata = prototype.metadata
                instance.userData = prototype.userData
                instance.description = prototype.description
                instance.tags = prototype.tags
                instance.hints = prototype.hints
                instance.imageProperties = prototype.imageProperties
                instance.requestedNetworks = networks
                try await servers.insert(instance, in: tx)
                if let group { try await groups.addMember(uuid, group: group, quotas: quotas, in: tx) }
                _ = try await servers.startAction(
                    "create", instance: instance, requestID: context.requestID, userID: auth.userID, projectID: project, in: tx)
                // The build request commits with the instance: nothing is lost between them.
                try await queue.request(.build(InstanceRef(instanceUUID: uuid)), requestID: context.requestID, in: tx)
                created.append(instance)
            }
            if judged {
                try await quotas.recheckInstances(project: project, added: count, vcpus: flavor.vcpus, memoryMB: flavor.memoryMB, in: tx)
            }
            return created
        }
    }

    /// The image to boot: `imageRef`, or the image source of a local `block_device_mapping_v2` boot device.
    func bootImage(_ fields: JSONFields) throws -> String {
        if let mappings = fields.object["block_device_mapping_v2"]?.arrayValue, !mappings.isEmpty {
            for mapping in mappings {
                let device = try JSONFields(mapping, path: "block_device_mapping_v2")
                let source = try device.string("source_type") ?? "image"
                let destination = try device.string("destination_type") ?? "local"
                guard destination == "local" else {
                    throw StratusError.badRequest("Block device mapping is invalid: destination_type volume needs the volume service, which Stratus does not have.")
                }
                if source == "image", let uuid = try device.string("uuid") { return uuid }
                if source != "blank" && source != "image" {
                    throw StratusError.badRequest("Block device mapping is invalid: source_type \(source) is not supported.")
                }
            }
        }
        guard let imageRef = try fields.string("imageRef", allowEmpty: true), !imageRef.isEmpty else {
            throw StratusError.badRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid. imageRef is required.")
        }
        return imageRef
    }

    /// The image to boot, if the caller may use it and the flavor is big enough for it (Nova's checks).
    func bootableImage(_ id: String, auth: AuthContext, flavor: Flavor) async throws -> Image {
        guard let image = try await images.image(id, visibleTo: auth.projectID, admin: auth.isAdmin) else {
            throw StratusError.badRequest("Image \(id) could not be found.")
        }
        guard image.status == .active else { throw StratusError.badRequest("Image \(id) is not active.") }
        if flavor.memoryMB < image.minRAM { throw StratusError.badRequest("Flavor's memory is too small for requested image.") }
        if flavor.rootGB > 0 {
            let sizeGB = ((image.size ?? 0) + (1 << 30) - 1) >> 30  // Nova compares the stored size; virtual size is the driver's
            if flavor.rootGB < image.minDisk || flavor.rootGB < sizeGB {
                throw StratusError.badRequest("Flavor's disk is too small for requested image. Flavor disk is \(flavor.rootGB) GB; the image needs \(max(image.minDisk, sizeGB)) GB.")
            }
        }
        return image
    }

    /// The create's `networks`: `none`, `auto` (the project's only usable network, or a clear 400), or a list of
    /// `{uuid[, fixed_ip]}` / `{port}` — each checked against the network service now, so a bad request is a 400
    /// and never a failed build.
    func requestedNetworks(_ fields: JSONFields, _ context: StratusRequestContext, count: Int) async throws -> [RequestedNetwork] {
        let auth = try context.requireAuth()
        let networks = fields.object["networks"]
        if context.microversion.atLeast(2, 37), networks == nil {
            throw StratusError.badRequest("Invalid input for field/attribute server. Value: 'networks' is a required property.")
        }
        // Read only when a network is to be chosen or checked.
        func usableNetworks() async throws -> [Network] {
            try await network.networks().filter { !$0.external && ($0.shared || $0.projectID == auth.projectID || auth.isAdmin) }
        }
        switch networks {
        case nil, .string("none")?: return []
        case .array(let items)? where items.isEmpty: return []
        case .string("auto")?:
            let usable = try await usableNetworks()
            let own = usable.filter { $0.projectID == auth.projectID }
            let candidates = own.count == 1 ? own : usable
            guard candidates.count == 1 else {
                throw StratusError.badRequest("Unable to automatically allocate a network for project \(auth.projectID ?? ""): \(candidates.count) networks are available; name one with networks: [{\"uuid\": …}].")
            }
            return [RequestedNetwork(networkID: candidates[0].id)]
        case .array(let items)?:
            let usable = try await usableNetworks()
            var result: [RequestedNetwork] = []
            for item in items { result.append(try await requestedNetwork(item, usable: usable, auth: auth, count: count)) }
            return result
        default:
            throw StratusError.badRequest("Invalid input for field/attribute networks: use \"none\", \"auto\" or a list of {\"uuid\"} / {\"port\"} objects.")
        }
    }

    func requestedNetwork(_ item: JSON, usable: [Network], auth: AuthContext, count: Int) async throws -> RequestedNetwork {
        let entry = try JSONFields(item, path: "networks")
        try entry.rejectUnknown(["uuid", "port", "fixed_ip", "tag"])
        if let portID = try entry.string("port") {
            guard count == 1 else { throw StratusError.badRequest("Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.") }
            guard let port = try await network.port(portID), auth.isAdmin || port.projectID == auth.projectID else {
                throw StratusError.badRequest("Port id \(portID) could not be found.")
            }
            guard port.deviceID.isEmpty else { throw StratusError.conflict("Port \(portID) is still in use.") }
            return RequestedNetwork(portID: portID)
        }
        let id = try entry.requiredString("uuid")
        var known = usable.contains { $0.id == id }
        if !known, auth.isAdmin { known = try await network.network(id) != nil }
        guard known else {
            throw StratusError.badRequest("Network \(id) could not be found.")
        }
        let fixedIP = try entry.string("fixed_ip")
        if let fixedIP {
            guard let address = IPv4(fixedIP) else { throw StratusError.badRequest("Invalid fixed IP address (\(fixedIP))") }
            guard count == 1 else { throw StratusError.badRequest("max_count cannot be greater than 1 if a fixed_ip is specified.") }
            guard try await network.subnets(network: id).contains(where: { $0.cidr.contains(address) }) else {
                throw StratusError.badRequest("Fixed IP address \(fixedIP) is not valid on network \(id).")
            }
        }
        return RequestedNetwork(networkID: id, fixedIP: fixedIP)
    }

    /// `os:scheduler_hints` (or the legacy `OS-SCH-HNT:scheduler_hints`), outside the `server` object.
    func schedulerHints(_ body: JSON) throws -> SchedulerHints {
        guard let raw = body["os:scheduler_hints"] ?? body["OS-SCH-HNT:scheduler_hints"], !raw.isNull else { return SchedulerHints() }
        let fields = try JSONFields(raw, path: "os:scheduler_hints")
        func uuids(_ key: String) throws -> [String] {
            switch fields.object[key] {
            case nil: return []
            case .string(let one)?: return [one]
            case .array(let many)?:
                return try many.map {
                    guard let text = $0.stringValue else { throw StratusError.badRequest("Invalid input for field/attribute \(key): expected server UUIDs.") }
                    return text
                }
            default: throw StratusError.badRequest("Invalid input for field/attribute \(key): expected server UUIDs.")
            }
        }
        let group: String?
        switch fields.object["group"] {
        case .string(let id)?: group = id
        case .array(let ids)? where ids.count == 1: group = ids[0].stringValue
        case nil: group = nil
        default: throw StratusError.badRequest("Invalid input for field/attribute group: expected one server group UUID.")
        }
        return SchedulerHints(group: group, sameHost: try uuids("same_host"), differentHost: try uuids("different_host"))
    }

    /// Zones a server may ask for: `nova`, every service's zone and every aggregate's.
    func knownZones() async throws -> Set<String> {
        var zones: Set<String> = ["nova"]
        zones.formUnion(try await hostStore.services().map(\.zone))
        zones.formUnion(try await aggregates.all().compactMap(\.availabilityZone))
        return zones
    }

    /// The instance, if the caller may see it: owners and admins; anyone else gets 404, as in Nova.
    func ownedInstance(_ context: StratusRequestContext) async throws -> Instance {
        let auth = try context.requireAuth()
        let id = try context.parameters.require("id")
        guard let instance = try await servers.instance(id), !instance.deleted,
              auth.isAdmin || instance.projectID == auth.projectID else {
            throw StratusError.notFound("Instance \(id) could not be found.")
        }
        return instance
    }

    /// Readers may look, not act; a locked instance refuses everyone but admins (Nova's 409 `InstanceIsLocked`).
    /// A locked server refuses changes except from admins (who may act on it is the route's rule).
    /// Nova's 409 for an action the instance's states forbid.
    static func invalidState(_ action: String, _ instance: Instance) -> StratusError {
        .conflict("Cannot '\(action)' instance \(instance.uuid) while it is in vm_state \(instance.vmState.rawValue)"
            + (instance.taskState.map { " and task_state \($0.rawValue)" } ?? ""))
    }

    func requireWritable(_ instance: Instance, _ context: StratusRequestContext) throws {
        let auth = try context.requireAuth()
        if instance.locked, !auth.isAdmin {
            throw StratusError.conflict("Instance \(instance.uuid) is locked")
        }
    }
}
