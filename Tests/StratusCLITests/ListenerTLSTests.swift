import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import StratusCloud
import StratusComputeAgent
import StratusCore
import StratusTesting
import Testing

/// TLS on the API listener (`[api] ssl_cert_file`/`ssl_key_file`): the local compute host registers over HTTPS,
/// verifying the certificate; the real CLI works with the CA; a client that does not trust it is refused.
@Suite("TLS on the API listener")
struct ListenerTLSTests {
    /// A self-signed certificate for 127.0.0.1 and localhost, made with openssl.
    static func certificate(in dir: String) async throws -> (cert: String, key: String) {
        let (cert, key) = (dir + "/api.crt", dir + "/api.key")
        let made = try await ProcessRunner.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=stratus-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert])
        try #require(made.status == 0, "openssl: \(made.stderr)")
        return (cert, key)
    }

    @Test("the cloud serves HTTPS; its compute host registers through it; the CLI works with the CA, and a client without it is refused")
    func httpsListener() async throws {
        let dir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try await Self.certificate(in: dir)
        let config = "[api]\nssl_cert_file = \(cert)\nssl_key_file = \(key)\n[fake_driver]\nhost_count = 1\n"
        try await CloudFixture.withCloud(extraConfig: config) { cloud in
            // Ready means the host registered, and it reached the control plane only over this listener.
            #expect(cloud.baseURL.hasPrefix("https://127.0.0.1:"))
            #expect(cloud.authURL.hasPrefix("https://"))
            let agentConfig = try String(contentsOfFile: cloud.cloudsFile.replacingOccurrences(of: "clouds.yaml", with: "compute-agent.conf"),
                                         encoding: .utf8)
            #expect(agentConfig.contains("cafile = \(cert)"))

            let trusting = ControlPlaneClient(
                credentials: ServiceCredentials(authURL: cloud.authURL, username: "admin", password: cloud.credentials.adminPassword,
                                                projectName: "admin", caFile: cert),
                logger: Logger(label: "tls-test"))
            let services = try await trusting.request(.GET, "compute", "/os-services")
            await trusting.shutdown()
            #expect(services.status == 200)
            #expect(services.json["services"]?.arrayValue?.map { $0["host"]?.stringValue } == ["fake-1"])

            let doubting = ControlPlaneClient(
                credentials: ServiceCredentials(authURL: cloud.authURL, username: "admin", password: cloud.credentials.adminPassword,
                                                projectName: "admin"),
                logger: Logger(label: "tls-test"))
            await #expect(throws: (any Error).self, "a certificate nobody vouched for is refused") {
                _ = try await doubting.request(.GET, "compute", "/os-services")
            }
            await doubting.shutdown()

            // Plain HTTP on the TLS port gets no HTTP answer.
            let plain = cloud.baseURL.replacingOccurrences(of: "https://", with: "http://")
            var request = URLRequest(url: URL(string: plain + "/identity/v3")!)
            request.timeoutInterval = 10
            let answered = try? await Task { [request] in try await URLSession.shared.data(for: request) }.value
            #expect((answered?.1 as? HTTPURLResponse)?.statusCode == nil)

            if let cli = ProcessRunner.openstackCLI {
                let listed = try await ProcessRunner.run(cli, ["--os-cloud", "stratus-admin", "compute", "service", "list", "-f", "json"],
                                                         environment: ["OS_CLIENT_CONFIG_FILE": cloud.cloudsFile, "OS_CACERT": cert])
                #expect(listed.status == 0, "\(listed.stderr)")
                #expect(listed.stdout.contains("fake-1"))
            }
        }
    }

    @Test("a half or broken TLS configuration stops the start with a clear message")
    func badTLSConfig() async throws {
        let dir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, _) = try await Self.certificate(in: dir)
        try "not a key".write(toFile: dir + "/bad.key", atomically: true, encoding: .utf8)
        for (extra, says) in [("ssl_cert_file = \(cert)", "go together"), ("ssl_cert_file = \(cert)\nssl_key_file = \(dir)/bad.key", "no PEM private key"),
                              ("ssl_cert_file = \(dir)/missing.crt\nssl_key_file = \(dir)/bad.key", "no PEM certificate")] {
            do {
                try await CloudFixture.withCloud(extraConfig: "[api]\n" + extra + "\n") { _ in Issue.record("started with \(extra)") }
            } catch {
                #expect("\(error)".contains(says), "\(error)")
            }
        }
    }
}
