import Foundation
import HTTPTypes
import Hummingbird
import StratusCore
import StratusImage

/// `PUT/GET /v2/images/{id}/file`: uploads stream to disk with checksums computed on the way; downloads stream
/// back with `Content-MD5`. Nothing is buffered whole in memory.
extension ImageAPI {
    func registerImageData(on router: PolicedRouter) {
        router.put("image/v2/images/:id/file", .rule("upload_image")) { request, context in
            // A compute host (service role) fills the snapshot a server's createImage made, as Nova does.
            let image = try context.requireAuth().hasRole("service") ? try await snapshotImage(context) : try await ownedImage(context)
            guard try await store.transition(image.id, from: [.queued], to: .saving) else {
                throw StratusError.conflict("Image status transition from '\(image.status.rawValue)' to 'saving' is not allowed.")
            }
            let upload: ImageFiles.Upload
            do {
                upload = try await files.store(image.id, request.body)
            } catch {
                // A failed or refused upload never leaves an active image: it is killed, its partial data gone.
                _ = try? await store.transition(image.id, from: [.saving], to: .killed)
                if error is ImageFiles.TooLarge {
                    throw StratusError(.requestEntityTooLarge, "Image exceeds the storage quota: image_size_cap is \(files.sizeCap) bytes.")
                }
                throw StratusError.badRequest("Image upload failed: \(error)")
            }
            guard try await store.finishUpload(image.id, size: upload.size, checksum: upload.md5, sha512: upload.sha512,
                                               virtualSize: upload.virtualSize) else {
                files.remove(image.id)  // deleted while it uploaded
                throw StratusError.conflict("Image \(image.id) was deleted during the upload.")
            }
            return JSONResponse.empty(.noContent)
        }
        router.get("image/v2/images/:id/file", .rule("download_image")) { _, context in
            let image = try await visibleImage(context)
            let auth = try context.requireAuth()
            if image.status == .deactivated && !auth.isAdmin {
                throw StratusError.forbidden("The requested image has been deactivated. Image data download is forbidden.")
            }
            guard image.status == .active || image.status == .deactivated else { return JSONResponse.empty(.noContent) }
            let body = try await FileIO().loadFile(path: files.path(image.id), context: context)
            var headers: HTTPFields = [.contentType: "application/octet-stream"]
            if let size = image.size { headers[.contentLength] = String(size) }
            if let checksum = image.checksum { headers[HTTPField.Name("Content-MD5")!] = checksum }
            return Response(status: .ok, headers: headers, body: body)
        }
    }
}

extension ImageAPI {
    /// A server snapshot's image, for the compute host that uploads it; any other image is refused as for others.
    func snapshotImage(_ context: StratusRequestContext) async throws -> Image {
        let image = try await visibleImage(context)
        guard image.properties["image_type"] == "snapshot" else {
            throw StratusError.forbidden("You are not permitted to modify image \(image.id).")
        }
        return image
    }
}
