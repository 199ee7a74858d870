import Foundation
import StratusComputeAgent
import StratusCore
import StratusImage

/// The image source of the all-in-one cloud: compute hosts run in the same process and on the same machine as the
/// image service, so they read its records and copy its files directly. The host's cache still verifies every byte
/// against the record's checksum, as it would after an HTTP download.
struct LocalImageSource: ImageSource {
    let store: ImageStore
    let files: ImageFiles

    func describe(_ imageID: String) async throws -> ImageInfo {
        guard let image = try await store.image(imageID) else { throw DriverError("Image \(imageID) could not be found.") }
        guard image.status == .active else { throw DriverError("Image \(imageID) is not active (\(image.status.rawValue)).") }
        // A raw image's virtual size is its size; Glance records the qcow2 header's at upload.
        let format = image.diskFormat ?? "raw"
        return ImageInfo(id: image.id, name: image.name ?? "", diskFormat: format, checksum: image.checksum, size: image.size,
                         virtualSize: image.virtualSize ?? (format == "raw" ? image.size : nil), properties: image.properties)
    }

    func download(_ imageID: String, to path: String) async throws {
        let source = files.path(imageID)
        guard FileManager.default.fileExists(atPath: source) else { throw DriverError("Image \(imageID) has no data.") }
        // A copy of a large file would hold a concurrency thread for its whole length: run it on its own thread.
        do {
            try await ImageCache.onOwnThread { try FileManager.default.copyItem(atPath: source, toPath: path) }
        } catch {
            throw DriverError("copying image \(imageID) failed: \(error)")
        }
    }
}
