import Foundation
import StratusCore

/// Which SQL engine a database lives in.
public enum DatabaseEngine: String, Sendable, CaseIterable {
    case sqlite
    case postgresql
}

/// A parsed `[database] connection` value: `sqlite:///PATH` or `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB`.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public let engine: DatabaseEngine
    /// SQLite file path (or `:memory:`).
    public let path: String
    public let host: String
    public let port: Int
    public let username: String
    public let password: String?
    public let database: String

    public static func sqlite(path: String) -> DatabaseURL {
        DatabaseURL(engine: .sqlite, path: path, host: "", port: 0, username: "", password: nil, database: "")
    }

    init(engine: DatabaseEngine, path: String, host: String, port: Int, username: String, password: String?,
         database: String) {
        self.engine = engine
        self.path = path
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a connection URL; the error says what form is expected.
    public init(parsing text: String) throws {
        let expected = "expected sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw ConfigError("[database] connection '\(text)': empty path; \(expected)") }
            self = .sqlite(path: path)
            return
        }
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") || text.hasPrefix("postgresql+"),
            let components = URLComponents(string: text.replacingOccurrences(of: "postgresql+psycopg2://", with: "postgresql://"))
        else {
            throw ConfigError("[database] connection '\(text)' is invalid: \(expected)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ConfigError("[database] connection '\(text)' has no host: \(expected)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw ConfigError("[database] connection '\(text)' names no database: \(expected)")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else {
            throw ConfigError("[database] connection '\(text)' has port \(port) outside 1-65535")
        }
        self.init(
            engine: .postgresql, path: "", host: host, port: port,
            username: components.user?.removingPercentEncoding ?? "postgres",
            password: components.password?.removingPercentEncoding, database: database)
    }

    /// The URL with the password hidden, for logs.
    public var description: String {
        switch engine {
        case .sqlite: return "sqlite://\(path)"
        case .postgresql:
            return "postgresql://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
        }
    }
}
