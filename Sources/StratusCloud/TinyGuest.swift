import Foundation
import Logging
import NIOCore
import _NIOFileSystem
import StratusCore
import StratusImage

/// `stratus-tiny`, the guest `scripts/build-tiny-guest` makes from Debian packages, registered as public images on
/// first start: its kernel (aki), its initramfs (ari) and its qcow2 disk, which names the other two as `kernel_id`
/// and `ramdisk_id`. Its console prints `marker` once userspace runs.
public enum TinyGuest {
    public static let imageName = "stratus-tiny"
    public static let marker = "STRATUS-TINY-READY"

    /// Registers the three images unless an image named `stratus-tiny` exists. Returns the disk image's id.
    @discardableResult
    public static func register(from directory: String, store: ImageStore, files: ImageFiles, owner: String, logger: Logger) async throws -> String? {
        if let existing = try await store.all().first(where: { $0.name == imageName }) { return existing.id }
        let parts = ["vmlinuz", "initramfs.gz", "disk.qcow2"].map { directory + "/" + $0 }
        guard parts.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) else {
            logger.warning("no tiny guest in \(directory) (run scripts/build-tiny-guest): the image \(imageName) is not registered")
            return nil
        }
        let kernel = try await upload(parts[0], name: imageName + "-kernel", format: "aki", store: store, files: files, owner: owner)
        let initrd = try await upload(parts[1], name: imageName + "-initrd", format: "ari", store: store, files: files, owner: owner)
        let disk = try await upload(parts[2], name: imageName, format: "qcow2", store: store, files: files, owner: owner) { image in
            image.properties = ["kernel_id": kernel, "ramdisk_id": initrd, "hw_architecture": "x86_64"]
            image.minRAM = 64
            image.minDisk = 1
        }
        logger.info("registered the public image \(imageName) (\(disk)) with its kernel and initrd")
        return disk
    }

    static func upload(_ path: String, name: String, format: String, store: ImageStore, files: ImageFiles, owner: String,
                       adjust: (inout Image) -> Void = { _ in }) async throws -> String {
        var image = Image(id: Identifier.uuid(), owner: owner)
        image.name = name
        image.visibility = "public"
        image.diskFormat = format
        image.containerFormat = format == "qcow2" ? "bare" : format
        adjust(&image)
        try await store.create(image)
        _ = try await store.transition(image.id, from: [.queued], to: .saving)
        let upload = try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            try await files.store(image.id, handle.readChunks())
        }
        _ = try await store.finishUpload(image.id, size: upload.size, checksum: upload.md5, sha512: upload.sha512,
                                         virtualSize: upload.virtualSize)
        return image.id
    }
}
