import StratusCore
import StratusPlacement

/// Nova's `COMPUTE_STATUS_DISABLED` trait: a compute node's resource provider carries it exactly while the host's
/// service is disabled, so operators (and placement queries with `!COMPUTE_STATUS_DISABLED`) see it in Placement.
/// The API sets it when a service is disabled or enabled; the conductor's reconciler puts right whatever a crash
/// between the two writes left behind.
public struct ComputeStatusTrait: Sendable {
    public static let name = "COMPUTE_STATUS_DISABLED"
    let hosts: HostStore
    let placement: PlacementStore

    public init(hosts: HostStore, placement: PlacementStore) {
        self.hosts = hosts
        self.placement = placement
    }

    /// Sets the trait on `host`'s nodes to match `disabled`.
    public func apply(host: String, disabled: Bool) async throws {
        for node in try await hosts.nodes() where node.host == host {
            try await set(node.uuid, disabled: disabled)
        }
    }

    /// Compares every compute node with its service and fixes those that differ; returns how many it fixed.
    @discardableResult
    public func reconcile() async throws -> Int {
        let disabledHosts = Set(try await hosts.services().filter(\.disabled).map(\.host))
        let marked = try await placement.providers(withTrait: Self.name)
        var fixed = 0
        for node in try await hosts.nodes() {
            let disabled = disabledHosts.contains(node.host)
            guard marked.contains(node.uuid) != disabled else { continue }
            try await set(node.uuid, disabled: disabled)
            fixed += 1
        }
        return fixed
    }

    private func set(_ node: String, disabled: Bool) async throws {
        do {
            try await placement.setTrait(Self.name, present: disabled, on: node)
        } catch let error as StratusError where error.code.status == 404 {
            // The host has not put its provider into Placement yet; its first report will, and the reconciler then marks it.
        }
    }
}
