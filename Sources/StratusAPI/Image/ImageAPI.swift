import Foundation
import Hummingbird
import StratusCore
import StratusIdentity
import StratusImage

/// The Image API (Glance v2 subset) at `/image`: images with streamed upload and download, JSON-patch updates,
/// tags, members for shared images, deactivate/reactivate.
public struct ImageAPI: Sendable {
    let store: ImageStore
    let files: ImageFiles
    let bodyLimit: Int
    let baseURL: @Sendable () -> String

    public init(store: ImageStore, files: ImageFiles, bodyLimit: Int, baseURL: @escaping @Sendable () -> String) {
        self.store = store
        self.files = files
        self.bodyLimit = bodyLimit
        self.baseURL = baseURL
    }

    public func register(on router: PolicedRouter) {
        for path in ["image", "image/versions"] {
            router.get(path, .open) { _, _ in
                JSONResponse.make(status: .multipleChoices, ["versions": .array(["2.16", "2.15", "2.9", "2.0"].enumerated().map { index, version in
                    ["id": .string("v" + version), "status": index == 0 ? "CURRENT" : "SUPPORTED",
                     "links": [["rel": "self", "href": .string(baseURL() + "/image/v2/")]]]
                })])
            }
        }
        registerImages(on: router)
        registerImageData(on: router)
        registerMembers(on: router)
    }

    /// The image if the caller may see it, else Glance's 404.
    func visibleImage(_ context: StratusRequestContext) async throws -> Image {
        let auth = try context.requireAuth()
        let id = try context.parameters.require("id")
        // A compute host (service role) fetches whatever image a server boots from, as Nova does with its service token.
        guard let image = try await store.image(id, visibleTo: auth.projectID, admin: auth.isAdmin || auth.hasRole("service")) else {
            throw StratusError.notFound("No image found with ID \(id)")
        }
        return image
    }

    /// The image if the caller may change it: its owner or an admin (others who can see it get 403).
    func ownedImage(_ context: StratusRequestContext) async throws -> Image {
        let image = try await visibleImage(context)
        let auth = try context.requireAuth()
        guard auth.isAdmin || image.owner == auth.projectID else {
            throw StratusError.forbidden("You are not permitted to modify image \(image.id).")
        }
        return image
    }

    func imageJSON(_ image: Image) -> JSON {
        var body: [String: JSON] = [:]
        for (key, value) in image.properties { body[key] = .string(value) }
        body.merge([
            "id": .string(image.id), "name": .optional(image.name), "status": .string(image.status.rawValue),
            "visibility": .string(image.visibility), "protected": .bool(image.protected), "os_hidden": .bool(image.hidden),
            "disk_format": .optional(image.diskFormat), "container_format": .optional(image.containerFormat),
            "min_disk": .int(image.minDisk), "min_ram": .int(image.minRAM), "size": image.size.map { .int($0) } ?? .null,
            "virtual_size": image.virtualSize.map { .int($0) } ?? .null, "checksum": .optional(image.checksum),
            "os_hash_algo": .optional(image.hashAlgorithm), "os_hash_value": .optional(image.hashValue),
            "owner": .string(image.owner), "tags": .array(image.tags.map { .string($0) }),
            "created_at": .string(Clock.iso8601(image.createdAt)), "updated_at": .string(Clock.iso8601(image.updatedAt)),
            "self": .string("/v2/images/\(image.id)"), "file": .string("/v2/images/\(image.id)/file"), "schema": "/v2/schemas/image",
        ]) { _, core in core }
        return .object(body)
    }
}
