import Crypto
import Foundation
import StratusCore

/// What a token carries: enough to answer validation and authorise requests without a database read.
public struct TokenPayload: Sendable, Equatable, Codable {
    public var userID: String
    public var userName: String
    public var userDomainID: String
    public var userDomainName: String
    public var projectID: String?
    public var projectName: String?
    public var projectDomainID: String?
    public var projectDomainName: String?
    public var roles: [RoleRef]
    public var methods: [String]
    public var issuedAt: Double
    public var expiresAt: Double
    public var auditID: String

    /// A role as the token lists it.
    public struct RoleRef: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
    }

    enum CodingKeys: String, CodingKey {
        case userID = "u", userName = "un", userDomainID = "ud", userDomainName = "udn"
        case projectID = "p", projectName = "pn", projectDomainID = "pd", projectDomainName = "pdn"
        case roles = "r", methods = "m", issuedAt = "i", expiresAt = "e", auditID = "a"
    }

    public var context: AuthContext {
        AuthContext(
            userID: userID, userName: userName, userDomainID: userDomainID, projectID: projectID,
            projectName: projectName, projectDomainID: projectDomainID, roles: roles.map(\.name), auditID: auditID,
            expiresAt: expiresAt)
    }
}

/// Seals token payloads with ChaCha20-Poly1305: the token is encrypted and authenticated, so it can be validated
/// from the key alone, and a tampered token fails to open.
public struct TokenCodec: Sendable {
    static let prefix = "s1"
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// Loads the key from `directory/0`, creating the directory and a fresh key on first use.
    /// Whether the key repository holds a key (`stratus bootstrap` made it; API processes only read it).
    public static func keyExists(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/0")
    }

    public static func loadOrCreateKey(in directory: String) throws -> SymmetricKey {
        let fm = FileManager.default
        let path = directory + "/0"
        if let data = fm.contents(atPath: path), let decoded = Data(base64Encoded: data), decoded.count == 32 {
            return SymmetricKey(data: decoded)
        }
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigError("cannot create token key directory \(directory): \(error.localizedDescription)")
        }
        let key = SymmetricKey(size: .bits256)
        let encoded = key.withUnsafeBytes { Data($0).base64EncodedData() }
        guard fm.createFile(atPath: path, contents: encoded, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError("cannot write token key \(path): permission denied or disk full")
        }
        return key
    }

    public func seal(_ payload: TokenPayload) throws -> String {
        let plaintext = try JSONEncoder().encode(payload)
        let box = try ChaChaPoly.seal(plaintext, using: key)
        return Self.prefix + Self.base64URL(box.combined)
    }

    /// Opens a token; nil when it is malformed, tampered with or sealed with another key.
    public func open(_ token: String) -> TokenPayload? {
        guard token.hasPrefix(Self.prefix), token.count < 4096,
            let combined = Self.fromBase64URL(String(token.dropFirst(Self.prefix.count))),
            let box = try? ChaChaPoly.SealedBox(combined: combined),
            let plaintext = try? ChaChaPoly.open(box, using: key)
        else { return nil }
        return try? JSONDecoder().decode(TokenPayload.self, from: plaintext)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func fromBase64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
