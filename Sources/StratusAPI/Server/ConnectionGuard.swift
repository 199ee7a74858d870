import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import StratusCore
import Synchronization

/// The listener's limits (`[api]` options): how long a connection may take to send a request head, sit idle
/// between requests, or pause inside a body, and how many connections may be open at once.
public struct ConnectionLimits: Sendable {
    /// `[api] header_timeout`: from accepting the connection to a complete first request head.
    public var headerTimeout: Duration = .seconds(30)
    /// `[api] keepalive_timeout`: from the end of a response to the next complete request head.
    public var keepAliveTimeout: Duration = .seconds(60)
    /// `[api] body_chunk_timeout`: the longest pause between two pieces of a request body.
    public var bodyChunkTimeout: Duration = .seconds(30)
    /// `[api] body_timeout`: the longest a whole request body may take to arrive.
    public var bodyTimeout: Duration = .seconds(300)
    /// `[api] max_connections`: connections beyond it get 503 and are closed.
    public var maxConnections = 1000
    /// `[oslo_middleware] max_request_body_size`: bodies declared larger (streamed image uploads) are bounded by
    /// `bodyChunkTimeout` only, not by `bodyTimeout`.
    public var maxBufferedBody = 114_688

    public init() {}
}

/// Open connections across the listener.
public final class ConnectionCounter: Sendable {
    private let open = Atomic<Int>(0)
    public init() {}
    public var current: Int { open.load(ordering: .relaxed) }
    func acquire(max: Int) -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= max { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }
    func release() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// One per connection, after the HTTP decoder: arms the deadline that applies to what the connection is doing,
/// closes it when the deadline passes, answers 503 beyond the connection cap and 501 to transfer codings other
/// than `chunked`. Slow or idle clients then cost a bounded time, memory and descriptors.
public final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    let limits: ConnectionLimits
    let counter: ConnectionCounter
    private var admitted = false
    private var counted = false
    private var refused = false
    private var timer: Scheduled<Void>?
    /// Requests whose head arrived and whose response has not ended (HTTP/1.1 pipelining can make it more than one).
    private var inFlight = 0
    /// Set while a request body is being read: when it started, and whether the whole-body deadline applies.
    private var bodyStarted: NIODeadline?
    private var bodyDeadlineApplies = false
    /// The application asked for more bytes and has not had them yet. A body's pause counts only then: while the
    /// server itself is not reading (back-pressure), the client is not to blame.
    private var readOutstanding = false

    public init(limits: ConnectionLimits, counter: ConnectionCounter) {
        self.limits = limits
        self.counter = counter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        admitted = counter.acquire(max: limits.maxConnections)
        // A connection over the cap gets its 503 as soon as it speaks, and little time to do so.
        arm(context, after: admitted ? limits.headerTimeout : min(limits.headerTimeout, .seconds(1)))
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        releaseSlot()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        releaseSlot()
        context.fireChannelInactive()
    }

    public func read(context: ChannelHandlerContext) {
        readOutstanding = true
        if bodyStarted != nil && timer == nil { arm(context, after: limits.bodyChunkTimeout) }
        context.read()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        readOutstanding = false
        if bodyStarted != nil { cancelTimer() }
        context.fireChannelReadComplete()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if !admitted {
                return refuse(context, .serviceUnavailable, path: head.path ?? "/",
                              StratusError(.serviceUnavailable, "The server has too many open connections; try again shortly."))
            }
            if let coding = head.headerFields[.transferEncoding], coding.lowercased().trimmingCharacters(in: .whitespaces) != "chunked" {
                // Only safe to answer from here when nothing else is being answered on this connection.
                if inFlight == 0 {
                    return refuse(context, .notImplemented, path: head.path ?? "/", StratusError(
                        .init(status: 501, faultName: "notImplemented", title: "Not Implemented"),
                        "Transfer-Encoding '\(coding)' is not supported; only chunked is."))
                }
                context.close(promise: nil)
                return
            }
            inFlight += 1
            bodyStarted = .now()
            // Large declared bodies (image uploads) stream for as long as they keep moving; buffered ones must also
            // arrive whole within body_timeout.
            let length = head.headerFields[.contentLength].flatMap { Int($0) }
            bodyDeadlineApplies = length.map { $0 <= limits.maxBufferedBody } ?? true
            arm(context, after: limits.bodyChunkTimeout)
        case .body:
            if readOutstanding { arm(context, after: limits.bodyChunkTimeout) } else { cancelTimer() }
        case .end:
            bodyStarted = nil
            cancelTimer()
            // The response may have been sent before the body was read (a 401 or 413).
            if inFlight == 0 { arm(context, after: limits.keepAliveTimeout) }
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 && bodyStarted == nil { arm(context, after: limits.keepAliveTimeout) }
        }
        context.write(data, promise: promise)
    }

    /// (Re)arms the one deadline; a body's deadline never runs past the whole body's.
    private func arm(_ context: ChannelHandlerContext, after delay: Duration) {
        cancelTimer()
        var deadline = NIODeadline.now() + TimeAmount(delay)
        if let bodyStarted, bodyDeadlineApplies { deadline = min(deadline, bodyStarted + TimeAmount(limits.bodyTimeout)) }
        let loop = context.eventLoop.assumeIsolatedUnsafeUnchecked()
        timer = loop.scheduleTask(deadline: deadline) { [weak self] in
            self?.timer = nil
            context.close(promise: nil)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func releaseSlot() {
        if admitted {
            admitted = false
            counter.release()
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponse.Status, path: String, _ error: StratusError) {
        refused = true
        cancelTimer()
        let body = FaultMiddleware.faultBody(error, path: path, requestID: Identifier.requestID()).encodedBytes()
        var head = HTTPResponse(status: status)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.count)
        head.headerFields[.connection] = "close"
        if status == .serviceUnavailable { head.headerFields[.retryAfter] = "1" }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
