import StratusCore

/// The QMP conversation with one QEMU as a value: it turns lines from the socket into what happened (greeting,
/// the reply to command N, an asynchronous event) and builds the lines to send. Events can arrive before the reply
/// to the command that caused them (qemu-here.md), so replies are matched by `id`, never by order.
public struct QMPSession: Sendable {
    /// What one line from QEMU meant.
    public enum Incoming: Sendable, Equatable {
        case greeting(version: String)
        case reply(id: Int, result: JSON)
        case failure(id: Int, errorClass: String, description: String)
        case event(name: String, data: JSON)
        /// A line that is not QMP (or a reply to no command we sent).
        case unexpected(String)
    }

    /// Negotiation: nothing may be sent but `qmp_capabilities` until QEMU acknowledged it.
    public enum Phase: Sendable, Equatable { case awaitingGreeting, negotiating, ready }

    public private(set) var phase: Phase = .awaitingGreeting
    private var nextID = 1
    /// Commands sent and not answered yet: id → command name.
    public private(set) var pending: [Int: String] = [:]

    public init() {}

    /// The line to send for `command` (with optional `arguments`) and the id its reply will carry.
    public mutating func send(_ command: String, arguments: JSON? = nil) -> (id: Int, line: String) {
        let id = nextID
        nextID += 1
        pending[id] = command
        var message: [String: JSON] = ["execute": .string(command), "id": .int(id)]
        if let arguments { message["arguments"] = arguments }
        return (id, JSON.object(message).encodedString() + "\n")
    }

    /// Reads one line from QEMU. After the greeting it answers with the capabilities line to send, if any.
    public mutating func receive(_ line: String) -> (incoming: Incoming, send: String?) {
        guard let message = try? JSON.parse(line), case .object = message else { return (.unexpected(line), nil) }
        if let qmp = message["QMP"] {
            let version = qmp["version"]?["qemu"].map { v in
                "\(v["major"]?.intValue ?? 0).\(v["minor"]?.intValue ?? 0).\(v["micro"]?.intValue ?? 0)"
            } ?? "unknown"
            phase = .negotiating
            return (.greeting(version: version), send("qmp_capabilities").line)
        }
        if let name = message["event"]?.stringValue {
            return (.event(name: name, data: message["data"] ?? [:]), nil)
        }
        guard let id = message["id"]?.intValue, let command = pending.removeValue(forKey: id) else { return (.unexpected(line), nil) }
        if let error = message["error"] {
            return (.failure(id: id, errorClass: error["class"]?.stringValue ?? "GenericError",
                             description: error["desc"]?.stringValue ?? "unknown error"), nil)
        }
        if command == "qmp_capabilities" { phase = .ready }
        return (.reply(id: id, result: message["return"] ?? [:]), nil)
    }
}
