import Hummingbird
import StratusCompute
import StratusCore
import StratusStorage

/// Server metadata (`/servers/{id}/metadata`) and tags (`/servers/{id}/tags`, microversion 2.26).
extension ComputeAPI {
    static let maxTags = 50

    func registerServerMetadata(on router: PolicedRouter) {
        router.get("compute/v2.1/servers/:id/metadata", .rule("os_compute_api:server-metadata:index")) { _, context in
            let instance = try await ownedInstance(context)
            return JSONResponse.make(status: .ok, ["metadata": .object(instance.metadata.mapValues { .string($0) })])
        }
        // POST merges, PUT replaces.
        for (method, replace) in [(HTTPRequest.Method.post, false), (.put, true)] {
            router.on("compute/v2.1/servers/:id/metadata", method: method, .rule(replace ? "os_compute_api:server-metadata:update_all" : "os_compute_api:server-metadata:create")) { request, context in
                let body = try await request.jsonObject(limit: bodyLimit)
                let items = try metadataItems(body["metadata"], key: "metadata")
                let updated = try await changeMetadata(context) { current in
                    if replace { current = [:] }
                    current.merge(items) { _, new in new }
                }
                return JSONResponse.make(status: .ok, ["metadata": .object(updated.metadata.mapValues { .string($0) })])
            }
        }
        router.get("compute/v2.1/servers/:id/metadata/:key", .rule("os_compute_api:server-metadata:show")) { _, context in
            let instance = try await ownedInstance(context)
            let key = try context.parameters.require("key")
            guard let value = instance.metadata[key] else { throw StratusError.notFound("Metadata item was not found") }
            return JSONResponse.make(status: .ok, ["meta": [key: .string(value)]])
        }
        router.put("compute/v2.1/servers/:id/metadata/:key", .rule("os_compute_api:server-metadata:update")) { request, context in
            let key = try context.parameters.require("key")
            let body = try await request.jsonObject(limit: bodyLimit)
            let items = try metadataItems(body["meta"], key: "meta")
            guard items.count == 1, let value = items[key] else {
                throw StratusError.badRequest("Request body and URI mismatch: the body must hold exactly the key \(key).")
            }
            _ = try await changeMetadata(context) { $0[key] = value }
            return JSONResponse.make(status: .ok, ["meta": [key: .string(value)]])
        }
        router.delete("compute/v2.1/servers/:id/metadata/:key", .rule("os_compute_api:server-metadata:delete")) { _, context in
            let key = try context.parameters.require("key")
            _ = try await changeMetadata(context) { current in
                guard current.removeValue(forKey: key) != nil else { throw StratusError.notFound("Metadata item was not found") }
            }
            return JSONResponse.empty(.noContent)
        }

        router.get("compute/v2.1/servers/:id/tags", .rule("os_compute_api:os-server-tags:index")) { _, context in
            try requireMicroversion(context, 2, 26)
            let instance = try await ownedInstance(context)
            return JSONResponse.make(status: .ok, ["tags": .array(instance.tags.map { .string($0) })])
        }
        router.put("compute/v2.1/servers/:id/tags", .rule("os_compute_api:os-server-tags:update_all")) { request, context in
            try requireMicroversion(context, 2, 26)
            let fields = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            let tags = try validTags(try fields.stringArray("tags", required: true) ?? [])
            let updated = try await changeInstance(context) { $0.tags = tags }
            return JSONResponse.make(status: .ok, ["tags": .array(updated.tags.map { .string($0) })])
        }
        router.delete("compute/v2.1/servers/:id/tags", .rule("os_compute_api:os-server-tags:delete_all")) { _, context in
            try requireMicroversion(context, 2, 26)
            _ = try await changeInstance(context) { $0.tags = [] }
            return JSONResponse.empty(.noContent)
        }
        router.get("compute/v2.1/servers/:id/tags/:tag", .rule("os_compute_api:os-server-tags:show")) { _, context in
            try requireMicroversion(context, 2, 26)
            let instance = try await ownedInstance(context)
            guard instance.tags.contains(try context.parameters.require("tag")) else {
                throw StratusError.notFound("Tag not found on instance \(instance.uuid)")
            }
            return JSONResponse.empty(.noContent)
        }
        router.put("compute/v2.1/servers/:id/tags/:tag", .rule("os_compute_api:os-server-tags:update")) { _, context in
            try requireMicroversion(context, 2, 26)
            let tag = try validTags([try context.parameters.require("tag")])[0]
            let added = !(try await ownedInstance(context).tags.contains(tag))
            _ = try await changeInstance(context) { instance in
                guard !instance.tags.contains(tag) else { return }
                guard instance.tags.count < Self.maxTags else {
                    throw StratusError.badRequest("Instance has reached the maximum number of tags (\(Self.maxTags)).")
                }
                instance.tags.append(tag)
            }
            return JSONResponse.empty(added ? .created : .noContent, headers: [.location: root + "/servers/\(try context.parameters.require("id"))/tags/\(tag)"])
        }
        router.delete("compute/v2.1/servers/:id/tags/:tag", .rule("os_compute_api:os-server-tags:delete")) { _, context in
            try requireMicroversion(context, 2, 26)
            let tag = try context.parameters.require("tag")
            _ = try await changeInstance(context) { instance in
                guard let index = instance.tags.firstIndex(of: tag) else { throw StratusError.notFound("Tag \(tag) not found") }
                instance.tags.remove(at: index)
            }
            return JSONResponse.empty(.noContent)
        }
    }

    func requireMicroversion(_ context: StratusRequestContext, _ major: Int, _ minor: Int) throws {
        guard context.microversion.atLeast(major, minor) else {
            throw StratusError.notFound("The resource could not be found (it needs microversion \(major).\(minor)).")
        }
    }

    /// Nova's tag rules: at most 50, each 1–60 characters without `/` or `,`, duplicates folded.
    func validTags(_ tags: [String]) throws -> [String] {
        var result: [String] = []
        for tag in tags {
            guard !tag.isEmpty, tag.count <= 60, !tag.contains("/"), !tag.contains(",") else {
                throw StratusError.badRequest("Invalid input for field/attribute tags. Value: \(tag). Tags are 1 to 60 characters without '/' or ','.")
            }
            if !result.contains(tag) { result.append(tag) }
        }
        guard result.count <= Self.maxTags else {
            throw StratusError.badRequest("Invalid input for field/attribute tags: at most \(Self.maxTags) tags.")
        }
        return result
    }

    func metadataItems(_ value: JSON?, key: String) throws -> [String: String] {
        guard case .object(let items)? = value else {
            throw StratusError.badRequest("Malformed request body: '\(key)' must be an object.")
        }
        return try items.mapValues { value in
            guard let text = value.stringValue, text.count <= 255 else {
                throw StratusError.badRequest("Invalid input for field/attribute \(key): values are strings of at most 255 characters.")
            }
            return text
        }.filter { key, _ in
            guard !key.isEmpty, key.count <= 255 else { return false }
            return true
        }
    }

    /// Changes metadata under the instance's row, within the `metadata_items` quota.
    func changeMetadata(_ context: StratusRequestContext, _ change: @Sendable @escaping (inout [String: String]) throws -> Void) async throws -> Instance {
        let instance = try await ownedInstance(context)
        let limit = try await quotas.limits(project: instance.projectID)["metadata_items"] ?? -1
        return try await changeInstance(context) { current in
            try change(&current.metadata)
            if limit >= 0, current.metadata.count > limit {
                throw StratusError.forbidden("Quota exceeded for metadata_items: Requested \(current.metadata.count), but the limit is \(limit)")
            }
        }
    }

    /// Reads, changes and saves one instance the caller may write, in one transaction.
    func changeInstance(_ context: StratusRequestContext, _ change: @Sendable @escaping (inout Instance) throws -> Void) async throws -> Instance {
        let instance = try await ownedInstance(context)
        try requireWritable(instance, context)
        return try await servers.storage.transaction { tx in
            guard var current = try await servers.instance(instance.uuid, in: tx), !current.deleted else {
                throw StratusError.notFound("Instance \(instance.uuid) could not be found.")
            }
            try change(&current)
            try await servers.save(current, in: tx)
            return current
        }
    }
}
