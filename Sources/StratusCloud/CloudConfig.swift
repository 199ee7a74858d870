import Foundation
import StratusCore
import StratusQueue
import StratusStorage

/// Everything `stratus up` needs, resolved from the config file and command-line flags (flags win).
public struct CloudConfig: Sendable {
    public var configuration: Configuration
    public var dataDir: String
    public var bindHost: String
    public var port: Int
    public var databaseURL: DatabaseURL
    /// The directory of the config file, if one was read; relative paths in it are resolved there.
    public var configDirectory: String?

    /// Reads `configPath` (if any), applies flag overrides, and checks the result. Every problem is a
    /// `ConfigError` naming where it came from.
    public static func resolve(configPath: String?, dataDir: String?, bind: String?, port: String?,
                               driver: String? = nil, fakeHosts: String? = nil, tinyGuest: String? = nil,
                               hosts: String? = nil) throws -> CloudConfig {
        var configuration = try configPath.map { try Configuration(path: $0) } ?? Configuration()
        if let driver { try configuration.override("DEFAULT", "compute_driver", driver, flag: "--driver") }
        if let tinyGuest { try configuration.override("qemu", "tiny_guest_dir", tinyGuest, flag: "--tiny-guest") }
        if let fakeHosts { try configuration.override("fake_driver", "host_count", fakeHosts, flag: "--fake-hosts") }
        if let hosts { try configuration.override("qemu", "host_count", hosts, flag: "--hosts") }
        if let bind { try configuration.override("api", "bind_host", bind, flag: "--bind") }
        if let port { try configuration.override("api", "bind_port", port, flag: "--port") }
        let stateFromFile = configuration.string("DEFAULT", "state_path")
        let dir = dataDir ?? (stateFromFile.isEmpty ? defaultDataDir() : stateFromFile)
        let connection = configuration.string("database", "connection")
        let url = try connection.isEmpty ? .sqlite(path: dir + "/stratus.sqlite") : DatabaseURL(parsing: connection)
        return CloudConfig(
            configuration: configuration, dataDir: dir, bindHost: configuration.string("api", "bind_host"),
            port: configuration.int("api", "bind_port"), databaseURL: url,
            configDirectory: configPath.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path })
    }

    /// `/var/lib/stratus` for root (what `scripts/up` uses), else under the user's home.
    public static func defaultDataDir() -> String {
        if getuid() == 0 { return "/var/lib/stratus" }
        return (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.local/share/stratus"
    }

    /// Creates the data directory if needed and proves it writable, before anything else is written there.
    public func prepareDataDir() throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigError("data directory \(dataDir) cannot be created: \(Self.reason(error))")
        }
        let probe = dataDir + "/.write-test-\(getpid())"
        guard fm.createFile(atPath: probe, contents: Data("ok".utf8)) else {
            throw ConfigError("data directory \(dataDir) is not writable by this user (uid \(getuid()))")
        }
        try? fm.removeItem(atPath: probe)
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
           let posix = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(posix.rawValue))
        }
        return nsError.localizedDescription
    }

    public var tokenKeyDirectory: String {
        let configured = configuration.string("token", "key_repository")
        return configured.isEmpty ? dataDir + "/token-keys" : configured
    }

    public var imageDirectory: String {
        let configured = configuration.string("image", "store_dir")
        return configured.isEmpty ? dataDir + "/images" : configured
    }

    /// `[oslo_policy] policy_file`, resolved: relative to the config file's directory (the data dir without one).
    public var policyFile: String {
        let configured = configuration.string("oslo_policy", "policy_file")
        if configured.hasPrefix("/") { return configured }
        return (configDirectory ?? dataDir) + "/" + configured
    }

    /// Nova's `instances_path`: guest directories and the image cache.
    public var instancesPath: String {
        let configured = configuration.string("DEFAULT", "instances_path")
        return configured.isEmpty ? dataDir + "/instances" : configured
    }

    /// The tiny guest's build directory, if configured.
    public var tinyGuestDirectory: String? {
        let configured = configuration.string("qemu", "tiny_guest_dir")
        return configured.isEmpty ? nil : configured
    }

    public var queueSettings: Queue.Settings {
        var settings = Queue.Settings()
        settings.leaseSeconds = configuration.double("queue", "lease_seconds")
        settings.maxAttempts = configuration.int("queue", "max_attempts")
        settings.retryBackoffSeconds = configuration.double("queue", "retry_backoff_seconds")
        settings.pollInterval = .milliseconds(Int(configuration.double("queue", "poll_interval_seconds") * 1000))
        return settings
    }
}
