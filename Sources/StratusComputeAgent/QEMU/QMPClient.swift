import NIOCore
import NIOPosix
import StratusCore

/// A QMP error: QEMU's class and description, or a monitor that did not answer.
struct QMPError: Error, Sendable, CustomStringConvertible {
    var errorClass: String
    var message: String
    var description: String { "QEMU: \(message) (\(errorClass))" }
}

/// A conversation with one guest's monitor socket. QEMU serves one QMP client at a time, so each driver operation
/// opens its own short connection; nothing is held between operations, which is what lets a restarted agent simply
/// carry on. Replies and events are told apart by `QMPSession`: events are kept in `events`, never taken for replies.
struct QMPConnection {
    private var session = QMPSession()
    private var inbound: NIOAsyncChannelInboundStream<String>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// Events seen so far on this connection, oldest first.
    private(set) var events: [(name: String, data: JSON)] = []
    private(set) var version = ""

    /// Connects to `socket`, negotiates capabilities and runs `body`; the whole conversation must finish within
    /// `timeout` seconds (a hung QEMU becomes an error, not a stuck agent).
    static func with<T: Sendable>(
        socket: String, timeout: Double = 10, _ body: (inout QMPConnection) async throws -> T
    ) async throws -> T {
        let channel: NIOAsyncChannel<String, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .connect(unixDomainSocketPath: socket) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
                        return try NIOAsyncChannel<String, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw QMPError(errorClass: "ConnectionFailed", message: "the monitor socket \(socket) does not answer (\(error))")
        }
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = QMPConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            try await connection.negotiate()
            return try await body(&connection)
        }
    }

    private init(inbound: NIOAsyncChannelInboundStream<String>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound
        self.outbound = outbound
    }

    private mutating func negotiate() async throws {
        while session.phase != .ready {
            let line = try await nextLine()
            let (incoming, reply) = session.receive(line)
            switch incoming {
            case .greeting(let version): self.version = version
            case .failure(_, let errorClass, let description): throw QMPError(errorClass: errorClass, message: description)
            case .event(let name, let data): events.append((name, data))
            case .reply, .unexpected: break
            }
            if let reply { try await outbound.write(ByteBuffer(string: reply)) }
        }
    }

    /// Sends `command` and returns its reply's `return`; events that arrive first are kept, not mistaken for it.
    @discardableResult
    mutating func execute(_ command: String, _ arguments: JSON? = nil) async throws -> JSON {
        let (id, line) = session.send(command, arguments: arguments)
        try await outbound.write(ByteBuffer(string: line))
        while true {
            let (incoming, _) = session.receive(try await nextLine())
            switch incoming {
            case .reply(id, let result): return result
            case .failure(id, let errorClass, let description): throw QMPError(errorClass: errorClass, message: description)
            case .event(let name, let data): events.append((name, data))
            default: continue
            }
        }
    }

    /// The guest's run state as QEMU names it (`running`, `paused`, `inmigrate`, `postmigrate`, `shutdown`…).
    mutating func status() async throws -> String {
        try await execute("query-status")["status"]?.stringValue ?? "unknown"
    }

    private mutating func nextLine() async throws -> String {
        guard let line = try await inbound.next() else {
            throw QMPError(errorClass: "Disconnected", message: "the monitor closed the connection")
        }
        return line
    }
}

/// Splits the monitor's byte stream into lines (QMP sends one JSON document per line).
private struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let length = newline - buffer.readerIndex
        let line = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(Self.wrapInboundOut(line.hasSuffix("\r") ? String(line.dropLast()) : line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
