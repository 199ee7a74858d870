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
        ]
        for request in requests {
            let json = try WireFormat.encode(request)
            #expect(json["version"] == .int(WireFormat.version))
            #expect(try WireFormat.decode(ConductorRequest.self, from: json) == request)
        }
        #expect(InstanceAction.rebootHard.request(for: "u") == .power(PowerRequest(instanceUUID: "u", action: .rebootHard)))
        #expect(InstanceAction.delete.request(for: "u") == .delete(InstanceRef(instanceUUID: "u")))
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
            (["version": 1, "op": "migrate", "instance": "u"], "unknown conductor request 'migrate'"),
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
