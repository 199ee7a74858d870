import StratusCore
import StratusMessages
import StratusQueue

/// Power changes: stop, start, reboot, pause/unpause, suspend/resume, sent to the instance's host; the host's
/// answer sets the resulting state.
extension Conductor {
    /// What each power action leaves the instance as, and the event Nova records for it.
    static func outcome(of action: PowerAction) -> (vm: VMState, power: PowerState, event: String, record: String) {
        switch action {
        case .stop: return (.stopped, .shutdown, "compute_stop_instance", "stop")
        case .start: return (.active, .running, "compute_start_instance", "start")
        case .rebootSoft, .rebootHard: return (.active, .running, "compute_reboot_instance", "reboot")
        case .pause: return (.paused, .paused, "compute_pause_instance", "pause")
        case .unpause: return (.active, .running, "compute_unpause_instance", "unpause")
        case .suspend: return (.suspended, .suspended, "compute_suspend_instance", "suspend")
        case .resume: return (.active, .running, "compute_resume_instance", "resume")
        }
    }

    /// Sends a power change to the instance's host; an instance without a host cannot change power (the API's
    /// state checks keep most of these out), so its task state is simply cleared.
    func power(_ request: PowerRequest, requestID: String) async throws {
        let uuid = request.instanceUUID
        guard let instance = try await instances.instance(uuid), !instance.deleted else { return }
        guard let host = instance.host else {
            try await queue.storage.transaction { tx in
                guard var current = try await instances.instance(uuid, in: tx) else { return }
                current.taskState = nil
                try await instances.save(current, in: tx)
            }
            return
        }
        try await queue.send(.power(request), to: host, requestID: requestID)
    }

    func powerDone(_ done: PowerOutcome) async throws {
        let uuid = done.instanceUUID
        let outcome = Self.outcome(of: done.action)
        let error = done.error
        let started = done.started
        try await queue.storage.transaction { tx in
            guard var instance = try await instances.instance(uuid, in: tx), !instance.deleted else { return }
            instance.taskState = nil
            if error == nil {
                instance.vmState = outcome.vm
                instance.powerState = outcome.power
            }
            try await instances.save(instance, in: tx)
            try await instances.recordEvent(
                instanceUUID: uuid, action: outcome.record, event: outcome.event, start: started, result: error == nil ? "Success" : "Error",
                host: done.host, details: error, finishAction: true, in: tx)
        }
    }
}
