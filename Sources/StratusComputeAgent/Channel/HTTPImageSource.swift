import StratusCore

/// Images through the Image API, as a host on another machine gets them: the record from
/// `GET /v2/images/{id}`, the bits streamed from `/file`. The cache verifies size and MD5 before using them.
public struct HTTPImageSource: ImageSource {
    let client: ControlPlaneClient

    public init(client: ControlPlaneClient) { self.client = client }

    public func describe(_ imageID: String) async throws -> ImageInfo {
        let (status, json) = try await client.request(.GET, "image", "/v2/images/\(imageID)")
        guard status == 200 else {
            throw DriverError(status == 404 ? "Image \(imageID) could not be found." : "the image API answered \(status) for \(imageID)")
        }
        guard json["status"]?.stringValue == "active" else {
            throw DriverError("Image \(imageID) is not active (\(json["status"]?.stringValue ?? "unknown")).")
        }
        let format = json["disk_format"]?.stringValue ?? "raw"
        let size = json["size"]?.intValue
        // Glance puts custom properties at the top level of the image; the standard fields are not properties.
        var properties: [String: String] = [:]
        if case .object(let fields) = json {
            for (key, value) in fields where !Self.standardFields.contains(key) {
                if let text = value.stringValue { properties[key] = text }
            }
        }
        return ImageInfo(id: imageID, name: json["name"]?.stringValue ?? "", diskFormat: format, checksum: json["checksum"]?.stringValue,
                         size: size, virtualSize: json["virtual_size"]?.intValue ?? (format == "raw" ? size : nil), properties: properties)
    }

    public func download(_ imageID: String, to path: String) async throws {
        do {
            _ = try await client.download("image", "/v2/images/\(imageID)/file", to: path)
        } catch {
            throw DriverError("downloading image \(imageID) failed: \(error)")
        }
    }

    public func upload(_ imageID: String, from path: String) async throws {
        do {
            try await client.upload("image", "/v2/images/\(imageID)/file", from: path)
        } catch {
            throw DriverError("uploading the snapshot to image \(imageID) failed: \(error)")
        }
    }

    static let standardFields: Set<String> = [
        "id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo", "os_hash_value", "owner", "size",
        "virtual_size", "min_ram", "min_disk", "disk_format", "container_format", "created_at", "updated_at", "tags", "self",
        "file", "schema", "os_hidden", "direct_url", "locations", "stores",
    ]
}
