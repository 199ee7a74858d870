import StratusCore

/// Nova's migration record: one move of one server between hosts, with the status `os-migrations` shows. It is
/// also the placement consumer that holds the source's resources while the move is on its way.
public struct MigrationRecord: Sendable, Equatable {
    /// Nova's `migration_type`.
    public enum Kind: String, Sendable, CaseIterable {
        case migration, resize
        case liveMigration = "live-migration"
        case evacuation
    }

    /// Nova's migration statuses, cold and live, exactly as it spells them.
    public enum Status: String, Sendable, CaseIterable {
        case preMigrating = "pre-migrating", migrating, postMigrating = "post-migrating", finished
        case confirming, confirmed, reverting, reverted, error
        case accepted, queued, preparing, running, completed, failed, cancelled, done

        /// A move that ended, one way or the other: it holds no resources and needs nothing more.
        public var isFinal: Bool { [.confirmed, .reverted, .error, .completed, .failed, .cancelled, .done].contains(self) }
    }

    /// Nova's integer id (what `os-migrations` and `/servers/{id}/migrations/{id}` use).
    public var id: Int
    public var uuid: String
    public var instanceUUID: String
    public var kind: Kind
    public var status: Status
    public var sourceCompute: String
    public var sourceNode: String
    public var destCompute: String?
    public var destNode: String?
    /// The destination host's address (Nova's `dest_host`, the host's IP); the host name here.
    public var destHost: String?
    public var oldFlavor: Flavor
    public var newFlavor: Flavor
    /// The host the caller asked for (migrate 2.56 `host`), if any.
    public var requestedHost: String?
    /// What the server was before the move, to return it to: active or stopped.
    public var oldVMState: VMState
    public var userID: String
    public var projectID: String
    /// Why the move failed, for the instance action and troubleshooting (not part of Nova's JSON).
    public var error: String?
    public var createdAt: Double
    public var updatedAt: Double

    public init(uuid: String = Identifier.uuid(), instance: Instance, kind: Kind, newFlavor: Flavor, requestedHost: String?,
                userID: String, projectID: String) {
        self.id = 0
        self.uuid = uuid
        self.instanceUUID = instance.uuid
        self.kind = kind
        self.status = .preMigrating
        self.sourceCompute = instance.host ?? ""
        self.sourceNode = instance.node ?? instance.host ?? ""
        self.oldFlavor = instance.flavor
        self.newFlavor = newFlavor
        self.requestedHost = requestedHost
        self.oldVMState = instance.vmState
        self.userID = userID
        self.projectID = projectID
        self.createdAt = Clock.now()
        self.updatedAt = createdAt
    }

    /// The action the move is recorded under in `os-instance-actions`.
    public var actionName: String { kind == .resize ? "resize" : "migrate" }

    /// Whether the guest ran before the move, and so runs again after it.
    public var powerOn: Bool { oldVMState != .stopped }
}
