import Crypto
import Foundation
import StratusCore

/// An SSH (or x509) public key a user registers for injection into servers (`os-keypairs`).
public struct Keypair: Sendable, Equatable {
    public var userID: String
    public var name: String
    public var type: String
    public var publicKey: String
    public var fingerprint: String
    public var createdAt: Double

    public init(userID: String, name: String, type: String, publicKey: String, fingerprint: String, createdAt: Double = Clock.now()) {
        self.userID = userID
        self.name = name
        self.type = type
        self.publicKey = publicKey
        self.fingerprint = fingerprint
        self.createdAt = createdAt
    }

    /// Nova's fingerprint of an OpenSSH public key: MD5 over the decoded key blob, as colon-separated hex.
    /// Throws when the text is not `TYPE BASE64 [comment]` with a blob that names the same type.
    public static func fingerprint(ofSSHKey text: String) throws -> String {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, let blob = Data(base64Encoded: String(parts[1])), blob.count > 4 else {
            throw StratusError.badRequest("Keypair data is invalid: failed to generate fingerprint")
        }
        let bytes = [UInt8](blob)
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard length > 0, 4 + length <= bytes.count, String(decoding: bytes[4..<(4 + length)], as: UTF8.self) == String(parts[0]) else {
            throw StratusError.badRequest("Keypair data is invalid: failed to generate fingerprint")
        }
        return Insecure.MD5.hash(data: blob).map { String(format: "%02x", $0) }.joined(separator: ":")
    }

    /// Nova's fingerprint of an x509 certificate: SHA-1 over the DER bytes.
    public static func fingerprint(ofCertificate text: String) throws -> String {
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body), !der.isEmpty else {
            throw StratusError.badRequest("Keypair data is invalid: failed to generate fingerprint")
        }
        return Insecure.SHA1.hash(data: der).map { String(format: "%02x", $0) }.joined(separator: ":")
    }

    /// A new ed25519 key pair for microversions before 2.92, where Nova generates the key: the OpenSSH public
    /// key line and the private key in OpenSSH's own PEM format.
    public static func generateSSH(comment: String) -> (publicKey: String, privateKey: String) {
        let key = Curve25519.Signing.PrivateKey()
        let publicRaw = [UInt8](key.publicKey.rawRepresentation)
        let seed = [UInt8](key.rawRepresentation)
        var publicBlob: [UInt8] = []
        sshString(&publicBlob, Array("ssh-ed25519".utf8))
        sshString(&publicBlob, publicRaw)

        var secret: [UInt8] = []
        let check = UInt32.random(in: .min ... .max)
        sshUInt32(&secret, check)
        sshUInt32(&secret, check)
        sshString(&secret, Array("ssh-ed25519".utf8))
        sshString(&secret, publicRaw)
        sshString(&secret, seed + publicRaw)
        sshString(&secret, Array(comment.utf8))
        var pad: UInt8 = 1
        while secret.count % 8 != 0 {
            secret.append(pad)
            pad += 1
        }
        var file = Array("openssh-key-v1".utf8) + [0]
        sshString(&file, Array("none".utf8))
        sshString(&file, Array("none".utf8))
        sshString(&file, [])
        sshUInt32(&file, 1)
        sshString(&file, publicBlob)
        sshString(&file, secret)
        let encoded = Data(file).base64EncodedString()
        var lines: [String] = []
        var rest = Substring(encoded)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(70)))
            rest = rest.dropFirst(70)
        }
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + lines.joined(separator: "\n") + "\n-----END OPENSSH PRIVATE KEY-----\n"
        return ("ssh-ed25519 " + Data(publicBlob).base64EncodedString() + " " + comment, pem)
    }

    static func sshUInt32(_ out: inout [UInt8], _ value: UInt32) {
        out += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func sshString(_ out: inout [UInt8], _ bytes: [UInt8]) {
        sshUInt32(&out, UInt32(bytes.count))
        out += bytes
    }
}
