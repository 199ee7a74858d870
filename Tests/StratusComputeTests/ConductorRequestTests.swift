import StratusCompute
import StratusCore
import StratusMessages
import Testing

@Suite("Conductor requests on the wire")
struct ConductorRequestTests {
    @Test("every request survives encode and decode; every API action maps onto one")
    func roundTrip() throws {
        let requests: [ConductorRequest] = InstanceAction.allCases.map { $0.request(for: "u-1") } + [
            .build(InstanceRef(instanceUUID: "u-2")), .release(ReleaseRequest(instanceUUID: "u-3", ports: false)),
            .migrate(MigrationRef(instanceUUID: "u-4", migrationUUID: "m-1")),
            .confirmResize(MigrationRef(instanceUUID: "u-4", migrationUUID: "m-1")),
            .revertResize(MigrationRef(instanceUUID: "u-4", migrationUUID: "m-1")),
        ]
        for request in requests {
            let json = try WireFormat.encode(request)
            #expect(json["version"] == .int(WireFormat.version))
            #expect(try WireFormat.decode(ConductorRequest.self, from: json) == request)
        }
        #expect(InstanceAction.rebootHard.request(for: "u") == .power(PowerRequest(instanceUUID: "u", action: .rebootHard)))
        #expect(InstanceAction.delete.request(for: "u") == .delete(InstanceRef(instanceUUID: "u")))
    }

    @Test("every step of a move, and its report, survives encode and decode; a move without its migration is refused")
    func moveMessages() throws {
        let guest = SpawnRequest(instanceUUID: "u", instanceName: "instance-u", vcpus: 1, memoryMB: 128, rootGB: 1, imageRef: "i",
                                 ports: [SpawnPort(id: "p", mac: "fa:16:3e:00:00:01")])
        let request = MoveRequest(migrationUUID: "m", sourceHost: "a", destHost: "b", guest: guest, oldRootGB: 1, powerOn: true)
        for step in MoveStep.allCases {
            let command = ComputeCommand.move(step, request)
            let json = try WireFormat.encode(command)
            #expect(json["op"] == .string(step.rawValue))
            #expect(try WireFormat.decode(ComputeCommand.self, from: json) == command)
            #expect(command.instanceUUID == "u")
            let report = HostReport.moved(MoveOutcome(host: "b", migrationUUID: "m", instanceUUID: "u", step: step, started: 1, error: "e"))
            #expect(try WireFormat.decode(HostReport.self, from: try WireFormat.encode(report)) == report)
            #expect(report.migrationUUID == "m")
            #expect(report.instanceUUID == nil)  // judged by its migration's hosts, not the instance's
        }
        #expect(throws: MessageError.self) {
            try WireFormat.decode(ComputeCommand.self, from: ["version": 1, "op": "finish_resize", "guest": .null])
        }
        // Live migration, snapshots and the conductor's new requests, both ways.
        let live = LiveMigrationRequest(migrationUUID: "m", sourceHost: "a", destHost: "b", guest: guest, blockMigration: true,
                                        incoming: LiveIncoming(uri: "tcp:127.0.0.1:1", nbd: "nbd:127.0.0.1:2:exportname=virtio0"), paused: true)
        for step in LiveStep.allCases {
            let command = ComputeCommand.liveMove(step, live)
            #expect(try WireFormat.encode(command)["op"] == .string(step.rawValue))
            #expect(try WireFormat.decode(ComputeCommand.self, from: try WireFormat.encode(command)) == command)
        }
        let reports: [HostReport] = [
            .liveMoved(LiveOutcome(host: "a", migrationUUID: "m", instanceUUID: "u", step: .checkSource, started: 1, sharedInstancePath: false)),
            .liveProgress(LiveProgress(host: "a", migrationUUID: "m", memoryTotal: 3, memoryProcessed: 2, memoryRemaining: 1)),
            .snapshot(SnapshotOutcome(host: "a", instanceUUID: "u", imageID: "i", phase: .uploading, started: 1)),
        ]
        for report in reports { #expect(try WireFormat.decode(HostReport.self, from: try WireFormat.encode(report)) == report) }
        #expect(reports.map(\.migrationUUID) == ["m", "m", nil])
        let ref = MigrationRef(instanceUUID: "u", migrationUUID: "m")
        let requests: [ConductorRequest] = [.liveMigrate(ref), .abortLiveMigration(ref), .forceCompleteLiveMigration(ref), .evacuate(ref),
                                            .snapshot(SnapshotRequest(instanceUUID: "u", imageID: "i"))]
        for request in requests {
            #expect(try ConductorRequest.decode(queued: try WireFormat.encode(request)) == request)
            #expect(request.instanceUUID == "u")
        }
        let snapshot = ComputeCommand.snapshot(SnapshotRequest(instanceUUID: "u", imageID: "i"))
        #expect(try WireFormat.decode(ComputeCommand.self, from: try WireFormat.encode(snapshot)) == snapshot)
    }

    @Test("the untyped requests queued before an upgrade are still read, each field by name")
    func legacy() throws {
        let cases: [(JSON, ConductorRequest)] = [
            (["op": "build", "instance": "u"], .build(InstanceRef(instanceUUID: "u"))),
            (["op": "delete", "instance": "u"], .delete(InstanceRef(instanceUUID: "u"))),
            (["op": "release", "instance": "u", "ports": false], .release(ReleaseRequest(instanceUUID: "u", ports: false))),
            (["op": "reboot", "instance": "u", "type": "HARD"], .power(PowerRequest(instanceUUID: "u", action: .rebootHard))),
            (["op": "stop", "instance": "u", "type": "SOFT"], .power(PowerRequest(instanceUUID: "u", action: .stop))),
        ]
        for (json, request) in cases { #expect(try ConductorRequest.decode(queued: json) == request) }
    }

    @Test("an unknown, future or incomplete request is refused with the reason, never guessed at")
    func refused() throws {
        let cases: [(JSON, String)] = [
            (["instance": "u"], "missing field 'version'"),
            (["op": "explode", "instance": "u"], "unknown conductor request 'explode'"),
            (["op": "reboot", "instance": "u"], "needs 'type' HARD or SOFT"),
            (["op": "release", "instance": "u"], "missing field 'ports'"),
            (["version": 1, "op": "shelve", "instance": "u"], "unknown conductor request 'shelve'"),
            (["version": 1, "op": "migrate", "instance": "u"], "missing field 'migration'"),
            (["version": 2, "op": "build", "instance": "u"], "unsupported message version 2"),
            (["version": 1, "op": "release", "instance": "u"], "missing field 'ports'"),
            (["version": 1, "op": "power", "instance": "u", "action": "explode"], "action"),
        ]
        for (json, says) in cases {
            #expect {
                try ConductorRequest.decode(queued: json)
            } throws: { error in
                "\(error)".contains(says)
            }
        }
    }
}
