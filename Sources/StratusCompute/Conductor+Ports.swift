import StratusCore
import StratusNetwork

/// Ports of a build: created or taken over before the host spawns, released when the build fails or the server
/// is deleted. Keyed by the server's uuid as `device_id`, so a redelivered step finds what it already made.
extension Conductor {
    /// What a driver needs of each port: its id, MAC and addresses.
    struct BoundPort: Sendable {
        var port: Port
        var createdByBuild: Bool
    }

    /// Creates a port on each requested network (or takes over each requested port) for the instance, bound to
    /// `host`. Ports made by an earlier delivery of this step are reused.
    func bindPorts(_ instance: Instance, host: String) async throws -> [BoundPort] {
        // No network asked for (`networks: none`, or none to choose from): no port was ever made for it.
        if instance.requestedNetworks.isEmpty { return [] }
        var existing = try await network.ports(device: instance.uuid).filter { port in
            !instance.requestedNetworks.contains { $0.portID == port.id }
        }
        var bound: [BoundPort] = []
        for request in instance.requestedNetworks {
            if let portID = request.portID {
                guard var port = try await network.port(portID) else { throw NetworkError.notFound("Port", portID) }
                guard port.deviceID.isEmpty || port.deviceID == instance.uuid else {
                    throw StratusError.conflict("Port \(portID) is still in use.")
                }
                bind(&port, instance: instance, host: host)
                try await network.save(port)
                bound.append(BoundPort(port: port, createdByBuild: false))
            } else if let networkID = request.networkID {
                if let index = existing.firstIndex(where: { $0.networkID == networkID }) {
                    var port = existing.remove(at: index)
                    bind(&port, instance: instance, host: host)
                    try await network.save(port)
                    bound.append(BoundPort(port: port, createdByBuild: true))
                    continue
                }
                var port = Port(networkID: networkID, projectID: instance.projectID, macAddress: "")
                bind(&port, instance: instance, host: host)
                port.securityGroups = [try await network.ensureDefaultGroup(project: instance.projectID).id]
                let created = try await network.createWithGeneratedMAC(port, requests: request.fixedIP.map { [FixedIPRequest(ipAddress: $0)] } ?? [])
                bound.append(BoundPort(port: created, createdByBuild: true))
            }
        }
        return bound
    }

    func bind(_ port: inout Port, instance: Instance, host: String) {
        port.deviceID = instance.uuid
        port.deviceOwner = "compute:" + (instance.availabilityZone ?? "nova")
        port.bindingHostID = host
        port.bindingVIFType = "bridge"
    }

    /// Deletes the ports the build created and unbinds the ones the user brought (they stay, intact).
    func releasePorts(_ uuid: String, requested: [RequestedNetwork]) async throws {
        let userPorts = Set(requested.compactMap(\.portID))
        for var port in try await network.ports(device: uuid) {
            if userPorts.contains(port.id) {
                port.deviceID = ""
                port.deviceOwner = ""
                port.bindingHostID = ""
                port.bindingVIFType = "unbound"
                try await network.save(port)
            } else {
                _ = try await network.deletePort(port.id)
            }
        }
    }
}
