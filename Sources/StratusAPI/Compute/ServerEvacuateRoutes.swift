import Hummingbird
import StratusCompute
import StratusCore
import StratusMessages
import StratusQueue
import StratusStorage

/// `evacuate` (admin): rebuild a server whose host is down on another host, with each microversion's body
/// (`onSharedStorage` before 2.14, `force` in 2.29–2.67) and 2.95's stopped destination. Nova's checks and
/// messages; the migration (`accepted`, type `evacuation`), task `rebuilding`, the action and the conductor's
/// request commit together.
extension ComputeAPI {
    /// The reply's body: the admin password before 2.14, nothing after.
    func evacuate(_ instance: Instance, _ body: JSONFields, _ context: StratusRequestContext) async throws -> JSON? {
        let version = context.microversion
        let options = try body.fields("evacuate", required: true)!
        var allowed: Set<String> = ["host", "adminPass"]
        if !version.atLeast(2, 14) { allowed.insert("onSharedStorage") }
        if version.atLeast(2, 29) && !version.atLeast(2, 68) { allowed.insert("force") }
        try options.rejectUnknown(allowed)
        // Before 2.14 the admin says whether the disk is on shared storage, and the destination checks it.
        var onSharedStorage: Bool?
        if !version.atLeast(2, 14) {
            guard options.has("onSharedStorage") else {
                throw JSONFields.invalid("evacuate/onSharedStorage", "'onSharedStorage' is a required property")
            }
            onSharedStorage = try options.bool("onSharedStorage")
        }
        let host = try options.string("host")
        let password = try options.string("adminPass") ?? Identifier.uuid().replacingOccurrences(of: "-", with: "").prefix(12).description
        _ = try options.bool("force")
        let services = try await hostStore.services()
        if let host {
            guard services.contains(where: { $0.host == host }) else { throw StratusError.notFound("Compute host \(host) not found.") }
            guard host != instance.host else { throw StratusError.badRequest("The target host can't be the same one.") }
        }
        guard instance.taskState == nil, [.active, .stopped, .error].contains(instance.vmState), let source = instance.host else {
            throw Self.invalidState("evacuate", instance)
        }
        // Nova evacuates only from a host whose compute service is down (or forced down).
        if let service = services.first(where: { $0.host == source }), isUp(service) {
            throw StratusError.badRequest("Compute service of \(source) is still in use.")
        }
        let auth = try context.requireAuth()
        let stopped = version.atLeast(2, 95)
        try await recordMove(instance, action: "evacuate", task: .rebuilding, context) { current in
            current.taskState == nil && [.active, .stopped, .error].contains(current.vmState) && current.host == source
        } migration: { current in
            var record = MigrationRecord(instance: current, kind: .evacuation, newFlavor: current.flavor, requestedHost: host,
                                         userID: auth.userID, projectID: current.projectID)
            record.status = .accepted
            record.targetState = stopped || current.vmState == .stopped ? .stopped : .active
            return record
        } request: { [onSharedStorage] ref in
            var ref = ref
            ref.onSharedStorage = onSharedStorage
            return .evacuate(ref)
        }
        return version.atLeast(2, 14) ? nil : ["adminPass": .string(password)]
    }
}
