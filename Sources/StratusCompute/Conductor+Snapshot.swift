import StratusCore
import StratusImage
import StratusMessages

/// `createImage`: the API created the image (`queued`) and set `image_snapshot_pending`; the host takes the disk
/// (`image_snapshot`), reports it taken (`image_pending_upload`) and uploading (`image_uploading`), and the task
/// ends with the image active. A snapshot that fails removes its image, as Nova does.
extension Conductor {
    func snapshot(_ request: SnapshotRequest, requestID: String) async throws {
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(request.instanceUUID, in: tx), !instance.deleted,
                  instance.taskState == .imageSnapshotPending, let host = instance.host else { return }
            instance.taskState = .imageSnapshot
            try await instances.save(instance, in: tx)
            try await queue.send(.snapshot(request), to: host, requestID: requestID, in: tx)
        }
    }

    func snapshotReported(_ outcome: SnapshotOutcome) async throws {
        let ended = try await queue.storage.transaction { tx -> Bool in
            guard var instance = try await instances.instance(outcome.instanceUUID, in: tx), !instance.deleted,
                  let task = instance.taskState, TaskState.snapshotting.contains(task), instance.host == outcome.host else { return false }
            switch outcome.phase {
            case .pendingUpload: instance.taskState = .imagePendingUpload
            case .uploading: instance.taskState = .imageUploading
            case .done: instance.taskState = nil
            }
            try await instances.save(instance, in: tx)
            guard outcome.phase == .done else { return false }
            try await instances.recordEvent(
                instanceUUID: instance.uuid, action: "createImage", event: "compute_snapshot_instance", start: outcome.started,
                result: outcome.error == nil ? "Success" : "Error", host: outcome.host, details: outcome.error, finishAction: true, in: tx)
            return true
        }
        guard ended, let error = outcome.error else { return }
        logger.warning("snapshot of \(outcome.instanceUUID) into image \(outcome.imageID) failed: \(error)")
        // The half-made image goes (a redelivery finds it gone); an upload that did finish keeps its image.
        if let image = try await ImageStore(storage: queue.storage).image(outcome.imageID), image.status != .active {
            try await ImageStore(storage: queue.storage).delete(outcome.imageID)
        }
    }
}
