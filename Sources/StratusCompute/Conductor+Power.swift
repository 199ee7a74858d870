import StratusCore

/// Power changes: stop, start, reboot, pause/unpause, suspend/resume, sent to the instance's host; the host's
/// answer sets the resulting state.
extension Conductor {
    /// What each power action leaves the instance as, and the event Nova records for it.
    static let powerOutcomes: [String: (vm: VMState, power: PowerState, event: String, record: String)] = [
        "stop": (.stopped, .shutdown, "compute_stop_instance", "stop"),
        "start": (.active, .running, "compute_start_instance", "start"),
        "reboot_soft": (.active, .running, "compute_reboot_instance", "reboot"),
        "reboot_hard": (.active, .running, "compute_reboot_instance", "reboot"),
        "pause": (.paused, .paused, "compute_pause_instance", "pause"),
        "unpause": (.active, .running, "compute_unpause_instance", "unpause"),
        "suspend": (.suspended, .suspended, "compute_suspend_instance", "suspend"),
        "resume": (.active, .running, "compute_resume_instance", "resume"),
    ]

    /// Sends a power change to the instance's host; an instance without a host cannot change power (the API's
    /// state checks keep most of these out), so its task state is simply cleared.
    func power(_ payload: JSON, requestID: String) async throws {
        let uuid = payload["instance"]?.stringValue ?? ""
        guard let instance = try await instances.instance(uuid), !instance.deleted else { return }
        let op = payload["op"]?.stringValue ?? ""
        let action = op == "reboot" ? (payload["type"]?.stringValue == "HARD" ? "reboot_hard" : "reboot_soft") : op
        guard let host = instance.host else {
            try await queue.storage.transaction { tx in
                guard var current = try await instances.instance(uuid, in: tx) else { return }
                current.taskState = nil
                try await instances.save(current, in: tx)
            }
            return
        }
        try await queue.cast(topic: "compute.\(host)", payload: ["op": "power", "instance": .string(uuid), "action": .string(action)],
                             requestID: requestID)
    }

    func powerDone(_ payload: JSON) async throws {
        let uuid = payload["instance"]?.stringValue ?? ""
        guard let outcome = Self.powerOutcomes[payload["action"]?.stringValue ?? ""] else { return }
        let error = payload["error"]?.stringValue
        let started = payload["started"]?.doubleValue ?? Clock.now()
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
                host: payload["host"]?.stringValue, details: error, finishAction: true, in: tx)
        }
    }
}
