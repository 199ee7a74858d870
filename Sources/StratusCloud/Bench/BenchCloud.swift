import Foundation
import Logging
import StratusCore

/// A throwaway all-in-one cloud for a benchmark: its own data dir, noauth2 tokens (`admin:admin`), cheap bcrypt,
/// no fake hosts unless `config` asks, SQLite or `databaseURL`; removed afterwards.
enum BenchCloud {
    static func run<T: Sendable>(_ name: String, config extra: String = "", databaseURL: String? = nil, logLevel: Logger.Level = .error,
                                 logger: Logger, _ body: @Sendable (ReadyCloud) async throws -> T) async throws -> T {
        let dir = NSTemporaryDirectory() + "stratus-bench-\(name)-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var text = "[DEFAULT]\ncompute_driver = fake\n[api]\nauth_strategy = noauth2\n[identity]\npassword_hash_rounds = 4\n[fake_driver]\nhost_count = 0\n[database]\nmax_pool_size = 40\n"
        if let databaseURL { text += "connection = \(databaseURL)\n" }
        try (text + extra).write(toFile: dir + "/stratus.conf", atomically: true, encoding: .utf8)
        let config = try CloudConfig.resolve(configPath: dir + "/stratus.conf", dataDir: dir, bind: "127.0.0.1", port: "0")
        var quiet = logger
        quiet.logLevel = logLevel
        return try await AllInOneCloud.withRunningCloud(config, logger: quiet, body)
    }
}
