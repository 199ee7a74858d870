import HTTPTypes
import Hummingbird
import StratusCompute
import StratusCore
import StratusImage
import StratusMessages
import StratusQueue
import StratusStorage

/// `createImage`: a snapshot of the server's disk as a new image, made `queued` here (its properties inherited from
/// the image the server booted, as Nova's), then filled by the server's host. Task `image_snapshot_pending`, the
/// action and the conductor's request commit together; the image's id comes back in `Location` (and, from 2.45,
/// in the body as `image_id`).
extension ComputeAPI {
    func createImage(_ instance: Instance, _ body: JSONFields, _ context: StratusRequestContext) async throws -> Response {
        let options = try body.fields("createImage", required: true)!
        try options.rejectUnknown(["name", "metadata"])
        let name = try options.requiredString("name")
        var metadata: [String: String] = [:]
        if let given = try options.fields("metadata") {
            for (key, value) in given.object {
                guard let text = value.stringValue else {
                    throw StratusError.badRequest("Invalid input for field/attribute metadata. Value: \(given.object.description). \(value.encodedString()) is not of type 'string'")
                }
                metadata[key] = text
            }
        }
        guard instance.taskState == nil, [.active, .stopped, .paused, .suspended].contains(instance.vmState), instance.host != nil else {
            throw Self.invalidState("createImage", instance)
        }
        let auth = try context.requireAuth()
        let base = try await images.image(instance.imageRef)
        var image = Image(id: Identifier.uuid(), owner: instance.projectID)
        image.name = name
        image.visibility = "private"
        image.diskFormat = "qcow2"
        image.containerFormat = "bare"
        image.minDisk = instance.flavor.rootGB
        image.minRAM = base?.minRAM ?? 0
        // Nova's snapshot properties: what the server booted from (its kernel and ramdisk too), then what says it is one.
        image.properties = base?.properties ?? [:]
        image.properties.merge(["image_type": "snapshot", "instance_uuid": instance.uuid, "base_image_ref": instance.imageRef,
                                "user_id": auth.userID]) { _, new in new }
        image.properties.merge(metadata) { _, new in new }
        try await images.create(image)
        let imageID = image.id
        do {
            try await servers.storage.transaction { tx in
                guard var current = try await servers.instance(instance.uuid, in: tx), !current.deleted else {
                    throw StratusError.notFound("Instance \(instance.uuid) could not be found.")
                }
                guard current.taskState == nil, [.active, .stopped, .paused, .suspended].contains(current.vmState) else {
                    throw Self.invalidState("createImage", current)
                }
                current.taskState = .imageSnapshotPending
                try await servers.save(current, in: tx)
                _ = try await servers.startAction("createImage", instance: current, requestID: context.requestID, userID: auth.userID,
                                                   projectID: auth.projectID ?? "", in: tx)
                try await queue.request(.snapshot(SnapshotRequest(instanceUUID: current.uuid, imageID: imageID)),
                                        requestID: context.requestID, in: tx)
            }
        } catch {
            try await images.delete(image.id)  // the snapshot will never be taken: its empty image goes
            throw error
        }
        let location = baseURL() + "/image/v2/images/\(image.id)"
        if context.microversion.atLeast(2, 45) {
            return JSONResponse.make(status: .accepted, ["image_id": .string(image.id)])
        }
        return JSONResponse.empty(.accepted, headers: [.location: location])
    }
}
