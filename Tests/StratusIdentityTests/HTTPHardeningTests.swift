import Foundation
import StratusCloud
import StratusCore
import StratusTesting
import Testing

/// A raw TCP client, for requests no well-behaved HTTP client would send.
struct RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw StratusError.badRequest("connect failed: \(errno)") }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) } }

    /// Everything until the server closes (or 20 s pass): the response text, and whether it closed. The blocking
    /// reads run on a thread of their own: on the cooperative pool (two threads on two cores) two tests waiting
    /// here would starve the in-process server they are waiting for.
    func readToClose() async -> (String, closed: Bool) {
        let fd = self.fd
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var data = [UInt8](), buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count == 0 { return continuation.resume(returning: (String(decoding: data, as: UTF8.self), true)) }
                    if count < 0 { return continuation.resume(returning: (String(decoding: data, as: UTF8.self), false)) }
                    data += buffer[0..<count]
                }
            }
        }
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite("The shared listener: timeouts, connection cap, framing")
struct HTTPHardeningTests {
    static let config = """
        [api]
        header_timeout = 1
        keepalive_timeout = 1
        body_chunk_timeout = 1
        body_timeout = 3
        max_connections = 40
        """

    @Test("idle, slow-header and slow-body connections are closed on time; other clients are unaffected")
    func timeouts() async throws {
        try await CloudFixture.withCloud(extraConfig: Self.config) { cloud in
            let port = URL(string: cloud.baseURL)!.port!
            // Idle from the start: closed after header_timeout with nothing sent.
            let idle = try RawConnection(port: port)
            // A head sent a byte at a time never completes within the deadline.
            let slowHead = try RawConnection(port: port)
            slowHead.send("GET /identity/v3 HT")
            // A body that pauses longer than body_chunk_timeout.
            let slowBody = try RawConnection(port: port)
            slowBody.send("POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a")
            // Meanwhile another client is served at once.
            let reply = try await TestHTTP(baseURL: cloud.baseURL).request("GET", "/identity/v3")
            #expect(reply.status == 200)
            // Each is closed by the server (the socket's own 20 s receive timeout would report "not closed").
            for connection in [idle, slowHead, slowBody] {
                let (_, closed) = await connection.readToClose()
                #expect(closed)
                connection.close()
            }
            // A keep-alive connection is closed keepalive_timeout after its response.
            let keepAlive = try RawConnection(port: port)
            keepAlive.send("GET /identity/v3 HTTP/1.1\r\nHost: x\r\n\r\n")
            let (text, closed) = await keepAlive.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(closed)
            keepAlive.close()
        }
    }

    @Test("beyond max_connections a request gets 503 and its connection is closed")
    func connectionCap() async throws {
        try await CloudFixture.withCloud(extraConfig: Self.config.replacingOccurrences(of: "header_timeout = 1", with: "header_timeout = 30")) { cloud in
            let port = URL(string: cloud.baseURL)!.port!
            let held = try (0..<40).map { _ in try RawConnection(port: port) }
            for _ in 0..<200 where cloud.openConnections.current < 40 { try await Task.sleep(for: .milliseconds(10)) }
            let extra = try RawConnection(port: port)
            extra.send("GET /compute/v2.1 HTTP/1.1\r\nHost: x\r\n\r\n")
            let (text, closed) = await extra.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 503"))
            #expect(text.contains("serviceUnavailable"))
            #expect(closed)
            extra.close()
            for connection in held { connection.close() }
            // Once they are gone the listener serves again. (This also lets the server's accept loop take up every
            // connection it accepted before the cloud stops: NIO traps on a connection dropped unhandled.)
            var waited = 0
            while cloud.openConnections.current >= 40 {
                waited += 1
                try #require(waited < 2000, "the held connections were never released")
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(try await TestHTTP(baseURL: cloud.baseURL).request("GET", "/identity/v3").status == 200)
        }
    }

    @Test("framing: a body cut short is 400, unknown transfer codings 501, NUL and bad UTF-8 400, path parameters decoded")
    func framing() async throws {
        try await CloudFixture.withCloud { cloud in
            let port = URL(string: cloud.baseURL)!.port!
            let short = try RawConnection(port: port)
            short.send("POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n")
            let (shortText, _) = await short.readToClose()
            #expect(shortText.hasPrefix("HTTP/1.1 400"), "\(shortText)")
            short.close()
            let coding = try RawConnection(port: port)
            coding.send("POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n")
            let (codingText, _) = await coding.readToClose()
            #expect(codingText.hasPrefix("HTTP/1.1 501") || codingText.hasPrefix("HTTP/1.1 400"), "\(codingText)")
            coding.close()

            let http = TestHTTP(baseURL: cloud.baseURL)
            let admin = try await http.token(user: "admin", password: cloud.credentials.adminPassword, project: "admin")
            let nul = try await http.request("POST", "/network/v2.0/security-groups", token: admin,
                                             rawBody: Data(#"{"security_group": {"name": "a\u0000b"}}"#.utf8))
            #expect(nul.status == 400)
            let badUTF8 = try await http.request("POST", "/network/v2.0/security-groups", token: admin,
                                                 rawBody: Data([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
            #expect(badUTF8.status == 400)
            let nulQuery = try await http.request("GET", "/compute/v2.1/servers?name=%00", token: admin)
            let badPath = try await http.request("GET", "/compute/v2.1/flavors/%FF", token: admin)
            #expect(nulQuery.status == 400)
            #expect(badPath.status == 400)
            // %2F in a path parameter is a slash in the name, not a path separator.
            let flavor = try await http.request("GET", "/compute/v2.1/flavors/a%2Fb", token: admin)
            #expect(flavor.status == 404)
            #expect(flavor.json["itemNotFound"]?["message"]?.stringValue?.contains("a/b") == true, "\(flavor.json)")
        }
    }

    @Test("a body is never parsed before the token is checked")
    func tokenBeforeBody() async throws {
        try await CloudFixture.withCloud { cloud in
            let http = TestHTTP(baseURL: cloud.baseURL)
            let create = try await http.request("POST", "/compute/v2.1/servers", rawBody: Data("{".utf8))
            let action = try await http.request("POST", "/compute/v2.1/servers/x/action", rawBody: Data("{".utf8))
            #expect(create.status == 401)
            #expect(action.status == 401)
        }
    }
}
