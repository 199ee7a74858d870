import StratusMessages
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
        /// Nova's status of a live migration switched to post-copy: the guest runs on the destination while its memory
        /// still comes from the source; it can no longer be aborted or forced.
        case runningPostCopy = "running (post-copy)"

        /// A live migration whose source copies the guest now, before or after a switch to post-copy.
        public var isCopying: Bool { self == .running || self == .runningPostCopy }

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
    /// What a live migration asked for and learnt on its way (nil for the other kinds).
    public var live: LiveDetails?
    /// An evacuation's vm_state on its destination: `stopped` (2.95, or a stopped server), else `active`.
    public var targetState: VMState?

    /// A new move of `instance` from where it is now.
    public init(uuid: String = Identifier.uuid(), instance: Instance, kind: Kind, newFlavor: Flavor, requestedHost: String?,
                userID: String, projectID: String) {
        let now = Clock.now()
        self.init(id: 0, uuid: uuid, instanceUUID: instance.uuid, kind: kind, status: .preMigrating,
                  sourceCompute: instance.host ?? "", sourceNode: instance.node ?? instance.host ?? "", oldFlavor: instance.flavor,
                  newFlavor: newFlavor, requestedHost: requestedHost, oldVMState: instance.vmState, userID: userID,
                  projectID: projectID, createdAt: now, updatedAt: now)
    }

    /// A move with every field given (as read back from its row).
    init(id: Int, uuid: String, instanceUUID: String, kind: Kind, status: Status, sourceCompute: String, sourceNode: String,
         oldFlavor: Flavor, newFlavor: Flavor, requestedHost: String?, oldVMState: VMState, userID: String, projectID: String,
         createdAt: Double, updatedAt: Double) {
        self.id = id
        self.uuid = uuid
        self.instanceUUID = instanceUUID
        self.kind = kind
        self.status = status
        self.sourceCompute = sourceCompute
        self.sourceNode = sourceNode
        self.oldFlavor = oldFlavor
        self.newFlavor = newFlavor
        self.requestedHost = requestedHost
        self.oldVMState = oldVMState
        self.userID = userID
        self.projectID = projectID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The action the move is recorded under in `os-instance-actions`.
    public var actionName: String {
        switch kind {
        case .resize: return "resize"
        case .liveMigration: return "live-migration"
        case .evacuation: return "evacuate"
        case .migration: return "migrate"
        }
    }

    /// Whether the guest ran before the move, and so runs again after it.
    public var powerOn: Bool { oldVMState != .stopped }
}

/// A live migration's request and what its steps found: kept with the record, so every step (and a conductor
/// resuming after a crash) knows it.
public struct LiveDetails: Sendable, Equatable, Codable {
    /// The API's `block_migration`: `true`, `false` or `auto` (2.25).
    public var requestedBlockMigration: String
    /// The API's `force` (2.30–2.67): the named host without the scheduler's checks.
    public var force: Bool
    /// The storage check's answer, once the source gave it.
    public var sharedInstancePath: Bool?
    /// Whether the disk is copied, once decided.
    public var blockMigration: Bool?
    /// Where the destination waits, once it does.
    public var incoming: LiveIncoming?
    /// The latest progress from the source.
    public var progress: LiveProgress?

    public init(requestedBlockMigration: String, force: Bool) {
        self.requestedBlockMigration = requestedBlockMigration
        self.force = force
    }

    enum CodingKeys: String, CodingKey {
        case requestedBlockMigration = "requested_block_migration", force, sharedInstancePath = "shared_instance_path"
        case blockMigration = "block_migration", incoming, progress
    }
}
