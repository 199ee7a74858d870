import Foundation
import HummingbirdTLS
import NIOSSL
import StratusCore

/// TLS on the API listener: `[api] ssl_cert_file` (PEM, the certificate and then its chain) and `[api]
/// ssl_key_file` (PEM), Nova's wsgi option names. Both or neither; a file that does not load stops the start
/// before anything is written.
enum ListenerTLS {
    static func configuration(_ config: CloudConfig) throws -> TLSConfiguration? {
        let certFile = config.configuration.string("api", "ssl_cert_file")
        let keyFile = config.configuration.string("api", "ssl_key_file")
        if certFile.isEmpty && keyFile.isEmpty { return nil }
        guard !certFile.isEmpty, !keyFile.isEmpty else {
            throw ConfigError("[api] ssl_cert_file and ssl_key_file go together (one of them is empty)")
        }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certFile) } catch {
            throw ConfigError("[api] ssl_cert_file \(certFile) holds no PEM certificate: \(error)")
        }
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw ConfigError("[api] ssl_key_file \(keyFile) holds no PEM private key: \(error)")
        }
        guard !chain.isEmpty else { throw ConfigError("[api] ssl_cert_file \(certFile) holds no certificate") }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}

extension CloudConfig {
    /// Whether the listener speaks TLS (`[api] ssl_cert_file` is set).
    var listenerUsesTLS: Bool { !configuration.string("api", "ssl_cert_file").isEmpty }

    /// `https` with a certificate, else `http`: the scheme of the listener's own URLs.
    var listenerScheme: String { listenerUsesTLS ? "https" : "http" }

    /// The CA bundle local agents verify the listener with: `[service_user] cafile`, else (a self-signed
    /// listener) its own certificate; empty without TLS (nothing to verify).
    var localAgentCAFile: String {
        let configured = configuration.string("service_user", "cafile")
        if !configured.isEmpty || !listenerUsesTLS { return configured }
        return configuration.string("api", "ssl_cert_file")
    }
}
