import Foundation
import Hummingbird
import StratusCore
import StratusIdentity
import StratusImage

extension ImageAPI {
    func registerImages(on router: PolicedRouter) {
        router.post("image/v2/images", .rule("add_image")) { request, context in
            let auth = try context.requireAuth()
            let body = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            var image = Image(id: try body.string("id") ?? Identifier.uuid(), owner: auth.projectID ?? "")
            guard UUID(uuidString: image.id) != nil else { throw StratusError.badRequest("id \(image.id) is not a valid UUID") }
            for (key, value) in body.object where key != "id" { try apply(key, value, to: &image, auth: auth, creating: true) }
            try await store.create(image)
            return JSONResponse.make(status: .created, imageJSON(image), headers: [.location: baseURL() + "/image/v2/images/\(image.id)"])
        }
        router.get("image/v2/images", .rule("get_images")) { request, context in
            try await listImages(request, context)
        }
        router.get("image/v2/images/:id", .rule("get_image")) { _, context in
            JSONResponse.make(status: .ok, imageJSON(try await visibleImage(context)))
        }
        router.patch("image/v2/images/:id", .rule("modify_image")) { request, context in
            let contentType = request.headers[.contentType] ?? ""
            guard contentType.hasPrefix("application/openstack-images-v2.1-json-patch") || contentType.hasPrefix("application/openstack-images-v2.0-json-patch") else {
                throw StratusError(.init(status: 415, faultName: "unsupportedMediaType", title: "Unsupported Media Type"),
                                   "Unsupported Content-Type: use application/openstack-images-v2.1-json-patch")
            }
            var image = try await ownedImage(context)
            let auth = try context.requireAuth()
            guard case .array(let operations) = try await request.jsonValue(limit: bodyLimit) else {
                throw StratusError.badRequest("Request body must be a JSON array of operation objects.")
            }
            for raw in operations { try patch(raw, &image, auth: auth) }
            try await store.save(image)
            return JSONResponse.make(status: .ok, imageJSON(try await store.image(image.id) ?? image))
        }
        router.delete("image/v2/images/:id", .rule("delete_image")) { _, context in
            let image = try await ownedImage(context)
            guard !image.protected else { throw StratusError.forbidden("Image \(image.id) is protected and cannot be deleted.") }
            try await store.delete(image.id)
            files.remove(image.id)
            return JSONResponse.empty(.noContent)
        }
        for (action, from, to) in [("deactivate", Image.Status.active, Image.Status.deactivated), ("reactivate", .deactivated, .active)] {
            router.post("image/v2/images/:id/actions/\(action)", .rule(action)) { _, context in
                let image = try await ownedImage(context)
                if image.status == to { return JSONResponse.empty(.noContent) }
                guard try await store.transition(image.id, from: [from], to: to) else {
                    throw StratusError.badRequest("Not allowed to \(action) an image in status '\(image.status.rawValue)'")
                }
                return JSONResponse.empty(.noContent)
            }
        }
        router.put("image/v2/images/:id/tags/:tag", .rule("modify_image")) { _, context in
            var image = try await ownedImage(context)
            let tag = try context.parameters.require("tag")
            guard tag.count <= 255 else { throw StratusError.badRequest("Tag is longer than 255 characters.") }
            if !image.tags.contains(tag) {
                guard image.tags.count < 128 else { throw StratusError(.requestEntityTooLarge, "Maximum number of tags (128) exceeded.") }
                image.tags.append(tag)
                try await store.save(image)
            }
            return JSONResponse.empty(.noContent)
        }
        router.delete("image/v2/images/:id/tags/:tag", .rule("modify_image")) { _, context in
            var image = try await ownedImage(context)
            let tag = try context.parameters.require("tag")
            guard let index = image.tags.firstIndex(of: tag) else { throw StratusError.notFound("Tag \(tag) not found") }
            image.tags.remove(at: index)
            try await store.save(image)
            return JSONResponse.empty(.noContent)
        }
    }

    /// One attribute from a create body or a patch, validated as Glance does.
    func apply(_ key: String, _ value: JSON, to image: inout Image, auth: AuthContext, creating: Bool) throws {
        if Image.readOnly.contains(key) { throw StratusError.forbidden("Attribute '\(key)' is read-only.") }
        func string() throws -> String? {
            if value.isNull { return nil }
            guard let text = value.stringValue, text.count <= 255 else {
                throw StratusError.badRequest("Invalid value for '\(key)': expected a string of at most 255 characters.")
            }
            return text
        }
        func int() throws -> Int {
            guard let number = value.intValue, number >= 0, number <= Int(Int32.max) else {
                throw StratusError.badRequest("Invalid value for '\(key)': expected a non-negative integer.")
            }
            return number
        }
        func bool() throws -> Bool {
            guard let flag = value.boolValue else { throw StratusError.badRequest("Invalid value for '\(key)': expected a boolean.") }
            return flag
        }
        switch key {
        case "name": image.name = try string()
        case "visibility":
            guard let visibility = try string(), Image.visibilities.contains(visibility) else {
                throw StratusError.badRequest("Invalid visibility value: \(value.encodedString())")
            }
            if visibility == "public" && !auth.isAdmin {
                throw StratusError.forbidden("You are not authorized to complete publicize_image action.")
            }
            image.visibility = visibility
        case "protected": image.protected = try bool()
        case "os_hidden": image.hidden = try bool()
        case "disk_format", "container_format":
            let allowed = key == "disk_format" ? Image.diskFormats : Image.containerFormats
            let format = try string()
            if let format, !allowed.contains(format) {
                throw StratusError.badRequest("Invalid value '\(format)' for '\(key)': one of \(allowed.joined(separator: ", ")).")
            }
            guard creating || image.status == .queued else {
                throw StratusError.forbidden("Attribute \(key) can be only replaced for a queued image.")
            }
            if key == "disk_format" { image.diskFormat = format } else { image.containerFormat = format }
        case "min_disk": image.minDisk = try int()
        case "min_ram": image.minRAM = try int()
        case "owner":
            guard auth.isAdmin else { throw StratusError.forbidden("Attribute 'owner' is reserved.") }
            image.owner = try string() ?? image.owner
        case "tags":
            guard let tags = value.arrayValue?.compactMap(\.stringValue), tags.count == value.arrayValue?.count else {
                throw StratusError.badRequest("Invalid value for 'tags': expected a list of strings.")
            }
            image.tags = tags.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        default:
            guard let text = value.stringValue, key.count <= 255, text.count <= 65535 else {
                throw StratusError.badRequest("Invalid value for property '\(key)': extra properties are strings.")
            }
            image.properties[key] = text
        }
    }

    /// One JSON-patch operation (`add`, `replace`, `remove`) on `/attribute`.
    func patch(_ raw: JSON, _ image: inout Image, auth: AuthContext) throws {
        guard let op = raw["op"]?.stringValue, let path = raw["path"]?.stringValue, path.hasPrefix("/"), path.count > 1 else {
            throw StratusError.badRequest("Unable to find 'op' and 'path' in the JSON-patch operation \(raw.encodedString()).")
        }
        let key = String(path.dropFirst()).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        switch op {
        case "add", "replace":
            guard let value = raw["value"] else { throw StratusError.badRequest("Operation \(op) needs a 'value'.") }
            if op == "replace", !Image.core.contains(key), !Image.readOnly.contains(key), image.properties[key] == nil {
                throw StratusError.conflict("Property \(key) does not exist.")
            }
            try apply(key, value, to: &image, auth: auth, creating: false)
        case "remove":
            if Image.readOnly.contains(key) || Image.core.contains(key) {
                throw StratusError.forbidden("Attribute '\(key)' is read-only or may not be removed.")
            }
            guard image.properties.removeValue(forKey: key) != nil else { throw StratusError.conflict("Property \(key) does not exist.") }
        default:
            throw StratusError.badRequest("Invalid operation: `\(op)`: use add, replace or remove.")
        }
    }
}
