import Hummingbird
import StratusCompute
import StratusCore

extension ComputeAPI {
    func registerFlavors(on router: PolicedRouter) {
        router.get("compute/v2.1/flavors", .rule("os_compute_api:flavors:index")) { request, context in
            let visible = try await visibleFlavors(request, context)
            let list: [JSON] = visible.map { flavor in
                var entry: [String: JSON] = ["id": .string(flavor.id), "name": .string(flavor.name), "links": links("flavors/\(flavor.id)")]
                if context.microversion.atLeast(2, 55) { entry["description"] = .optional(flavor.description) }
                return .object(entry)
            }
            return JSONResponse.make(status: .ok, ["flavors": .array(list)])
        }
        router.get("compute/v2.1/flavors/detail", .rule("os_compute_api:flavors:index")) { request, context in
            let visible = try await visibleFlavors(request, context)
            return JSONResponse.make(status: .ok, ["flavors": .array(visible.map { flavorJSON($0, context.microversion) })])
        }
        router.get("compute/v2.1/flavors/:id", .rule("os_compute_api:flavors:show")) { _, context in
            _ = try context.requireAuth()
            let flavor = try await flavors.flavor(id: try context.parameters.require("id"))
            return JSONResponse.make(status: .ok, ["flavor": flavorJSON(flavor, context.microversion)])
        }
        router.post("compute/v2.1/flavors", .rule("os_compute_api:os-flavor-manage:create")) { request, context in
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "flavor")
            var allowed: Set<String> = ["name", "ram", "vcpus", "disk", "id", "OS-FLV-EXT-DATA:ephemeral", "swap",
                                        "rxtx_factor", "os-flavor-access:is_public"]
            if context.microversion.atLeast(2, 55) { allowed.insert("description") }
            try fields.rejectUnknown(allowed)
            let name = try fields.requiredString("name")
            guard name.trimmingCharacters(in: .whitespaces) == name else {
                throw StratusError.badRequest("Invalid input for field/attribute name. Value: '\(name)'. It has leading or trailing whitespace.")
            }
            var id = Identifier.uuid()
            if let given = fields.object["id"], !given.isNull, given != "auto" {
                guard let text = given.stringValue ?? given.intValue.map(String.init), !text.isEmpty, text.count <= 255,
                      !text.contains("/") else {
                    throw StratusError.badRequest("Invalid input for field/attribute id: it must be a string of 1-255 characters without '/'.")
                }
                id = text
            }
            var flavor = Flavor(
                id: id, name: name, memoryMB: try number(fields, "ram", min: 1)!, vcpus: try number(fields, "vcpus", min: 1)!,
                rootGB: try number(fields, "disk", min: 0)!)
            flavor.ephemeralGB = try number(fields, "OS-FLV-EXT-DATA:ephemeral", min: 0, required: false) ?? 0
            flavor.swapMB = try number(fields, "swap", min: 0, required: false) ?? 0
            if let factor = try fields.double("rxtx_factor") {
                guard factor > 0 else { throw StratusError.badRequest("Invalid input for field/attribute rxtx_factor. Value: \(factor). It must be greater than 0.") }
                flavor.rxtxFactor = factor
            }
            flavor.isPublic = try fields.bool("os-flavor-access:is_public") ?? true
            flavor.description = try fields.string("description", maxLength: 65535, allowEmpty: true, nullable: true)
            let created = try await flavors.create(flavor)
            return JSONResponse.make(status: .ok, ["flavor": flavorJSON(created, context.microversion)])
        }
        router.put("compute/v2.1/flavors/:id", .rule("os_compute_api:os-flavor-manage:update")) { request, context in
            guard context.microversion.atLeast(2, 55) else { throw StratusError(.methodNotAllowed, "Updating a flavor needs microversion 2.55.") }
            let fields = try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "flavor")
            try fields.rejectUnknown(["description"])
            guard fields.has("description") else { throw StratusError.badRequest("Invalid input for field/attribute flavor: 'description' is a required property.") }
            let updated = try await flavors.update(
                id: try context.parameters.require("id"),
                description: try fields.string("description", maxLength: 65535, allowEmpty: true, nullable: true))
            return JSONResponse.make(status: .ok, ["flavor": flavorJSON(updated, context.microversion)])
        }
        router.delete("compute/v2.1/flavors/:id", .rule("os_compute_api:os-flavor-manage:delete")) { _, context in
            try await flavors.delete(id: try context.parameters.require("id"))
            return JSONResponse.empty(.accepted)
        }
        registerFlavorExtras(on: router)
    }

    func registerFlavorExtras(on router: PolicedRouter) {
        router.get("compute/v2.1/flavors/:id/os-extra_specs", .rule("os_compute_api:os-flavor-extra-specs:index")) { _, context in
            _ = try context.requireAuth()
            let flavor = try await flavors.flavor(id: try context.parameters.require("id"))
            return JSONResponse.make(status: .ok, ["extra_specs": .object(flavor.extraSpecs.mapValues { .string($0) })])
        }
        router.post("compute/v2.1/flavors/:id/os-extra_specs", .rule("os_compute_api:os-flavor-extra-specs:create")) { request, context in
            let specs = try extraSpecs(try JSONFields(body: try await request.jsonObject(limit: bodyLimit), key: "extra_specs"))
            try await flavors.setExtraSpecs(id: try context.parameters.require("id"), specs)
            return JSONResponse.make(status: .ok, ["extra_specs": .object(specs.mapValues { .string($0) })])
        }
        router.get("compute/v2.1/flavors/:id/os-extra_specs/:key", .rule("os_compute_api:os-flavor-extra-specs:show")) { _, context in
            _ = try context.requireAuth()
            let key = try context.parameters.require("key")
            let flavor = try await flavors.flavor(id: try context.parameters.require("id"))
            guard let value = flavor.extraSpecs[key] else { throw StratusError.notFound("Flavor \(flavor.id) has no extra specs with key \(key).") }
            return JSONResponse.make(status: .ok, [key: .string(value)])
        }
        router.put("compute/v2.1/flavors/:id/os-extra_specs/:key", .rule("os_compute_api:os-flavor-extra-specs:update")) { request, context in
            let key = try context.parameters.require("key")
            let body = try await request.jsonObject(limit: bodyLimit)
            let specs = try extraSpecs(try JSONFields(body, path: ""))
            guard specs.count == 1, specs[key] != nil else {
                throw StratusError.badRequest("The request body must contain exactly the key in the URI, '\(key)'.")
            }
            try await flavors.setExtraSpecs(id: try context.parameters.require("id"), specs)
            return JSONResponse.make(status: .ok, body)
        }
        router.delete("compute/v2.1/flavors/:id/os-extra_specs/:key", .rule("os_compute_api:os-flavor-extra-specs:delete")) { _, context in
            try await flavors.deleteExtraSpec(id: try context.parameters.require("id"), key: try context.parameters.require("key"))
            return JSONResponse.empty(.ok)
        }
        router.get("compute/v2.1/flavors/:id/os-flavor-access", .rule("os_compute_api:os-flavor-access")) { _, context in
            let id = try context.parameters.require("id")
            let flavor = try await flavors.flavor(id: id)
            guard !flavor.isPublic else { throw StratusError.notFound("Access list not available for public flavors.") }
            return JSONResponse.make(status: .ok, ["flavor_access": .array(try await flavors.projects(flavorID: id).map {
                ["flavor_id": .string(id), "tenant_id": .string($0)]
            })])
        }
        router.post("compute/v2.1/flavors/:id/action", .action(["addTenantAccess": "os_compute_api:os-flavor-access:add_tenant_access", "removeTenantAccess": "os_compute_api:os-flavor-access:remove_tenant_access"])) { request, context in
            let id = try context.parameters.require("id")
            let body = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            if let add = try body.fields("addTenantAccess") {
                try await flavors.addAccess(flavorID: id, projectID: try add.requiredString("tenant"))
            } else if let remove = try body.fields("removeTenantAccess") {
                try await flavors.removeAccess(flavorID: id, projectID: try remove.requiredString("tenant"))
            } else {
                throw StratusError.badRequest("Unknown flavor action: expected addTenantAccess or removeTenantAccess.")
            }
            return JSONResponse.make(status: .ok, ["flavor_access": .array(try await flavors.projects(flavorID: id).map {
                ["flavor_id": .string(id), "tenant_id": .string($0)]
            })])
        }
    }

    /// Flavors the caller may see, filtered as Nova's list does (`is_public`, `minRam`, `minDisk`), sorted by
    /// `sort_key`/`sort_dir` (default flavorid asc), paged by `marker`/`limit`.
    func visibleFlavors(_ request: Request, _ context: StratusRequestContext) async throws -> [Flavor] {
        let auth = try context.requireAuth()
        var all = try await flavors.all()
        let publicFilter = query(request, "is_public")?.lowercased()
        if auth.isAdmin {
            switch publicFilter {
            case nil, "true", "1", "yes": all = all.filter(\.isPublic)
            case "false", "0", "no": all = all.filter { !$0.isPublic }
            case "none": break
            default: throw StratusError.badRequest("Invalid is_public filter [\(publicFilter!)]")
            }
        } else {
            var allowed: [Flavor] = []
            for flavor in all {
                if flavor.isPublic { allowed.append(flavor); continue }
                if let project = auth.projectID, try await flavors.projects(flavorID: flavor.id).contains(project) { allowed.append(flavor) }
            }
            all = allowed
        }
        if let text = query(request, "minRam") {
            guard let min = Int(text) else { throw StratusError.badRequest("Invalid minRam filter [\(text)]") }
            all = all.filter { $0.memoryMB >= min }
        }
        if let text = query(request, "minDisk") {
            guard let min = Int(text) else { throw StratusError.badRequest("Invalid minDisk filter [\(text)]") }
            all = all.filter { $0.rootGB >= min }
        }
        let key = query(request, "sort_key") ?? "flavorid"
        let ascending = (query(request, "sort_dir") ?? "asc") != "desc"
        let sorters: [String: (Flavor, Flavor) -> Bool] = [
            "flavorid": { $0.id < $1.id }, "id": { $0.id < $1.id }, "name": { $0.name < $1.name },
            "memory_mb": { $0.memoryMB < $1.memoryMB }, "vcpus": { $0.vcpus < $1.vcpus }, "root_gb": { $0.rootGB < $1.rootGB },
        ]
        guard let sorter = sorters[key] else { throw StratusError.badRequest("Invalid sort_key: \(key)") }
        all.sort { ascending ? sorter($0, $1) : sorter($1, $0) }
        if let marker = query(request, "marker") {
            guard let index = all.firstIndex(where: { $0.id == marker }) else { throw StratusError.badRequest("marker [\(marker)] not found") }
            all = Array(all[(index + 1)...])
        }
        if let text = query(request, "limit") {
            guard let limit = Int(text), limit >= 0 else { throw StratusError.badRequest("limit param must be an integer >= 0") }
            all = Array(all.prefix(limit))
        }
        return all
    }

    func flavorJSON(_ flavor: Flavor, _ version: Microversion) -> JSON {
        var body: [String: JSON] = [
            "id": .string(flavor.id), "name": .string(flavor.name), "ram": .int(flavor.memoryMB), "vcpus": .int(flavor.vcpus),
            "disk": .int(flavor.rootGB), "OS-FLV-EXT-DATA:ephemeral": .int(flavor.ephemeralGB),
            "OS-FLV-DISABLED:disabled": .bool(flavor.disabled), "rxtx_factor": .number(flavor.rxtxFactor),
            "os-flavor-access:is_public": .bool(flavor.isPublic), "links": links("flavors/\(flavor.id)"),
            // Nova shows no swap as "" until 2.75, then as 0.
            "swap": flavor.swapMB == 0 && !version.atLeast(2, 75) ? "" : .int(flavor.swapMB),
        ]
        if version.atLeast(2, 55) { body["description"] = .optional(flavor.description) }
        if version.atLeast(2, 61) { body["extra_specs"] = .object(flavor.extraSpecs.mapValues { .string($0) }) }
        return .object(body)
    }

    /// Accepts an integer or a numeric string, as Nova's flavor schema does.
    func number(_ fields: JSONFields, _ key: String, min: Int, required: Bool = true) throws -> Int? {
        guard let value = fields.object[key] else {
            if required { throw StratusError.badRequest("Invalid input for field/attribute flavor. Value: '\(key)' is a required property.") }
            return nil
        }
        let parsed = value.intValue ?? value.stringValue.flatMap { Int($0) }
        guard let parsed, parsed >= min, parsed <= Int(Int32.max) else {
            throw StratusError.badRequest("Invalid input for field/attribute \(key). Value: \(value.encodedString()). It must be an integer of at least \(min).")
        }
        return parsed
    }

    func extraSpecs(_ fields: JSONFields) throws -> [String: String] {
        var specs: [String: String] = [:]
        for (key, value) in fields.object {
            guard !key.isEmpty, key.count <= 255 else { throw StratusError.badRequest("Invalid extra spec key '\(key)'.") }
            guard let text = value.stringValue ?? value.intValue.map(String.init) ?? value.boolValue.map({ $0 ? "true" : "false" }),
                  text.count <= 255 else {
                throw StratusError.badRequest("Invalid input for field/attribute extra_specs: value of '\(key)' must be a string of at most 255 characters.")
            }
            specs[key] = text
        }
        return specs
    }
}
