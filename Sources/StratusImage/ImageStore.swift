import Foundation
import SQLKit
import StratusCore
import StratusStorage

/// Image records and members. Status changes that race (two uploads, delete during upload) are compare-and-set
/// on the status column.
public struct ImageStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    public func create(_ image: Image) async throws {
        do {
            try await storage.autocommit { sql in
                try await sql.raw(
                    """
                    INSERT INTO image_images (id, name, status, visibility, protected, os_hidden, disk_format, container_format,
                        min_disk, min_ram, owner, properties, tags, created_at, updated_at)
                    VALUES (\(bind: image.id), \(bind: image.name), \(bind: image.status.rawValue), \(bind: image.visibility),
                        \(bind: image.protected), \(bind: image.hidden), \(bind: image.diskFormat), \(bind: image.containerFormat),
                        \(bind: image.minDisk), \(bind: image.minRAM), \(bind: image.owner), \(bind: JSON.text(image.properties)),
                        \(bind: JSON.text(image.tags)), \(bind: image.createdAt), \(bind: image.updatedAt))
                    """
                ).run()
            }
        } catch where Storage.isUniqueViolation(error) {
            throw StratusError.conflict("An image with identifier \(image.id) already exists")
        }
    }

    public func image(_ id: String) async throws -> Image? {
        try await storage.read { sql in try await sql.raw("SELECT * FROM image_images WHERE id = \(bind: id)").first().map(Self.image) }
    }

    /// The image if `project` may see it (Glance's visibility rule, memberships of shared images included).
    public func image(_ id: String, visibleTo project: String?, admin: Bool) async throws -> Image? {
        guard let image = try await image(id) else { return nil }
        let membership = image.visibility == "shared" ? try await memberships(of: project ?? "")[id] : nil
        return image.isVisible(toProject: project, admin: admin, membership: membership) ? image : nil
    }

    public func all() async throws -> [Image] {
        try await storage.read { sql in try await sql.raw("SELECT * FROM image_images").all().map(Self.image) }
    }

    /// Writes the user-settable fields (not status, size or checksums).
    public func save(_ image: Image) async throws {
        try await storage.autocommit { sql in
            try await sql.raw(
                """
                UPDATE image_images SET name = \(bind: image.name), visibility = \(bind: image.visibility),
                    protected = \(bind: image.protected), os_hidden = \(bind: image.hidden), disk_format = \(bind: image.diskFormat),
                    container_format = \(bind: image.containerFormat), min_disk = \(bind: image.minDisk),
                    min_ram = \(bind: image.minRAM), owner = \(bind: image.owner), properties = \(bind: JSON.text(image.properties)),
                    tags = \(bind: JSON.text(image.tags)), updated_at = \(bind: Clock.now())
                WHERE id = \(bind: image.id)
                """
            ).run()
        }
    }

    /// Moves `id` from one of `from` to `to`; false if it was in another status (someone else moved it first).
    public func transition(_ id: String, from: Set<Image.Status>, to: Image.Status) async throws -> Bool {
        try await storage.transaction { tx in
            guard let row = try await tx.sql.raw("SELECT status FROM image_images WHERE id = \(bind: id)").first(),
                  let current = Image.Status(rawValue: try row.decode(column: "status", as: String.self)),
                  from.contains(current) else { return false }
            try await tx.sql.raw(
                "UPDATE image_images SET status = \(bind: to.rawValue), updated_at = \(bind: Clock.now()) WHERE id = \(bind: id)"
            ).run()
            return true
        }
    }

    /// saving → active with what the upload measured; false if the image left `saving` meanwhile (deleted).
    public func finishUpload(_ id: String, size: Int, checksum: String, sha512: String, virtualSize: Int?) async throws -> Bool {
        try await storage.transaction { tx in
            guard let row = try await tx.sql.raw("SELECT status FROM image_images WHERE id = \(bind: id)").first(),
                  try row.decode(column: "status", as: String.self) == Image.Status.saving.rawValue else { return false }
            try await tx.sql.raw(
                """
                UPDATE image_images SET status = 'active', size = \(bind: size), checksum = \(bind: checksum),
                    os_hash_algo = 'sha512', os_hash_value = \(bind: sha512), virtual_size = \(bind: virtualSize),
                    updated_at = \(bind: Clock.now())
                WHERE id = \(bind: id)
                """
            ).run()
            return true
        }
    }

    public func delete(_ id: String) async throws {
        try await storage.autocommit { sql in
            try await sql.raw("DELETE FROM image_members WHERE image_id = \(bind: id)").run()
            try await sql.raw("DELETE FROM image_images WHERE id = \(bind: id)").run()
        }
    }

    // MARK: Members

    public func members(_ imageID: String) async throws -> [ImageMember] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM image_members WHERE image_id = \(bind: imageID) ORDER BY created_at").all().map(Self.member)
        }
    }

    /// Every membership of `project`: image id → status.
    public func memberships(of project: String) async throws -> [String: String] {
        try await storage.read { sql in
            var result: [String: String] = [:]
            for row in try await sql.raw("SELECT image_id, status FROM image_members WHERE member = \(bind: project)").all() {
                result[try row.decode(column: "image_id", as: String.self)] = try row.decode(column: "status", as: String.self)
            }
            return result
        }
    }

    public func addMember(_ imageID: String, member: String) async throws -> ImageMember {
        let now = Clock.now()
        do {
            try await storage.autocommit { sql in
                try await sql.raw(
                    """
                    INSERT INTO image_members (image_id, member, status, created_at, updated_at)
                    VALUES (\(bind: imageID), \(bind: member), 'pending', \(bind: now), \(bind: now))
                    """
                ).run()
            }
        } catch where Storage.isUniqueViolation(error) {
            throw StratusError.conflict("Member \(member) already exists for image \(imageID)")
        }
        return ImageMember(imageID: imageID, member: member, status: "pending", createdAt: now, updatedAt: now)
    }

    public func setMemberStatus(_ imageID: String, member: String, status: String) async throws -> ImageMember? {
        try await storage.autocommit { sql in
            try await sql.raw(
                """
                UPDATE image_members SET status = \(bind: status), updated_at = \(bind: Clock.now())
                WHERE image_id = \(bind: imageID) AND member = \(bind: member)
                """
            ).run()
        }
        return try await members(imageID).first { $0.member == member }
    }

    public func removeMember(_ imageID: String, member: String) async throws {
        try await storage.autocommit { sql in
            try await sql.raw("DELETE FROM image_members WHERE image_id = \(bind: imageID) AND member = \(bind: member)").run()
        }
    }

    // MARK: Rows


    static func image(_ row: any SQLRow) throws -> Image {
        var image = Image(id: try row.decode(column: "id", as: String.self), owner: try row.decode(column: "owner", as: String.self),
                          now: try row.decode(column: "created_at", as: Double.self))
        image.name = try row.decode(column: "name", as: String?.self)
        image.status = Image.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .killed
        image.visibility = try row.decode(column: "visibility", as: String.self)
        image.protected = try row.decode(column: "protected", as: Bool.self)
        image.hidden = try row.decode(column: "os_hidden", as: Bool.self)
        image.diskFormat = try row.decode(column: "disk_format", as: String?.self)
        image.containerFormat = try row.decode(column: "container_format", as: String?.self)
        image.minDisk = try row.decode(column: "min_disk", as: Int.self)
        image.minRAM = try row.decode(column: "min_ram", as: Int.self)
        image.size = try row.decode(column: "size", as: Int?.self)
        image.virtualSize = try row.decode(column: "virtual_size", as: Int?.self)
        image.checksum = try row.decode(column: "checksum", as: String?.self)
        image.hashAlgorithm = try row.decode(column: "os_hash_algo", as: String?.self)
        image.hashValue = try row.decode(column: "os_hash_value", as: String?.self)
        image.properties = JSON.stringMap(fromText: try row.decode(column: "properties", as: String.self))
        image.tags = JSON.stringList(fromText: try row.decode(column: "tags", as: String.self))
        image.updatedAt = try row.decode(column: "updated_at", as: Double.self)
        return image
    }

    static func member(_ row: any SQLRow) throws -> ImageMember {
        ImageMember(
            imageID: try row.decode(column: "image_id", as: String.self), member: try row.decode(column: "member", as: String.self),
            status: try row.decode(column: "status", as: String.self), createdAt: try row.decode(column: "created_at", as: Double.self),
            updatedAt: try row.decode(column: "updated_at", as: Double.self))
    }
}
