import NIOCore
import NIOHTTP1
import NIOPosix
import StratusCore

/// A keep-alive HTTP/1.1 connection for benchmarks: one request at a time, as a real API client sends them.
/// Lighter than URLSession, so a benchmark measures the server rather than the client it runs beside.
final class BenchConnection: Sendable {
    let channel: any Channel
    private let collector: NIOLoopBound<ResponseCollector>
    let host: String

    private init(channel: any Channel, collector: NIOLoopBound<ResponseCollector>, host: String) {
        self.channel = channel
        self.collector = collector
        self.host = host
    }

    static func connect(host: String, port: Int) async throws -> BenchConnection {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        let channel = try await bootstrap.connect(host: host, port: port).get()
        let collector = try await channel.eventLoop.submit {
            let collector = ResponseCollector()
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(collector)
            return NIOLoopBound(collector, eventLoop: channel.eventLoop)
        }.get()
        return BenchConnection(channel: channel, collector: collector, host: host)
    }

    /// Sends one request and returns the status and body size.
    func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)], body: [UInt8]? = nil) async throws -> (status: Int, bytes: Int) {
        let promise = channel.eventLoop.makePromise(of: (Int, Int).self)
        let host = self.host
        channel.eventLoop.execute { [collector, channel] in
            collector.value.pending = promise
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: host)
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if let body { head.headers.add(name: "Content-Length", value: String(body.count)) }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        let (status, bytes) = try await promise.futureResult.get()
        return (status, bytes)
    }

    func close() async { try? await channel.close() }
}

/// Collects one response at a time and completes the waiting promise.
final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    var pending: EventLoopPromise<(Int, Int)>?
    private var status = 0
    private var bytes = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            bytes = 0
        case .body(let buffer):
            bytes += buffer.readableBytes
        case .end:
            let promise = pending
            pending = nil
            promise?.succeed((status, bytes))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pending?.fail(error)
        pending = nil
        context.close(promise: nil)
    }
}
