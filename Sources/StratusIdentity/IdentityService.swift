import Crypto
import Foundation
import HummingbirdBcrypt
import Logging
import NIOPosix
import StratusCore
import StratusStorage

/// Keystone's behaviour without HTTP: authentication, token issue/validate/revoke, and the bootstrap.
public struct IdentityService: Sendable {
    /// Settings from `[token]` and `[identity]`.
    public struct Settings: Sendable {
        public var tokenLifetime: Double = 3600
        public var passwordHashRounds: Int = 12
        public var revocationCacheSeconds: Double = 5
        public init() {}
    }

    public let store: IdentityStore
    public let settings: Settings
    let codec: TokenCodec
    let revocations: RevocationList

    public init(storage: Storage, tokenKey: SymmetricKey, settings: Settings) {
        self.store = IdentityStore(storage: storage)
        self.settings = settings
        self.codec = TokenCodec(key: tokenKey)
        self.revocations = RevocationList(hub: storage.wakeups, refreshInterval: settings.revocationCacheSeconds)
    }

    static let authenticationRequired = "The request you have made requires authentication."

    // MARK: Passwords

    /// bcrypt is deliberately slow (~0.25 s at cost 12): run it off the event loops.
    public func hashPassword(_ password: String) async throws -> String {
        let rounds = UInt8(settings.passwordHashRounds)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: rounds) }
    }

    func verifyPassword(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    // MARK: Authentication

    /// Who the password method names: a user id, or a name with its domain (by id or name).
    public struct PasswordCredentials: Sendable {
        public var userID: String?
        public var userName: String?
        public var domainID: String?
        public var domainName: String?
        public var password: String

        public init(userID: String? = nil, userName: String? = nil, domainID: String? = nil,
                    domainName: String? = nil, password: String) {
            self.userID = userID
            self.userName = userName
            self.domainID = domainID
            self.domainName = domainName
            self.password = password
        }
    }

    /// The scope asked for in `auth.scope`.
    public enum Scope: Sendable, Equatable {
        /// No scope given: the user's default project if it has one, else unscoped.
        case defaultProject
        case unscoped
        case project(id: String?, name: String?, domainID: String?, domainName: String?)
    }

    /// The password method. Every failure is the same 401, so callers cannot probe which users exist.
    public func authenticate(_ credentials: PasswordCredentials, scope: Scope) async throws -> (String, TokenPayload) {
        let found: (user: User, hash: String?)
        do {
            if let id = credentials.userID {
                found = try await store.userWithHash(id: id)
            } else {
                let domain = try await resolveDomain(id: credentials.domainID, name: credentials.domainName)
                found = try await store.userWithHash(name: credentials.userName ?? "", domainID: domain.id)
            }
        } catch let error as StratusError where error.code == .itemNotFound {
            throw StratusError.unauthorized(Self.authenticationRequired)
        }
        guard let hash = found.hash, try await verifyPassword(credentials.password, hash: hash) else {
            throw StratusError.unauthorized(Self.authenticationRequired)
        }
        guard found.user.enabled else { throw StratusError.unauthorized(Self.authenticationRequired) }
        return try await issue(for: found.user, scope: scope, methods: ["password"])
    }

    /// The token method: a new token for the same user, possibly with another scope, expiring no later.
    public func rescope(_ token: String, scope: Scope) async throws -> (String, TokenPayload) {
        let old = try await validate(token)
        let user = try await store.user(id: old.userID)
        var (_, payload) = try await issue(for: user, scope: scope, methods: old.methods)
        payload.expiresAt = min(payload.expiresAt, old.expiresAt)
        payload.auditID = old.auditID
        return (try codec.seal(payload), payload)
    }

    private func resolveDomain(id: String?, name: String?) async throws -> Domain {
        if let id { return try await store.domain(id: id) }
        if let name { return try await store.domain(name: name) }
        return try await store.domain(id: "default")
    }

    private func issue(for user: User, scope: Scope, methods: [String]) async throws -> (String, TokenPayload) {
        let userDomain = try await store.domain(id: user.domainID)
        let now = Clock.now()
        var payload = TokenPayload(
            userID: user.id, userName: user.name, userDomainID: userDomain.id, userDomainName: userDomain.name,
            projectID: nil, projectName: nil, projectDomainID: nil, projectDomainName: nil, roles: [],
            methods: methods, issuedAt: now, expiresAt: now + settings.tokenLifetime,
            auditID: TokenCodec.base64URL(Data(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })))
        var project: Project?
        switch scope {
        case .unscoped: break
        case .defaultProject:
            if let id = user.defaultProjectID { project = try? await store.project(id: id) }
        case .project(let id, let name, let domainID, let domainName):
            do {
                if let id {
                    project = try await store.project(id: id)
                } else {
                    let domain = try await resolveDomain(id: domainID, name: domainName)
                    project = try await store.project(name: name ?? "", domainID: domain.id)
                }
            } catch let error as StratusError where error.code == .itemNotFound {
                throw StratusError.unauthorized(
                    "\(Self.authenticationRequired) (No project \(id ?? name ?? "") in that domain.)")
            }
        }
        if let project {
            guard project.enabled else {
                throw StratusError.unauthorized("\(Self.authenticationRequired) (Project \(project.name) is disabled.)")
            }
            let roles = try await store.effectiveRoles(userID: user.id, projectID: project.id)
            guard !roles.isEmpty else {
                throw StratusError.unauthorized(
                    "\(Self.authenticationRequired) (User \(user.name) has no role on project \(project.name).)")
            }
            let projectDomain = try await store.domain(id: project.domainID)
            payload.projectID = project.id
            payload.projectName = project.name
            payload.projectDomainID = projectDomain.id
            payload.projectDomainName = projectDomain.name
            payload.roles = roles.map { .init(id: $0.id, name: $0.name) }
        }
        return (try codec.seal(payload), payload)
    }

    // MARK: Validation

    /// Opens and checks a token: 401 when it is malformed, tampered with, expired or revoked.
    public func validate(_ token: String) async throws -> TokenPayload {
        guard let payload = codec.open(token) else {
            throw StratusError.unauthorized("\(Self.authenticationRequired) (The token is malformed or was not issued here.)")
        }
        guard payload.expiresAt > Clock.now() else {
            throw StratusError.unauthorized("\(Self.authenticationRequired) (The token has expired.)")
        }
        if revocations.isStale { try await reloadRevocations() }
        guard !revocations.isRevoked(payload) else {
            throw StratusError.unauthorized("\(Self.authenticationRequired) (The token has been revoked.)")
        }
        return payload
    }

    private func reloadRevocations() async throws {
        let version = revocations.currentVersion()
        let events = try await store.revocations(since: Clock.now())
        revocations.replace(with: events, version: version)
    }

    /// Revokes one token (DELETE /v3/auth/tokens), effective at once in this process.
    public func revoke(_ payload: TokenPayload) async throws {
        try await store.storage.transaction { tx in
            try await store.revoke(auditID: payload.auditID, expiresAt: payload.expiresAt, in: tx)
        }
    }

    /// Seals a payload as-is; tests use it to make expired tokens.
    public func seal(_ payload: TokenPayload) throws -> String { try codec.seal(payload) }
}
