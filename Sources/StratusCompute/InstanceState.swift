import StratusMessages

/// Nova's `vm_state`: what the instance is, as far as the cloud is concerned.
public enum VMState: String, Sendable, Codable, CaseIterable {
    case building, active, stopped, paused, suspended, error, deleted, rescued, resized, shelved
    case softDeleted = "soft-delete"
    case shelvedOffloaded = "shelved_offloaded"
}

/// Nova's `task_state`: what is happening to the instance right now (nil when idle).
public enum TaskState: String, Sendable, Codable, CaseIterable {
    case scheduling, networking, spawning, deleting
    case blockDeviceMapping = "block_device_mapping"
    case poweringOff = "powering-off"
    case poweringOn = "powering-on"
    case rebooting
    case rebootingHard = "rebooting_hard"
    case pausing, unpausing, suspending, resuming
    case resizePrep = "resize_prep"
    case resizeMigrating = "resize_migrating"
    case resizeMigrated = "resize_migrated"
    case resizeFinish = "resize_finish"
    case resizeReverting = "resize_reverting"
    case resizeConfirming = "resize_confirming"
    case migrating
    case rebuilding
    case rebuildSpawning = "rebuild_spawning"
    case imageSnapshotPending = "image_snapshot_pending"
    case imageSnapshot = "image_snapshot"
    case imagePendingUpload = "image_pending_upload"
    case imageUploading = "image_uploading"

    /// The task states of a cold migration or resize on its way (Nova shows RESIZE for each).
    public static let resizing: Set<TaskState> = [.resizePrep, .resizeMigrating, .resizeMigrated, .resizeFinish]
    /// The task states of a snapshot (`createImage`) on its way.
    public static let snapshotting: Set<TaskState> = [.imageSnapshotPending, .imageSnapshot, .imagePendingUpload, .imageUploading]
}

/// Nova's `power_state` numbers, as `OS-EXT-STS:power_state` shows them.
public enum PowerState: Int, Sendable, Codable {
    case noState = 0, running = 1, paused = 3, shutdown = 4, crashed = 6, suspended = 7
}

/// The status a user sees, derived from vm_state and task_state the way Nova's API does.
public enum ServerStatus {
    public static func of(_ vm: VMState, _ task: TaskState?) -> String {
        // Nova shows REBUILD for a rebuild or evacuation of an active, stopped or errored server.
        if task == .rebuilding || task == .rebuildSpawning, [.active, .stopped, .error].contains(vm) { return "REBUILD" }
        switch vm {
        case .building: return "BUILD"
        case .active:
            switch task {
            case .rebooting: return "REBOOT"
            case .rebootingHard: return "HARD_REBOOT"
            case .migrating: return "MIGRATING"
            case let task? where TaskState.resizing.contains(task): return "RESIZE"
            default: return "ACTIVE"
            }
        case .stopped:
            if let task, TaskState.resizing.contains(task) { return "RESIZE" }
            return "SHUTOFF"
        case .paused: return task == .migrating ? "MIGRATING" : "PAUSED"
        case .suspended: return "SUSPENDED"
        case .error: return "ERROR"
        case .deleted: return "DELETED"
        case .softDeleted: return "SOFT_DELETED"
        case .rescued: return "RESCUE"
        case .resized: return task == .resizeReverting ? "REVERT_RESIZE" : "VERIFY_RESIZE"
        case .shelved: return "SHELVED"
        case .shelvedOffloaded: return "SHELVED_OFFLOADED"
        }
    }
}

/// The actions a user can ask for, and which states allow them (Nova's `check_instance_state`). Pure: it says
/// what the next state is, or why not; the caller persists it.
public enum InstanceAction: String, Sendable, CaseIterable {
    case delete, stop, start, reboot, rebootHard, pause, unpause, suspend, resume

    /// The task state the action puts the instance in, or nil when the current state forbids it.
    public func begin(from vm: VMState, task: TaskState?) -> TaskState? {
        switch self {
        case .delete:
            return task == .deleting ? nil : .deleting
        case .stop:
            guard task == nil, vm == .active || vm == .error else { return nil }
            return .poweringOff
        case .start:
            guard task == nil, vm == .stopped else { return nil }
            return .poweringOn
        case .reboot:
            guard task == nil, vm == .active else { return nil }
            return .rebooting
        case .rebootHard:
            // Nova's ALLOW_HARD_REBOOT: the way out of any of these states.
            guard [.active, .stopped, .paused, .suspended, .error].contains(vm), task == nil || task == .rebooting else { return nil }
            return .rebootingHard
        case .pause:
            guard task == nil, vm == .active else { return nil }
            return .pausing
        case .unpause:
            guard task == nil, vm == .paused else { return nil }
            return .unpausing
        case .suspend:
            guard task == nil, vm == .active else { return nil }
            return .suspending
        case .resume:
            guard task == nil, vm == .suspended else { return nil }
            return .resuming
        }
    }

    /// What the conductor is asked to do for this action.
    public func request(for uuid: String) -> ConductorRequest {
        let ref = InstanceRef(instanceUUID: uuid)
        switch self {
        case .delete: return .delete(ref)
        case .stop: return .power(PowerRequest(instanceUUID: uuid, action: .stop))
        case .start: return .power(PowerRequest(instanceUUID: uuid, action: .start))
        case .reboot: return .power(PowerRequest(instanceUUID: uuid, action: .rebootSoft))
        case .rebootHard: return .power(PowerRequest(instanceUUID: uuid, action: .rebootHard))
        case .pause: return .power(PowerRequest(instanceUUID: uuid, action: .pause))
        case .unpause: return .power(PowerRequest(instanceUUID: uuid, action: .unpause))
        case .suspend: return .power(PowerRequest(instanceUUID: uuid, action: .suspend))
        case .resume: return .power(PowerRequest(instanceUUID: uuid, action: .resume))
        }
    }

    /// Nova's name for the action in `os-instance-actions`.
    public var recordName: String {
        switch self {
        case .delete: return "delete"
        case .stop: return "stop"
        case .start: return "start"
        case .reboot, .rebootHard: return "reboot"
        case .pause: return "pause"
        case .unpause: return "unpause"
        case .suspend: return "suspend"
        case .resume: return "resume"
        }
    }
}
