import StratusCore

/// What the API (and the conductor itself, for retries) asks of the conductors (queue topic `conductor`): the
/// same versioned envelope as the hosts' messages, so a request that cannot be read is dead-lettered with the
/// reason instead of being half understood.
public enum ConductorRequest: Sendable, Equatable, Codable {
    /// Schedule, claim and spawn a new server.
    case build(InstanceRef)
    /// Remove the guest, then the server.
    case delete(InstanceRef)
    /// A power change of the server's guest.
    case power(PowerRequest)
    /// Give back what a server held (a release that failed the first time, retried by the queue).
    case release(ReleaseRequest)
    /// Schedule and claim a destination for a cold migration or resize, then start moving.
    case migrate(MigrationRef)
    /// Keep a finished resize: the source removes what it kept.
    case confirmResize(MigrationRef)
    /// Undo a finished resize: the guest goes back to its source with its old flavor.
    case revertResize(MigrationRef)
    /// Schedule and claim a destination for a live migration, then run its host-side steps.
    case liveMigrate(MigrationRef)
    /// Cancel a live migration that has not completed (the API's abort).
    case abortLiveMigration(MigrationRef)
    /// Make a running live migration converge now.
    case forceCompleteLiveMigration(MigrationRef)
    /// Rebuild a server whose host is down on another host (Nova's evacuate).
    case evacuate(MigrationRef)
    /// Snapshot a server's disk into the image the API created.
    case snapshot(SnapshotRequest)

    public var instanceUUID: String {
        switch self {
        case .build(let ref), .delete(let ref): return ref.instanceUUID
        case .power(let request): return request.instanceUUID
        case .release(let request): return request.instanceUUID
        case .migrate(let ref), .confirmResize(let ref), .revertResize(let ref), .liveMigrate(let ref), .abortLiveMigration(let ref),
             .forceCompleteLiveMigration(let ref), .evacuate(let ref): return ref.instanceUUID
        case .snapshot(let request): return request.instanceUUID
        }
    }

    /// Decodes a request from the queue. A request without a version is the untyped shape API processes sent
    /// before these were typed (`{"op": "stop", "instance": …}`); it is still read, field by field and only for
    /// the requests that existed, so messages queued across an upgrade (or sent by an API process not yet
    /// upgraded) are carried out rather than dead-lettered. Anything else in it is refused with the reason.
    public static func decode(queued json: JSON) throws -> ConductorRequest {
        guard json["version"] == nil else { return try WireFormat.decode(ConductorRequest.self, from: json) }
        guard let op = json["op"]?.stringValue else { throw MessageError("missing field 'version'") }
        guard let uuid = json["instance"]?.stringValue else { throw MessageError("missing field 'instance' in an untyped '\(op)' request") }
        switch op {
        case "build": return .build(InstanceRef(instanceUUID: uuid))
        case "delete": return .delete(InstanceRef(instanceUUID: uuid))
        case "release":
            guard let ports = json["ports"]?.boolValue else { throw MessageError("missing field 'ports' in an untyped 'release' request") }
            return .release(ReleaseRequest(instanceUUID: uuid, ports: ports))
        case "reboot":
            switch json["type"]?.stringValue {
            case "HARD": return .power(PowerRequest(instanceUUID: uuid, action: .rebootHard))
            case "SOFT": return .power(PowerRequest(instanceUUID: uuid, action: .rebootSoft))
            default: throw MessageError("an untyped 'reboot' request needs 'type' HARD or SOFT")
            }
        case "stop", "start", "pause", "unpause", "suspend", "resume":
            guard let action = PowerAction(rawValue: op) else { throw MessageError("unknown conductor request '\(op)'") }
            return .power(PowerRequest(instanceUUID: uuid, action: action))
        default: throw MessageError("unknown conductor request '\(op)'")
        }
    }

    public init(from decoder: any Decoder) throws {
        switch try decoder.envelope() {
        case "build": self = .build(try InstanceRef(from: decoder))
        case "delete": self = .delete(try InstanceRef(from: decoder))
        case "power": self = .power(try PowerRequest(from: decoder))
        case "release": self = .release(try ReleaseRequest(from: decoder))
        case "migrate": self = .migrate(try MigrationRef(from: decoder))
        case "confirm_resize": self = .confirmResize(try MigrationRef(from: decoder))
        case "revert_resize": self = .revertResize(try MigrationRef(from: decoder))
        case "live_migrate": self = .liveMigrate(try MigrationRef(from: decoder))
        case "abort_live_migration": self = .abortLiveMigration(try MigrationRef(from: decoder))
        case "force_complete_live_migration": self = .forceCompleteLiveMigration(try MigrationRef(from: decoder))
        case "evacuate": self = .evacuate(try MigrationRef(from: decoder))
        case "snapshot": self = .snapshot(try SnapshotRequest(from: decoder))
        case let op: throw MessageError("unknown conductor request '\(op)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .build(let ref): try encoder.envelope("build"); try ref.encode(to: encoder)
        case .delete(let ref): try encoder.envelope("delete"); try ref.encode(to: encoder)
        case .power(let request): try encoder.envelope("power"); try request.encode(to: encoder)
        case .release(let request): try encoder.envelope("release"); try request.encode(to: encoder)
        case .migrate(let ref): try encoder.envelope("migrate"); try ref.encode(to: encoder)
        case .confirmResize(let ref): try encoder.envelope("confirm_resize"); try ref.encode(to: encoder)
        case .revertResize(let ref): try encoder.envelope("revert_resize"); try ref.encode(to: encoder)
        case .liveMigrate(let ref): try encoder.envelope("live_migrate"); try ref.encode(to: encoder)
        case .abortLiveMigration(let ref): try encoder.envelope("abort_live_migration"); try ref.encode(to: encoder)
        case .forceCompleteLiveMigration(let ref): try encoder.envelope("force_complete_live_migration"); try ref.encode(to: encoder)
        case .evacuate(let ref): try encoder.envelope("evacuate"); try ref.encode(to: encoder)
        case .snapshot(let request): try encoder.envelope("snapshot"); try request.encode(to: encoder)
        }
    }
}

/// Which of a server's holdings to give back: its placement claim always, its ports unless it is only moving on.
public struct ReleaseRequest: Sendable, Equatable, Codable {
    public var instanceUUID: String
    public var ports: Bool

    public init(instanceUUID: String, ports: Bool) {
        self.instanceUUID = instanceUUID
        self.ports = ports
    }

    enum CodingKeys: String, CodingKey { case instanceUUID = "instance", ports }
}
