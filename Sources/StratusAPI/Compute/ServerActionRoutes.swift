import Hummingbird
import StratusCompute
import StratusCore
import StratusMessages
import StratusQueue
import StratusStorage

extension ComputeAPI {
    func registerServerActions(on router: PolicedRouter) {
        router.post("compute/v2.1/servers/:id/action", .action(["os-getConsoleOutput": "os_compute_api:os-console-output", "unlock": "os_compute_api:os-lock-server:unlock", "lock": "os_compute_api:os-lock-server:lock", "os-resetState": "os_compute_api:os-admin-actions:reset_state", "os-stop": "os_compute_api:servers:stop", "os-start": "os_compute_api:servers:start", "pause": "os_compute_api:os-pause-server:pause", "unpause": "os_compute_api:os-pause-server:unpause", "suspend": "os_compute_api:os-suspend-server:suspend", "resume": "os_compute_api:os-suspend-server:resume", "forceDelete": "os_compute_api:os-deferred-delete:force", "os-forceDelete": "os_compute_api:os-deferred-delete:force", "reboot": "os_compute_api:servers:reboot", "migrate": "os_compute_api:os-migrate-server:migrate", "resize": "os_compute_api:servers:resize", "confirmResize": "os_compute_api:servers:confirm_resize", "revertResize": "os_compute_api:servers:revert_resize", "os-migrateLive": "os_compute_api:os-migrate-server:migrate_live", "evacuate": "os_compute_api:os-evacuate", "createImage": "os_compute_api:servers:create_image"])) { request, context in
            let instance = try await ownedInstance(context)
            let body = try JSONFields(try await request.jsonObject(limit: bodyLimit), path: "")
            guard body.object.count == 1, let name = body.object.keys.first else {
                throw StratusError.badRequest("The action body must name exactly one action.")
            }
            switch name {
            case "os-getConsoleOutput":
                return try await consoleOutput(instance, body)
            case "unlock":
                try await setLock(instance, locked: false, reason: nil, context)
                return JSONResponse.empty(.accepted)
            case "os-resetState":
                try await resetState(instance, body)
                return JSONResponse.empty(.accepted)
            default: break
            }
            try requireWritable(instance, context)
            switch name {
            case "os-stop": try await begin(.stop, instance, context)
            case "os-start": try await begin(.start, instance, context)
            case "pause": try await begin(.pause, instance, context)
            case "unpause": try await begin(.unpause, instance, context)
            case "suspend": try await begin(.suspend, instance, context)
            case "resume": try await begin(.resume, instance, context)
            case "forceDelete", "os-forceDelete": try await begin(.delete, instance, context, force: true)
            case "reboot":
                let reboot = try body.fields("reboot", required: true)!
                let type = try reboot.requiredString("type").uppercased()
                guard type == "SOFT" || type == "HARD" else {
                    throw StratusError.badRequest("Invalid input for field/attribute type. Value: \(type). It must be one of SOFT, HARD.")
                }
                try await begin(type == "HARD" ? .rebootHard : .reboot, instance, context)
            case "migrate": try await migrate(instance, body, context, path: request.uri.path)
            case "resize": try await resize(instance, body, context)
            case "os-migrateLive": try await liveMigrate(instance, body, context, path: request.uri.path)
            case "createImage": return try await createImage(instance, body, context)
            case "evacuate":
                guard let reply = try await evacuate(instance, body, context) else { return JSONResponse.empty(.ok) }
                return JSONResponse.make(status: .ok, reply)
            case "confirmResize":
                try await settleResize(instance, confirm: true, context)
                return JSONResponse.empty(.noContent)
            case "revertResize": try await settleResize(instance, confirm: false, context)
            case "lock":
                let reason = context.microversion.atLeast(2, 73) ? try body.fields("lock")?.string("locked_reason", allowEmpty: true, nullable: true) : nil
                try await setLock(instance, locked: true, reason: reason, context)
            default:
                throw StratusError.badRequest("Action \(name) is not supported.")
            }
            return JSONResponse.empty(.accepted)
        }
        router.get("compute/v2.1/servers/:id/os-instance-actions", .rule("os_compute_api:os-instance-actions:list")) { _, context in
            let instance = try await ownedInstance(context)
            let actions = try await servers.actions(instanceUUID: instance.uuid)
            return JSONResponse.make(status: .ok, ["instanceActions": .array(actions.map { actionJSON($0, context, events: false) })])
        }
        router.get("compute/v2.1/servers/:id/os-instance-actions/:request_id", .rule("os_compute_api:os-instance-actions:show")) { _, context in
            let instance = try await ownedInstance(context)
            let requestID = try context.parameters.require("request_id")
            guard let action = try await servers.actions(instanceUUID: instance.uuid).first(where: { $0.requestID == requestID }) else {
                throw StratusError.notFound("Action \(requestID) not found")
            }
            return JSONResponse.make(status: .ok, ["instanceAction": actionJSON(action, context, events: true)])
        }
        router.post("compute/v2.1/os-server-external-events", .rule("os_compute_api:os-server-external-events:create")) { request, context in
            return try await externalEvents(try await request.jsonObject(limit: bodyLimit), context)
        }
    }

    /// Records the action and hands it to the conductor, refusing illegal transitions with Nova's 409. `force`
    /// (os-forceDelete) deletes whatever task is running, and sends the destroy again to a stuck delete.
    func begin(_ action: InstanceAction, _ instance: Instance, _ context: StratusRequestContext, force: Bool = false) async throws {
        let auth = try context.requireAuth()
        try await servers.storage.transaction { tx in
            guard var current = try await servers.instance(instance.uuid, in: tx), !current.deleted else {
                throw StratusError.notFound("Instance \(instance.uuid) could not be found.")
            }
            guard let task = force ? .deleting : action.begin(from: current.vmState, task: current.taskState) else {
                throw Self.invalidState(action.recordName, current)
            }
            current.taskState = task
            try await servers.save(current, in: tx)
            _ = try await servers.startAction(action.recordName, instance: current, requestID: context.requestID,
                                               userID: auth.userID, projectID: auth.projectID ?? "", in: tx)
            try await queue.request(action.request(for: current.uuid), requestID: context.requestID, in: tx)
        }
    }

    func setLock(_ instance: Instance, locked: Bool, reason: String?, _ context: StratusRequestContext) async throws {
        let auth = try context.requireAuth()
        try await servers.storage.transaction { tx in
            guard var current = try await servers.instance(instance.uuid, in: tx) else { return }
            current.locked = locked
            current.lockedReason = locked ? reason : nil
            try await servers.save(current, in: tx)
            _ = try await servers.startAction(locked ? "lock" : "unlock", instance: current, requestID: context.requestID,
                                               userID: auth.userID, projectID: auth.projectID ?? "", in: tx)
        }
    }

    /// Admin's `os-resetState`: `active` or `error`, task state cleared, nothing sent to the host.
    func resetState(_ instance: Instance, _ body: JSONFields) async throws {
        let state = try body.fields("os-resetState", required: true)!.requiredString("state")
        guard let vm = ["active": VMState.active, "error": .error][state] else {
            throw StratusError.badRequest("Invalid input for field/attribute state. Value: \(state). It must be one of active, error.")
        }
        try await servers.storage.transaction { tx in
            guard var current = try await servers.instance(instance.uuid, in: tx) else { return }
            current.vmState = vm
            current.taskState = nil
            try await servers.save(current, in: tx)
        }
    }

    /// The guest's console log, asked of its host through the queue.
    func consoleOutput(_ instance: Instance, _ body: JSONFields) async throws -> Response {
        let options = try body.fields("os-getConsoleOutput", required: true)!
        var lines: Int?
        let length = options.object["length"]
        if length == nil || length == .null {
            lines = nil
        } else if let n = length?.intValue ?? length?.stringValue.flatMap({ Int($0) }), n >= -1 {
            lines = n == -1 ? nil : n
        } else {
            throw StratusError.badRequest("Invalid input for field/attribute length: it must be an integer >= -1.")
        }
        guard let host = instance.host, instance.vmState != .building else {
            throw StratusError.conflict("Instance \(instance.uuid) is not ready: it has no running guest yet.")
        }
        let reply: ConsoleReply
        do {
            reply = try await queue.ask(.console(ConsoleRequest(instanceUUID: instance.uuid, lines: lines)), of: host, timeout: 15,
                                         requestID: nil)
        } catch {
            throw StratusError(.conflict, "The console of \(instance.uuid) is not available: host \(host) did not answer (\(error)).")
        }
        if let error = reply.error { throw StratusError.conflict("Console output is unavailable: \(error)") }
        return JSONResponse.make(status: .ok, ["output": .string(reply.output ?? "")])
    }

    /// `os-server-external-events`: each event is recorded on its instance's timeline; unknown instances 404.
    func externalEvents(_ body: JSON, _ context: StratusRequestContext) async throws -> Response {
        guard let events = body["events"]?.arrayValue, !events.isEmpty else {
            throw StratusError.badRequest("Invalid input for field/attribute events: a non-empty list is required.")
        }
        let known = ["network-changed", "network-vif-plugged", "network-vif-unplugged", "network-vif-deleted", "volume-extended",
                     "power-update", "accelerator-request-bound", "volume-reimaged"]
        var results: [JSON] = []
        var anyFound = false
        for raw in events {
            let event = try JSONFields(raw, path: "events")
            let name = try event.requiredString("name")
            guard known.contains(name) else {
                throw StratusError.badRequest("Invalid input for field/attribute name. Value: \(name). It must be one of \(known.joined(separator: ", ")).")
            }
            let uuid = try event.requiredString("server_uuid")
            let status = try event.string("status") ?? "completed"
            let tag = try event.string("tag")
            var result = event.object
            result["status"] = .string(status)
            if let instance = try await servers.instance(uuid), !instance.deleted {
                anyFound = true
                result["code"] = 200
                try await servers.storage.transaction { tx in
                    _ = try await servers.startAction("external-event", instance: instance, requestID: context.requestID,
                                                       userID: instance.userID, projectID: instance.projectID, in: tx)
                    try await servers.recordEvent(
                        instanceUUID: uuid, action: "external-event", event: "compute_\(name)" , start: Clock.now(),
                        result: status == "failed" ? "Error" : "Success", host: instance.host,
                        details: tag.map { "tag \($0)" }, finishAction: true, in: tx)
                }
            } else {
                result["code"] = 404
            }
            results.append(.object(result))
        }
        guard anyFound else { throw StratusError.notFound("No instances found for any event") }
        return JSONResponse.make(status: .ok, ["events": .array(results)])
    }
}
