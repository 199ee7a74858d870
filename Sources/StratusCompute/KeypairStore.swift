import SQLKit
import StratusCore
import StratusStorage

/// Key pairs, per user, limited by the `key_pairs` quota of the user's project.
public struct KeypairStore: Sendable {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    public func create(_ keypair: Keypair, project: String, quotas: QuotaStore) async throws {
        do {
            try await storage.transaction { tx in
                try await quotas.lockProject(project, in: tx)
                try await quotas.check(
                    "key_pairs", project: project,
                    countSQL: "SELECT COUNT(*) AS n FROM compute_keypairs WHERE user_id = \(bind: keypair.userID)",
                    refusal: "Quota exceeded, too many key pairs.", in: tx.sql)
                try await tx.sql.raw(
                    """
                    INSERT INTO compute_keypairs (user_id, name, key_type, public_key, fingerprint, created_at)
                    VALUES (\(bind: keypair.userID), \(bind: keypair.name), \(bind: keypair.type), \(bind: keypair.publicKey),
                        \(bind: keypair.fingerprint), \(bind: keypair.createdAt))
                    """
                ).run()
            }
        } catch where Storage.isUniqueViolation(error) {
            throw StratusError.conflict("Key pair '\(keypair.name)' already exists.")
        }
    }

    public func keypair(user: String, name: String) async throws -> Keypair? {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_keypairs WHERE user_id = \(bind: user) AND name = \(bind: name)").first().map(Self.keypair)
        }
    }

    public func list(user: String) async throws -> [Keypair] {
        try await storage.read { sql in
            try await sql.raw("SELECT * FROM compute_keypairs WHERE user_id = \(bind: user) ORDER BY name").all().map(Self.keypair)
        }
    }

    /// Deletes a key pair; false if there was none.
    public func delete(user: String, name: String) async throws -> Bool {
        try await storage.transaction { tx in
            guard try await tx.sql.raw(
                "SELECT name FROM compute_keypairs WHERE user_id = \(bind: user) AND name = \(bind: name)"
            ).first() != nil else { return false }
            try await tx.sql.raw("DELETE FROM compute_keypairs WHERE user_id = \(bind: user) AND name = \(bind: name)").run()
            return true
        }
    }

    static func keypair(_ row: any SQLRow) throws -> Keypair {
        Keypair(
            userID: try row.decode(column: "user_id", as: String.self), name: try row.decode(column: "name", as: String.self),
            type: try row.decode(column: "key_type", as: String.self), publicKey: try row.decode(column: "public_key", as: String.self),
            fingerprint: try row.decode(column: "fingerprint", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Double.self))
    }
}
