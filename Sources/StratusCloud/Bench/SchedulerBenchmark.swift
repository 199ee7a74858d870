import Foundation
import Logging
import StratusCompute
import StratusComputeAgent
import StratusMessages
import StratusCore
import StratusPlacement
import StratusQueue
import StratusStorage

/// `stratus bench scheduler`: the conductor's scheduling decision (group and hint reads, host view, placement
/// index, filters, weighers) at a given number of hosts, with each chosen host then claimed so capacity shifts
/// as in real use. Hosts are registered straight into the database: no agents, no HTTP.
public struct SchedulerBenchmark: Sendable {
    public var hosts: Int
    public var decisions: Int

    public init(hosts: Int, decisions: Int) {
        self.hosts = hosts
        self.decisions = decisions
    }

    public func run(logger: Logger) async throws -> JSON {
        let dir = NSTemporaryDirectory() + "stratus-bench-scheduler-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try await Storage.withStorage(.sqlite(path: dir + "/bench.sqlite"), logger: logger) { storage in
            try await Migrator.apply(AllInOneCloud.migrations, to: storage, logger: logger)
            let placement = PlacementStore(storage: storage, batching: false)
            try await placement.loadIndex()
            let instances = InstanceStore(storage: storage)
            let conductor = Conductor(
                instances: instances, hosts: HostStore(storage: storage), placement: placement, queue: Queue(storage: storage),
                scheduler: .init(hostSubsetSize: 3), logger: logger)
            let registerStart = ContinuousClock.now
            let size = HostResources(vcpus: 64, memoryMB: 262_144, localGB: 2000)
            let inventories = InventoryPolicy().inventories(for: size).mapValues {
                Inventory(total: $0.total, reserved: $0.reserved, allocationRatio: $0.allocationRatio)
            }
            for i in 0..<hosts {
                // What an agent would put into Placement over HTTP, written straight to the store.
                let name = "bench-\(i + 1)"
                let node = try await conductor.registerHost(HostRegistration(
                    host: name, zone: "nova", resources: size, hypervisorType: "fake", hypervisorVersion: 1, cpuInfo: [:]))
                _ = try await placement.createProvider(uuid: node, name: name, parentUUID: nil)
                _ = try await placement.setInventories(uuid: node, generation: 0, inventories, reservedMayEqualTotal: true)
            }
            let registerSeconds = (ContinuousClock.now - registerStart).inSeconds
            let flavor = Flavor(id: "42", name: "m1.nano", memoryMB: 128, vcpus: 1, rootGB: 1)
            _ = conductor.metrics.drain()
            var claimed = 0
            for i in 0..<decisions {
                let uuid = Identifier.uuid()
                let instance = Instance(uuid: uuid, name: "d\(i)", projectID: "p", userID: "u", flavor: flavor, imageRef: "i",
                                        instanceName: uuid)
                let scheduling = try await conductor.decide(instance, tried: [])
                guard let host = scheduling.decision.ordered.first else { continue }
                try await placement.replaceAllocations([ConsumerAllocations(
                    consumerUUID: uuid, allocations: [ProviderAllocation(providerUUID: host.nodeUUID, resources: scheduling.resources)],
                    projectID: "p", userID: "u", consumerType: "INSTANCE")])
                claimed += 1
            }
            let samples = conductor.metrics.drain().sorted()
            return [
                "benchmark": "scheduler", "hosts": .int(hosts), "decisions": .int(samples.count), "claimed": .int(claimed),
                "decision_ms": ["median": .number(Percentile.of(samples, 0.5)), "p99": .number(Percentile.of(samples, 0.99)),
                                "max": .number(Percentile.of(samples, 1))],
                "host_registration_seconds": .number((registerSeconds * 10).rounded() / 10),
                "peak_rss_mib": .int(BootBenchmark.peakRSSMiB()), "machine": MachineInfo.json(),
            ]
        }
    }
}
