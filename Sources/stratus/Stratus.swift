import ArgumentParser
import Foundation
import Logging
import StratusCloud
import StratusCore
import StratusStorage

/// The `stratus` command: the all-in-one cloud and its operator tools.
@main
struct Stratus: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "stratus",
        abstract: "An OpenStack-compatible compute cloud in one binary.",
        subcommands: [Up.self, API.self, Conductor.self, Compute.self, Bootstrap.self, DB.self, Policy.self, Bench.self, Version.self])
}

/// Options every command that touches the cloud's state shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "Data directory (default /var/lib/stratus as root, else ~/.local/share/stratus).")
    var dataDir: String?

    @Option(help: "Configuration file in nova.conf's INI style.")
    var config: String?

    func resolve(bind: String? = nil, port: String? = nil, driver: String? = nil, fakeHosts: String? = nil,
                 tinyGuest: String? = nil, hosts: String? = nil) throws -> CloudConfig {
        try CloudConfig.resolve(configPath: config, dataDir: dataDir, bind: bind, port: port, driver: driver, fakeHosts: fakeHosts,
                                tinyGuest: tinyGuest, hosts: hosts)
    }
}

extension CloudConfig {
    func logWarnings(_ logger: Logger) {
        for warning in configuration.warnings { logger.warning("\(warning)") }
    }
}

/// Runs `body`, printing a failure as one clear line on stderr and exiting 1 instead of a stack of internals.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        FileHandle.standardError.write(Data("stratus: error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

/// Resolves the configuration, sets up logging and says its warnings, then runs `body`; failures as one line.
func running(_ resolve: () throws -> CloudConfig, _ body: (CloudConfig, Logger) async throws -> Void) async throws {
    try await reportingErrors {
        let config = try resolve()
        let logger = makeLogger(config)
        config.logWarnings(logger)
        try await body(config, logger)
    }
}

func makeLogger(_ config: CloudConfig?) -> Logger {
    let debug = config?.configuration.bool("DEFAULT", "debug") ?? false
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = debug ? .debug : .info
        return handler
    }
    return Logger(label: "stratus")
}

extension Stratus {
    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the all-in-one cloud on one listener.")

        @OptionGroup var common: CommonOptions
        @Option(help: "Address to listen on (default 127.0.0.1).") var bind: String?
        @Option(help: "Port to listen on (default 8080; 0 picks a free one).") var port: String?
        @Option(help: "Virt driver of the compute hosts: auto (QEMU when installed), qemu or fake.") var driver: String?
        @Option(help: "How many fake compute hosts to run with --driver fake (default 1; 0 allowed).") var fakeHosts: String?
        @Option(help: "Directory of the tiny guest to register as the image stratus-tiny (scripts/build-tiny-guest).")
        var tinyGuest: String?
        @Option(help: "How many QEMU compute hosts to run on this machine (default 1): HOST-1 … HOST-N, each its own instances_path.")
        var hosts: String?

        func run() async throws {
            try await reportingErrors {
                let config = try common.resolve(bind: bind, port: port, driver: driver, fakeHosts: fakeHosts, tinyGuest: tinyGuest, hosts: hosts)
                let logger = makeLogger(config)
                config.logWarnings(logger)
                logger.info("data dir \(config.dataDir), database \(config.databaseURL)")
                try await AllInOneCloud.run(config, logger: logger) { ready in
                    let line =
                        "Stratus is ready at \(ready.baseURL) (auth URL \(ready.authURL)). Use it with: "
                            + "OS_CLIENT_CONFIG_FILE=\(ready.cloudsFile) openstack --os-cloud stratus-admin token issue"
                            + " (or --os-cloud stratus-demo)\n"
                    FileHandle.standardOutput.write(Data(line.utf8))
                }
                logger.info("stopped")
            }
        }
    }

    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "api", abstract: "Serve every HTTP API on one listener (multi-node; as many as you like behind a balancer).")
        @OptionGroup var common: CommonOptions
        @Option(help: "Address to listen on.") var bind: String?
        @Option(help: "Port to listen on.") var port: String?

        func run() async throws {
            try await running({ try common.resolve(bind: bind, port: port) }) { config, logger in
                try await SeparateProcesses.api(config, logger: logger)
            }
        }
    }

    struct Conductor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run workflows, the scheduler and reconciliation (multi-node; as many as you like).")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await running({ try common.resolve() }) { config, logger in
                try await SeparateProcesses.conductor(config, logger: logger)
            }
        }
    }

    struct Compute: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one hypervisor's compute agent (or N fake hosts); it reaches the control plane only over HTTP.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Host name (fake hosts are HOST-1 … HOST-N).") var host: String?
        @Option(help: "Virt driver: auto, qemu or fake.") var driver: String?
        @Option(help: "How many fake hosts this process runs (with --driver fake).") var fakeHosts: String?

        func run() async throws {
            try await running({
                var config = try common.resolve(driver: driver, fakeHosts: fakeHosts)
                if let host { try config.configuration.override("DEFAULT", "host", host, flag: "--host") }
                return config
            }) { config, logger in
                try await SeparateProcesses.compute(config, logger: logger)
            }
        }
    }

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the admin, demo and service users, flavors and networks; write clouds.yaml and compute-agent.conf.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await running({ try common.resolve() }) { config, logger in
                let written = try await SeparateProcesses.bootstrap(config, logger: logger)
                print("Bootstrapped. Wrote " + written.joined(separator: " and ") + ".")
            }
        }
    }

    struct DB: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db", abstract: "Database tools.", subcommands: [Migrate.self])

        struct Migrate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Apply schema migrations.")
            @OptionGroup var common: CommonOptions

            func run() async throws {
                try await reportingErrors {
                    let config = try common.resolve()
                    let logger = makeLogger(config)
                    config.logWarnings(logger)
                    if config.databaseURL.engine == .sqlite { try config.prepareDataDir() }
                    let applied = try await Storage.withStorage(config.databaseURL, logger: logger) { storage in
                        try await Migrator.apply(AllInOneCloud.migrations, to: storage, logger: logger)
                    }
                    print(applied.isEmpty ? "Database is up to date." : "Applied: " + applied.joined(separator: ", "))
                }
            }
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks that print JSON.", subcommands: [QueueCommand.self, RegexCommand.self, PlacementCommand.self, BootCommand.self, SchedulerCommand.self, IPAMCommand.self,
                          QEMUBootCommand.self, MigrateCommand.self, LiveMigrationCommand.self])

        struct BootCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "boot", abstract: "Boots servers on fake hosts through the whole pipeline: boots/s, POST→ACTIVE, CPU, RSS.")
            @Option(help: "Servers to boot.") var servers: Int = 100
            @Option(help: "Fake compute hosts.") var hosts: Int = 8
            @Option(help: "Concurrent API clients.") var clients: Int = 16
            @Flag(help: "Separate processes (db migrate, bootstrap, --apis api, --conductors conductor, one compute with --hosts fake hosts) on the PostgreSQL server of --database.")
            var processes = false
            @Option(help: "With --processes: stratus api processes.") var apis: Int = 2
            @Option(help: "With --processes: stratus conductor processes.") var conductors: Int = 2
            @Option(help: "With --processes: a PostgreSQL URL; the benchmark creates and drops its own database in that server.")
            var database: String?

            func run() async throws {
                try await reportingErrors {
                    guard servers > 0, hosts > 0, clients > 0 else { throw ValidationError("--servers, --hosts and --clients are positive") }
                    let logger = makeLogger(nil)
                    let report: JSON
                    if processes {
                        guard apis > 0, conductors > 0 else { throw ValidationError("--apis and --conductors are positive") }
                        guard let database else { throw ValidationError("--processes needs --database postgresql://USER@HOST:PORT/DB") }
                        report = try await MultiProcessBootBenchmark(
                            servers: servers, hosts: hosts, clients: clients, apis: apis, conductors: conductors,
                            server: try DatabaseURL(parsing: database)).run(logger: logger)
                    } else {
                        report = try await BootBenchmark(servers: servers, hosts: hosts, clients: clients).run(logger: logger)
                    }
                    print(report.encodedString())
                }
            }
        }

        struct MigrateCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "migrate", abstract: "Cold-migrates N servers on fake hosts all at once: seconds until all are in VERIFY_RESIZE.")
            @Option(help: "Servers to boot and then migrate.") var servers: Int = 50
            @Option(help: "Fake compute hosts.") var hosts: Int = 100

            func run() async throws {
                try await reportingErrors {
                    guard servers > 0, hosts > 1 else { throw ValidationError("--servers is positive and --hosts at least 2") }
                    print(try await MigrationBenchmark(servers: servers, hosts: hosts).run(logger: makeLogger(nil)).encodedString())
                }
            }
        }

        struct QEMUBootCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "qemu-boot",
                abstract: "Real tiny-guest boots: API POST → console marker against the same QEMU command line started by hand.")
            @Option(help: "Measured rounds (one more warms the image cache first).") var rounds: Int = 5
            @Option(help: "The tiny guest's directory (scripts/build-tiny-guest).") var tinyGuest: String = ".build-guest/tiny"

            func run() async throws {
                try await reportingErrors {
                    guard rounds > 0 else { throw ValidationError("--rounds is positive") }
                    let path = URL(fileURLWithPath: tinyGuest).standardizedFileURL.path
                    print(try await QEMUBootBenchmark(rounds: rounds, tinyGuest: path).run(logger: makeLogger(nil)).encodedString())
                }
            }
        }

        struct LiveMigrationCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "live-migration",
                abstract: "A running 256 MiB tiny guest live-migrated between two QEMU hosts: API call → completed against QEMU's own time, and the guest's downtime.")
            @Option(help: "Live migrations measured (back and forth).") var rounds: Int = 5
            @Option(help: "The tiny guest's directory (scripts/build-tiny-guest).") var tinyGuest: String = ".build-guest/tiny"

            func run() async throws {
                try await reportingErrors {
                    guard rounds > 0 else { throw ValidationError("--rounds is positive") }
                    let path = URL(fileURLWithPath: tinyGuest).standardizedFileURL.path
                    print(try await LiveMigrationBenchmark(rounds: rounds, tinyGuest: path).run(logger: makeLogger(nil)).encodedString())
                }
            }
        }

        struct SchedulerCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "scheduler", abstract: "Scheduling decision latency (median/p99) at a number of hosts, without agents.")
            @Option(help: "Compute hosts registered.") var hosts: Int = 10_000
            @Option(help: "Decisions measured (each then claimed).") var decisions: Int = 2000

            func run() async throws {
                try await reportingErrors {
                    guard hosts > 0, decisions > 0 else { throw ValidationError("--hosts and --decisions are positive") }
                    var logger = makeLogger(nil)
                    logger.logLevel = .error
                    print(try await SchedulerBenchmark(hosts: hosts, decisions: decisions).run(logger: logger).encodedString())
                }
            }
        }

        struct RegexCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "regex", abstract: "Worst-case cost of the server name filter: hostile patterns over many long names.")
            @Option(help: "Server names to filter.") var names: Int = 1000
            @Option(help: "Characters per name (Nova allows 255).") var length: Int = 255

            func run() async throws {
                try await reportingErrors {
                    let list = (0..<names).map { String(repeating: "a", count: max(1, length - 6)) + String(format: "%06d", $0) }
                    var results: [JSON] = []
                    for pattern in [".*.*.*.*.*.*.*!x", "(a*)*b", "(a|aa)+$!", "(.*a){20}!", "a{0,1000}b", "[a-z0-9]*-?[a-z0-9]*z"] {
                        let regex = try LinearRegex(pattern)
                        var budget = LinearRegex.requestBudget
                        let start = ContinuousClock.now
                        var matched = 0, exhausted = false
                        for name in list {
                            guard let found = regex.search(name, budget: &budget) else { exhausted = true; break }
                            if found { matched += 1 }
                        }
                        results.append(["pattern": .string(pattern), "names": .int(names), "length": .int(length),
                                        "ms": .number((ContinuousClock.now - start).inMilliseconds), "matched": .int(matched),
                                        "budget_exhausted": .bool(exhausted)])
                    }
                    print(JSON.object(["bench": "regex", "results": .array(results)]).encodedString())
                }
            }
        }

        struct IPAMCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "ipam", abstract: "Concurrent port creates/s on one subnet over HTTP, and that every address is distinct.")
            @Option(help: "Ports to create.") var ports: Int = 2000
            @Option(help: "Concurrent API clients.") var clients: Int = 16
            @Option(help: "postgresql://… to measure PostgreSQL instead of SQLite.") var database: String?

            func run() async throws {
                try await reportingErrors {
                    guard ports > 0, ports < 65_000, clients > 0 else { throw ValidationError("--ports 1…64999 and --clients > 0") }
                    var logger = makeLogger(nil)
                    logger.logLevel = .error
                    print(try await IPAMBenchmark(ports: ports, clients: clients, databaseURL: database).run(logger: logger).encodedString())
                }
            }
        }

        struct PlacementCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "placement",
                abstract: "Allocation-candidate latency, claims/s, the claim race and RSS at several provider counts.")
            @Option(help: "Provider counts, comma-separated.") var providers: String = "1000,10000,100000"
            @Option(help: "Concurrent claim clients, comma-separated.") var clients: String = "1,8,16"
            @Option(help: "Candidate queries per measurement.") var queries: Int = 200
            @Option(help: "Claims per client-count case.") var claims: Int = 2000
            @Option(help: "PostgreSQL URL of an empty database (default: SQLite in a temporary directory).") var database: String?

            func run() async throws {
                try await reportingErrors {
                    let logger = makeLogger(nil)
                    let counts = providers.split(separator: ",").compactMap { Int($0) }
                    let clientCounts = clients.split(separator: ",").compactMap { Int($0) }
                    guard !counts.isEmpty, !clientCounts.isEmpty, counts.allSatisfy({ $0 > 0 }), clientCounts.allSatisfy({ $0 > 0 }) else {
                        throw ValidationError("--providers and --clients take positive integers, comma-separated")
                    }
                    let bench = PlacementBenchmark(
                        providerCounts: counts, clientCounts: clientCounts, queries: queries, claimsPerCase: claims,
                        databaseURL: database)
                    print(try await bench.run(logger: logger).encodedString())
                }
            }
        }

        struct QueueCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "queue", abstract: "Enqueue/s and claim+ack/s with 1 and 16 workers.")
            @Option(help: "Database URL (default: a fresh SQLite file in a temporary directory).") var database: String?
            @Option(help: "Messages per case.") var messages: Int = 4000
            @Option(help: "Worker counts, comma-separated.") var workers: String = "1,16"
            @Option(help: "Messages claimed per claim.") var batch: Int = 1

            func run() async throws {
                try await reportingErrors {
                    let logger = makeLogger(nil)
                    var temporary: String?
                    let url: DatabaseURL
                    if let database {
                        url = try DatabaseURL(parsing: database)
                    } else {
                        let dir = NSTemporaryDirectory() + "stratus-bench-\(getpid())"
                        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                        temporary = dir
                        url = .sqlite(path: dir + "/bench.sqlite")
                    }
                    defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
                    let counts = workers.split(separator: ",").compactMap { Int($0) }
                    guard !counts.isEmpty, messages > 0, batch > 0 else {
                        throw ValidationError("--workers takes positive integers; --messages and --batch are positive")
                    }
                    let bench = QueueBenchmark(messages: messages, workerCounts: counts, batchSize: batch)
                    let report = try await Storage.withStorage(url, maxConnections: max(counts.max()! + 2, 4), logger: logger) {
                        try await bench.run(storage: $0, logger: logger)
                    }
                    print(report.encodedString())
                }
            }
        }
    }

    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Policy tools.", subcommands: [List.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print every policy rule with its default, the override in force and the routes that check it.")
            @OptionGroup var common: CommonOptions
            @Option(help: "yaml (as oslopolicy-sample-generator) or markdown (docs/security.md's table).") var format: String = "yaml"

            func run() async throws {
                try await reportingErrors {
                    guard let format = PolicyCatalog.Format(rawValue: format) else { throw ValidationError("--format yaml|markdown") }
                    var logger = makeLogger(nil)
                    logger.logLevel = .error
                    print(try await PolicyCatalog.render(try common.resolve(), format: format, logger: logger))
                }
            }
        }
    }

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version.")
        func run() { print("stratus \(Stratus.version)") }
    }
}
