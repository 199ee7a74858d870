import Foundation

/// Every option Stratus reads, with its default: the single source for parsing, validation and docs.
public struct OptionSpec: Sendable {
    public enum Kind: Sendable {
        case string
        case integer(min: Int, max: Int)
        case boolean
        case choice([String])
        case float(min: Double)
    }

    public let section: String
    public let key: String
    public let kind: Kind
    public let defaultValue: String
    public let help: String

    public init(_ section: String, _ key: String, _ kind: Kind, default defaultValue: String, _ help: String) {
        self.section = section
        self.key = key
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }

    /// What values are allowed, in words, for error messages and docs.
    public var allowed: String {
        switch kind {
        case .string: return "a string"
        case .integer(let min, let max): return "an integer from \(min) to \(max)"
        case .boolean: return "true or false"
        case .choice(let values): return "one of " + values.joined(separator: ", ")
        case .float(let min): return "a number of at least \(min)"
        }
    }
}

/// The options known to Stratus, by section. docs/configuration.md lists the same table.
public enum KnownOptions {
    public static let all: [OptionSpec] = [
        OptionSpec("DEFAULT", "debug", .boolean, default: "false", "Log at debug level."),
        OptionSpec("DEFAULT", "state_path", .string, default: "", "Data directory; `--data-dir` overrides it."),
        OptionSpec(
            "DEFAULT", "instance_name_template", .string, default: "instance-%(uuid)s",
            "Hypervisor-side instance name; %(uuid)s is the server's UUID (unique across cells, unlike Nova's %08x id)."),
        OptionSpec(
            "DEFAULT", "compute_driver", .choice(["auto", "qemu", "fake"]), default: "auto",
            "Virt driver of the compute agents `stratus up` runs; `--driver` overrides. auto: QEMU when "
                + "qemu-system-x86_64 is installed, else fake hosts with a loud warning."),
        OptionSpec("DEFAULT", "host", .string, default: "", "Name of the QEMU compute host; empty means this machine's hostname."),
        OptionSpec(
            "DEFAULT", "report_interval", .integer(min: 1, max: 3600), default: "10",
            "Seconds between a compute host's heartbeats (see service_down_time)."),
        OptionSpec(
            "service_user", "auth_url", .string, default: "",
            "Identity URL compute agents authenticate at (`stratus compute`); the all-in-one uses its own listener."),
        OptionSpec("service_user", "username", .string, default: "nova", "The compute agents' service user (role service)."),
        OptionSpec("service_user", "password", .string, default: "", "Its password (`stratus bootstrap` writes it)."),
        OptionSpec("service_user", "project_name", .string, default: "service", "The service user's project."),
        OptionSpec("service_user", "user_domain_name", .string, default: "Default", "The service user's domain."),
        OptionSpec("service_user", "project_domain_name", .string, default: "Default", "The service project's domain."),
        OptionSpec("service_user", "cafile", .string, default: "", "CA bundle to verify the API's TLS certificate; empty: the system's."),
        OptionSpec(
            "compute", "agent_concurrency", .integer(min: 1, max: 10_000), default: "64",
            "Messages one compute process works on at once (over all the hosts it serves)."),
        OptionSpec(
            "DEFAULT", "instances_path", .string, default: "",
            "Where guests live (instances_path/UUID/, the image cache in instances_path/_base); empty means DATA_DIR/instances."),
        OptionSpec(
            "DEFAULT", "shutdown_timeout", .integer(min: 0, max: 86400), default: "60",
            "Seconds a stop waits for the guest to power off after the ACPI request before QEMU is ended."),
        OptionSpec(
            "DEFAULT", "shutdown_retry_interval", .integer(min: 1, max: 3600), default: "10",
            "Seconds between repeated ACPI power-off requests while waiting."),
        OptionSpec(
            "image_cache", "remove_unused_original_minimum_age_seconds", .integer(min: 0, max: 1 << 30), default: "86400",
            "Cached base images no guest uses are removed once unused this long."),
        OptionSpec(
            "image_cache", "manager_interval", .integer(min: 1, max: 1 << 30), default: "2400",
            "Seconds between passes of the image cache manager."),
        OptionSpec("qemu", "binary", .string, default: "qemu-system-x86_64", "The QEMU system emulator."),
        OptionSpec(
            "qemu", "host_count", .integer(min: 1, max: 16), default: "1",
            "QEMU compute hosts on this machine (`stratus up --hosts N`): HOST-1 … HOST-N, each with instances_path/HOST-i."),
        OptionSpec(
            "qemu", "shared_instances_path", .boolean, default: "false",
            "instances_path is shared with other compute hosts (NFS; on one machine, all host_count hosts use instances_path "
                + "itself): each host keeps its own files of a guest (launch plan, sockets, pid file) in UUID/HOST/, and a "
                + "live migration keeps the disk where it is."),
        OptionSpec(
            "qemu", "accelerator", .choice(["auto", "kvm", "tcg"]), default: "auto",
            "auto probes KVM once per host by booting the tiny guest's kernel (kept in instances_path/accelerator); TCG otherwise."),
        OptionSpec(
            "qemu", "tiny_guest_dir", .string, default: "",
            "Directory with the tiny guest (vmlinuz, initramfs.gz, disk.qcow2) that `stratus up` registers as the public "
                + "image stratus-tiny; `--tiny-guest` overrides. Empty: none."),
        OptionSpec(
            "DEFAULT", "service_down_time", .integer(min: 1, max: 86400), default: "60",
            "Seconds without a heartbeat after which a compute service counts as down."),
        OptionSpec("DEFAULT", "cpu_allocation_ratio", .float(min: 0.01), default: "4.0", "VCPU allocation ratio reported to placement."),
        OptionSpec("DEFAULT", "ram_allocation_ratio", .float(min: 0.01), default: "1.0", "MEMORY_MB allocation ratio reported to placement."),
        OptionSpec("DEFAULT", "disk_allocation_ratio", .float(min: 0.01), default: "1.0", "DISK_GB allocation ratio reported to placement."),
        OptionSpec(
            "DEFAULT", "reserved_host_cpus", .integer(min: 0, max: 1_000_000), default: "0",
            "VCPUs a compute host keeps for itself (reported to placement as reserved). Nova's option; 0 here as our hosts are small."),
        OptionSpec(
            "DEFAULT", "reserved_host_memory_mb", .integer(min: 0, max: 1 << 40), default: "0",
            "MEMORY_MB a compute host keeps for itself (reported as reserved). Nova defaults to 512; 0 here as our hosts are small."),
        OptionSpec(
            "DEFAULT", "reserved_host_disk_mb", .integer(min: 0, max: 1 << 40), default: "0",
            "Disk a compute host keeps for itself, in MB (reported as reserved DISK_GB, rounded up)."),
        OptionSpec(
            "compute", "resource_provider_association_refresh", .integer(min: 1, max: 86400), default: "300",
            "Seconds between a compute host's checks of its provider, inventory and traits in placement (put right if changed)."),
        OptionSpec("scheduler", "max_attempts", .integer(min: 1, max: 100), default: "3", "Hosts a build may try before it fails."),
        OptionSpec(
            "filter_scheduler", "host_subset_size", .integer(min: 1, max: 1000), default: "1",
            "Pick randomly among this many best-weighed hosts, to spread concurrent builds."),
        OptionSpec(
            "filter_scheduler", "enabled_filters", .string,
            default: "AvailabilityZoneFilter,ComputeFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,SameHostFilter,DifferentHostFilter,AggregateInstanceExtraSpecsFilter",
            "Filters run in this order, comma-separated; an unknown name stops the start. Hosts a build already failed on are always skipped."),
        OptionSpec(
            "filter_scheduler", "shuffle_best_same_weighed_hosts", .boolean, default: "false",
            "Shuffle the hosts that tie for the best weight."),
        OptionSpec("filter_scheduler", "ram_weight_multiplier", .float(min: -1000), default: "1.0", "RAMWeigher multiplier (negative stacks)."),
        OptionSpec("filter_scheduler", "cpu_weight_multiplier", .float(min: -1000), default: "1.0", "CPUWeigher multiplier (negative stacks)."),
        OptionSpec("filter_scheduler", "disk_weight_multiplier", .float(min: -1000), default: "1.0", "DiskWeigher multiplier (negative stacks)."),
        OptionSpec(
            "filter_scheduler", "soft_affinity_weight_multiplier", .float(min: 0), default: "1.0",
            "ServerGroupSoftAffinityWeigher multiplier."),
        OptionSpec(
            "filter_scheduler", "soft_anti_affinity_weight_multiplier", .float(min: 0), default: "1.0",
            "ServerGroupSoftAntiAffinityWeigher multiplier."),
        OptionSpec(
            "DEFAULT", "instance_build_timeout", .integer(min: 0, max: 86400 * 7), default: "600",
            "A build not ACTIVE after this many seconds goes to ERROR with a fault (0: never; Nova's default is 0)."),
        OptionSpec(
            "DEFAULT", "sync_power_state_interval", .integer(min: 1, max: 86400), default: "600",
            "How often each compute agent reports its guests' power states; guests found off become SHUTOFF."),
        OptionSpec(
            "conductor", "reconcile_interval", .integer(min: 1, max: 86400), default: "30",
            "How often the conductor looks for builds past instance_build_timeout, builds on dead hosts and stuck tasks."),
        OptionSpec("quota", "instances", .integer(min: -1, max: Int(Int32.max)), default: "10", "Servers per project (-1: unlimited)."),
        OptionSpec("quota", "cores", .integer(min: -1, max: Int(Int32.max)), default: "20", "vCPUs per project (-1: unlimited)."),
        OptionSpec("quota", "ram", .integer(min: -1, max: Int(Int32.max)), default: "51200", "MB of RAM per project (-1: unlimited)."),
        OptionSpec("quota", "metadata_items", .integer(min: -1, max: Int(Int32.max)), default: "128", "Metadata items per server."),
        OptionSpec("quota", "key_pairs", .integer(min: -1, max: Int(Int32.max)), default: "100", "Key pairs per user."),
        OptionSpec("quota", "server_groups", .integer(min: -1, max: Int(Int32.max)), default: "10", "Server groups per project."),
        OptionSpec(
            "quota", "server_group_members", .integer(min: -1, max: Int(Int32.max)), default: "10", "Servers per server group."),
        OptionSpec(
            "fake_driver", "host_count", .integer(min: 0, max: 100_000), default: "1",
            "Fake compute hosts `stratus up` starts (fake-1 …); `--fake-hosts` overrides. 0: a cloud with no hosts."),
        OptionSpec("fake_driver", "vcpus", .integer(min: 1, max: 100_000), default: "16", "vCPUs of each fake host."),
        OptionSpec("fake_driver", "memory_mb", .integer(min: 1, max: 1 << 30), default: "32768", "Memory of each fake host."),
        OptionSpec("fake_driver", "local_gb", .integer(min: 1, max: 1 << 30), default: "500", "Disk of each fake host."),
        OptionSpec("fake_driver", "spawn_delay_ms", .integer(min: 0, max: 600_000), default: "0", "How long a fake spawn takes."),
        OptionSpec(
            "fake_driver", "host_resources", .string, default: "",
            "Hosts that differ from vcpus/memory_mb/local_gb: `fake-1=vcpus:5,memory_mb:102400;fake-2=vcpus:50` (unnamed keys keep the defaults)."),
        OptionSpec(
            "DEFAULT", "allow_resize_to_same_host", .boolean, default: "false",
            "A resize may stay on the server's host (a cold migration never does)."),
        OptionSpec(
            "DEFAULT", "resize_confirm_window", .integer(min: 0, max: 86400 * 7), default: "0",
            "Seconds after which a resize in VERIFY_RESIZE is confirmed automatically (0: never)."),
        OptionSpec(
            "DEFAULT", "max_concurrent_live_migrations", .integer(min: 0, max: 1000), default: "1",
            "Live migrations copying from one host at once; more wait as `queued` (0: no limit)."),
        OptionSpec(
            "qemu", "live_migration_inbound_addr", .string, default: "127.0.0.1",
            "Address this host's QEMU listens on for incoming live migrations and disk copies (Nova's [libvirt] option)."),
        OptionSpec(
            "qemu", "live_migration_bandwidth", .integer(min: 0, max: 1 << 30), default: "0",
            "Bandwidth of a live migration in MiB/s (0: as fast as the link goes)."),
        OptionSpec(
            "qemu", "live_migration_downtime", .integer(min: 100, max: 1_000_000), default: "500",
            "The longest pause of the guest, in ms, when a live migration switches over."),
        OptionSpec(
            "qemu", "live_migration_downtime_steps", .integer(min: 3, max: 1000), default: "10",
            "In how many steps the allowed pause grows to live_migration_downtime."),
        OptionSpec(
            "qemu", "live_migration_downtime_delay", .integer(min: 3, max: 100_000), default: "75",
            "Seconds between the steps, per GiB of guest memory and disk copied."),
        OptionSpec(
            "qemu", "live_migration_completion_timeout", .integer(min: 0, max: 1_000_000), default: "800",
            "Seconds per GiB a live migration may take before live_migration_timeout_action (0: no limit)."),
        OptionSpec(
            "qemu", "live_migration_timeout_action", .choice(["abort", "force_complete"]), default: "abort",
            "What a live migration past its completion timeout does."),
        OptionSpec(
            "qemu", "live_migration_permit_post_copy", .boolean, default: "false",
            "Force-complete (and the timeout action) switch to post-copy instead of pausing the guest."),
        OptionSpec(
            "qemu", "live_migration_permit_auto_converge", .boolean, default: "false",
            "Let QEMU slow the guest's vCPUs down when its memory changes faster than it is copied."),
        OptionSpec(
            "api", "bind_host", .string, default: "127.0.0.1", "Address the HTTP listener binds; `--bind` overrides."),
        OptionSpec(
            "api", "bind_port", .integer(min: 0, max: 65535), default: "8080",
            "Port of the HTTP listener; `--port` overrides. 0 picks a free port."),
        OptionSpec(
            "api", "public_endpoint", .string, default: "",
            "Base URL advertised in the catalog and version documents; empty means http(s)://bind_host:bind_port."),
        OptionSpec(
            "api", "ssl_cert_file", .string, default: "",
            "PEM certificate (then its chain) for TLS on the API listener; with ssl_key_file. Empty: plain HTTP."),
        OptionSpec("api", "ssl_key_file", .string, default: "", "PEM private key of ssl_cert_file."),
        OptionSpec(
            "api", "auth_strategy", .choice(["keystone", "noauth2"]), default: "keystone",
            "keystone validates tokens; noauth2 (testing only) takes USER:PROJECT as the token, admin role for USER admin."),
        OptionSpec(
            "api", "header_timeout", .float(min: 0.01), default: "30",
            "Seconds a new connection has to send a complete request head; then it is closed."),
        OptionSpec(
            "api", "keepalive_timeout", .float(min: 0.01), default: "60",
            "Seconds an idle keep-alive connection is kept open for its next request (its head must be complete by then)."),
        OptionSpec(
            "api", "body_chunk_timeout", .float(min: 0.01), default: "30",
            "Longest pause, in seconds, between two pieces of a request body before the connection is closed."),
        OptionSpec(
            "api", "body_timeout", .float(min: 0.01), default: "300",
            "Seconds a whole request body may take to arrive before the connection is closed."),
        OptionSpec(
            "api", "max_connections", .integer(min: 1, max: 1_000_000), default: "1000",
            "Open connections the listener serves at once; beyond it a request gets 503 and its connection is closed."),
        OptionSpec(
            "oslo_policy", "policy_file", .string, default: "policy.yaml",
            "Rule overrides (oslo.policy's YAML); a relative path is under the config file's directory. A missing file "
                + "means the defaults; a file with an unknown rule or bad syntax stops the start."),
        OptionSpec(
            "oslo_middleware", "max_request_body_size", .integer(min: 1024, max: 1 << 30), default: "114688",
            "Largest request body accepted, in bytes (larger: 413)."),
        OptionSpec(
            "database", "connection", .string, default: "",
            "sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB; empty means sqlite in the data dir."),
        OptionSpec(
            "database", "max_pool_size", .integer(min: 1, max: 1000), default: "20",
            "PostgreSQL connections kept open by this process."),
        OptionSpec(
            "token", "expiration", .integer(min: 60, max: 31_536_000), default: "3600",
            "Token lifetime in seconds (Keystone's [token] expiration)."),
        OptionSpec(
            "token", "key_repository", .string, default: "",
            "Directory holding the token encryption key; empty means DATA_DIR/token-keys."),
        OptionSpec(
            "token", "revocation_cache_seconds", .integer(min: 0, max: 3600), default: "5",
            "How often other processes' revocations are re-read; local ones apply at once."),
        OptionSpec(
            "identity", "password_hash_rounds", .integer(min: 4, max: 31), default: "12",
            "bcrypt cost (Keystone's [identity] password_hash_rounds)."),
        OptionSpec("identity", "region_name", .string, default: "RegionOne", "Region listed in the catalog."),
        OptionSpec(
            "placement", "randomize_allocation_candidates", .boolean, default: "false",
            "Return allocation candidates in random order (with limit: a random subset), as Placement's option."),
        OptionSpec(
            "image", "image_size_cap", .integer(min: 1, max: Int.max), default: "1099511627776",
            "Largest image upload in bytes (Glance's image_size_cap); larger uploads get 413 and the image is killed."),
        OptionSpec("image", "store_dir", .string, default: "", "Where image files live; empty means DATA_DIR/images."),
        OptionSpec(
            "queue", "lease_seconds", .integer(min: 1, max: 86400), default: "30",
            "How long a consumer holds a message before another may take it."),
        OptionSpec(
            "queue", "max_attempts", .integer(min: 1, max: 1000), default: "5",
            "Deliveries before a message is dead-lettered."),
        OptionSpec(
            "queue", "retry_backoff_seconds", .float(min: 0), default: "1",
            "First retry delay; doubles with each attempt."),
        OptionSpec(
            "queue", "poll_interval_seconds", .float(min: 0.01), default: "1",
            "Consumers look for work at least this often even without a wake-up."),
    ]

    public static func spec(_ section: String, _ key: String) -> OptionSpec? {
        all.first { $0.section == section && $0.key == key }
    }
}

/// Configuration read from an INI file, validated against `KnownOptions`.
public struct Configuration: Sendable {
    private var values: [String: String] = [:]
    /// Human-readable warnings about unknown sections or keys; logged at start-up.
    public private(set) var warnings: [String] = []
    public let source: String

    /// Defaults only.
    public init() { source = "(defaults)" }

    /// Reads and validates `path`. Bad values throw a `ConfigError` naming file, section, key and what is allowed.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError("\(path): configuration file does not exist")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("\(path): configuration file is not readable")
        }
        try self.init(text: String(decoding: data, as: UTF8.self), path: path)
    }

    public init(text: String, path: String = "(inline)") throws {
        source = path
        let file = try INIFile(path: path, text: text)
        let knownSections = Set(KnownOptions.all.map(\.section))
        for (section, entries) in file.sections.sorted(by: { $0.key < $1.key }) {
            guard knownSections.contains(section) else {
                warnings.append("\(path): unknown section [\(section)] ignored")
                continue
            }
            for (key, entry) in entries.sorted(by: { $0.key < $1.key }) {
                guard let spec = KnownOptions.spec(section, key) else {
                    warnings.append("\(path):\(entry.line): unknown option '\(key)' in [\(section)] ignored")
                    continue
                }
                try Self.validate(entry.value, spec, path: path, line: entry.line)
                values["\(section).\(key)"] = entry.value
            }
        }
    }

    static func validate(_ value: String, _ spec: OptionSpec, path: String, line: Int?) throws {
        let ok: Bool
        switch spec.kind {
        case .string: ok = true
        case .integer(let min, let max):
            if let n = Int(value) { ok = n >= min && n <= max } else { ok = false }
        case .boolean: ok = Self.parseBool(value) != nil
        case .choice(let choices): ok = choices.contains(value)
        case .float(let min):
            if let d = Double(value) { ok = d >= min } else { ok = false }
        }
        guard ok else {
            throw ConfigError(
                path: path, line: line,
                message: "[\(spec.section)] \(spec.key) = '\(value)' is invalid: expected \(spec.allowed)")
        }
    }

    static func parseBool(_ value: String) -> Bool? {
        switch value.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }

    /// Sets a value from the command line, validated like a file value.
    public mutating func override(_ section: String, _ key: String, _ value: String, flag: String) throws {
        guard let spec = KnownOptions.spec(section, key) else { preconditionFailure("unknown option \(section).\(key)") }
        do { try Self.validate(value, spec, path: flag, line: nil) } catch let error as ConfigError {
            throw ConfigError("\(flag) '\(value)' is invalid: expected \(spec.allowed) (\(error.message))")
        }
        values["\(section).\(key)"] = value
    }

    public func string(_ section: String, _ key: String) -> String {
        if let value = values["\(section).\(key)"] { return value }
        return KnownOptions.spec(section, key)?.defaultValue ?? ""
    }

    public func int(_ section: String, _ key: String) -> Int { Int(string(section, key)) ?? 0 }
    public func double(_ section: String, _ key: String) -> Double { Double(string(section, key)) ?? 0 }
    public func bool(_ section: String, _ key: String) -> Bool { Self.parseBool(string(section, key)) ?? false }
}
