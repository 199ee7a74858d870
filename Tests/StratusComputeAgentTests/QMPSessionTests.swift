import StratusComputeAgent
import StratusCore
import Testing

@Suite("QMP session")
struct QMPSessionTests {
    @Test("greeting → capabilities → ready; replies matched by id even after events that overtook them")
    func conversation() {
        var session = QMPSession()
        let greeting = session.receive(#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}"#)
        #expect(greeting.incoming == .greeting(version: "7.2.0"))
        #expect(greeting.send == #"{"execute":"qmp_capabilities","id":1}"# + "\n")
        #expect(session.phase == .negotiating)
        #expect(session.receive(#"{"return": {}, "id": 1}"#).incoming == .reply(id: 1, result: [:]))
        #expect(session.phase == .ready)

        let stop = session.send("stop")
        let status = session.send("query-status")
        // QEMU announces STOP before it answers the command that caused it.
        #expect(session.receive(#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#).incoming == .event(name: "STOP", data: [:]))
        #expect(session.receive(#"{"return": {"status": "paused", "running": false}, "id": \#(status.id)}"#).incoming
                == .reply(id: status.id, result: ["status": "paused", "running": false]))
        #expect(session.receive(#"{"return": {}, "id": \#(stop.id)}"#).incoming == .reply(id: stop.id, result: [:]))
        #expect(session.pending.isEmpty)
    }

    @Test("errors carry QEMU's class and text; garbage and unknown ids are unexpected, not crashes")
    func errorsAndGarbage() {
        var session = QMPSession()
        let sent = session.send("device_del", arguments: ["id": "nope"])
        #expect(sent.line.contains(#""arguments":{"id":"nope"}"#))
        #expect(session.receive(#"{"error": {"class": "DeviceNotFound", "desc": "Device 'nope' not found"}, "id": \#(sent.id)}"#).incoming
                == .failure(id: sent.id, errorClass: "DeviceNotFound", description: "Device 'nope' not found"))
        #expect(session.receive("not json").incoming == .unexpected("not json"))
        #expect(session.receive(#"{"return": {}, "id": 99}"#).incoming == .unexpected(#"{"return": {}, "id": 99}"#))
    }
}
