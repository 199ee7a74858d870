import StratusCore

/// An image record as Glance v2 shows it; the bits live in the image store's directory.
public struct Image: Sendable, Equatable {
    /// Glance's image status machine: queued → saving → active (↔ deactivated); a failed upload is killed.
    public enum Status: String, Sendable, CaseIterable {
        case queued, saving, active, killed, deleted, deactivated
        case pendingDelete = "pending_delete"
        case uploading, importing
    }

    public static let diskFormats = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
    public static let containerFormats = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
    public static let visibilities = ["public", "private", "shared", "community"]
    /// Attributes Glance computes; a create or patch that sets them is 403.
    public static let readOnly: Set<String> = [
        "id", "status", "checksum", "size", "virtual_size", "os_hash_algo", "os_hash_value", "created_at", "updated_at",
        "file", "self", "schema", "direct_url", "locations", "deleted", "deleted_at", "stores",
    ]
    /// Attributes with their own columns and types (everything else is a string property).
    public static let core: Set<String> = [
        "name", "visibility", "protected", "os_hidden", "disk_format", "container_format", "min_disk", "min_ram", "owner", "tags",
    ]

    public var id: String
    public var name: String?
    public var status: Status = .queued
    public var visibility = "shared"
    public var protected = false
    public var hidden = false
    public var diskFormat: String?
    public var containerFormat: String?
    public var minDisk = 0
    public var minRAM = 0
    public var size: Int?
    public var virtualSize: Int?
    public var checksum: String?
    public var hashAlgorithm: String?
    public var hashValue: String?
    public var owner: String
    /// Free-form properties (`hw_*`, `kernel_id`, …): strings.
    public var properties: [String: String] = [:]
    public var tags: [String] = []
    public var createdAt: Double
    public var updatedAt: Double

    /// Glance's visibility rule: admins, the owner, anyone for public and community images, members of shared ones.
    public func isVisible(toProject project: String?, admin: Bool, membership: String?) -> Bool {
        admin || owner == project || visibility == "public" || visibility == "community" || (visibility == "shared" && membership != nil)
    }

    public init(id: String, owner: String, now: Double = Clock.now()) {
        self.id = id
        self.owner = owner
        self.createdAt = now
        self.updatedAt = now
    }
}

/// A project an image is shared with, and whether it accepted.
public struct ImageMember: Sendable, Equatable {
    public var imageID: String
    public var member: String
    public var status: String
    public var createdAt: Double
    public var updatedAt: Double
}
