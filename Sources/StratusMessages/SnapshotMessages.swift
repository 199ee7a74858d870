import StratusCore

/// A snapshot of one guest's disk into an image the API created (`queued`): the host flattens the disk and uploads
/// it through the Image API.
public struct SnapshotRequest: Sendable, Equatable, Codable {
    public var instanceUUID: String
    public var imageID: String

    public init(instanceUUID: String, imageID: String) {
        self.instanceUUID = instanceUUID
        self.imageID = imageID
    }

    enum CodingKeys: String, CodingKey { case instanceUUID = "instance", imageID = "image" }
}

/// Where a snapshot stands on its host: taken and waiting to upload, uploading, or done (`error` when it failed).
public struct SnapshotOutcome: Sendable, Equatable, Codable {
    /// Nova's task states after `image_snapshot`, and the end.
    public enum Phase: String, Sendable, Codable {
        case pendingUpload = "image_pending_upload"
        case uploading = "image_uploading"
        case done
    }

    public var host: String
    public var instanceUUID: String
    public var imageID: String
    public var phase: Phase
    public var started: Double
    public var error: String?

    public init(host: String, instanceUUID: String, imageID: String, phase: Phase, started: Double, error: String? = nil) {
        self.host = host
        self.instanceUUID = instanceUUID
        self.imageID = imageID
        self.phase = phase
        self.started = started
        self.error = error
    }

    enum CodingKeys: String, CodingKey { case host, instanceUUID = "instance", imageID = "image", phase, started, error }
}
