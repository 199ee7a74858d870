import Foundation
import StratusCore

/// Real guests: `qemu-system-x86_64` started per server and driven through QMP, disks as qcow2 overlays on a per-host
/// image cache, everything about a guest in `instances_path/UUID/`. QEMU processes outlive the agent; a restarted
/// agent finds them through their pid files and monitor sockets.
public final class QEMUDriver: VirtDriver {
    /// How this host runs guests.
    public struct Settings: Sendable {
        /// Nova's `instances_path`.
        public var instancesPath: String
        public var binary = "qemu-system-x86_64"
        public var accelerator: QEMULaunchPlan.Accelerator = .tcg
        /// Nova's `shutdown_timeout`: how long a stop waits for the guest to power off after the ACPI request.
        public var shutdownTimeout: Double = 60
        /// Nova's `shutdown_retry_interval`: the ACPI request is repeated this often while waiting.
        public var shutdownRetryInterval: Double = 10
        /// Nova's `[image_cache] remove_unused_original_minimum_age_seconds`.
        public var unusedImageMinimumAge: Double = 86400
        /// The kernel command line for kernel+initrd images; `hostname=NAME` is appended.
        public var kernelCommandLine = "console=ttyS0 quiet panic=1"
        /// How live migrations from and to this host run (Nova's `[libvirt] live_migration_*` options).
        public var liveMigration = LiveMigrationSettings()
        /// Set when instances_path is shared with other hosts (`[qemu] shared_instances_path`): this host's name, the
        /// subdirectory of each guest directory that holds this host's own files of the guest (launch plan, sockets,
        /// pid file). A live migration then keeps the disk where it is.
        public var sharedPathHost: String?

        public init(instancesPath: String) { self.instancesPath = instancesPath }
    }

    public let settings: Settings
    public let images: ImageCache
    let source: any ImageSource
    let resources: HostResources
    let version: Int
    let locks = KeyedLock()
    /// Live migrations copying from this host now, and what was asked of them (abort, force-complete).
    let outgoing = OutgoingMigrations()

    /// Whether `binary` is on this host.
    public static func isInstalled(binary: String) -> Bool { HostCommand.resolve(binary) != nil }

    /// Probes the host (size, QEMU version) and prepares `instances_path`. Throws when QEMU is not installed.
    public static func start(settings: Settings, source: any ImageSource) async throws -> QEMUDriver {
        guard let version = await HostProbe.qemuVersion(binary: settings.binary) else {
            throw DriverError("\(settings.binary) is not installed or does not run")
        }
        // Unix socket paths hold at most 107 bytes: instances_path/UUID[/HOST]/serial.sock must fit.
        let runtimeName = settings.sharedPathHost.map { $0.utf8.count + 1 } ?? 0
        if settings.instancesPath.utf8.count + runtimeName + 49 > 107 {
            throw DriverError("instances_path \(settings.instancesPath) is too long for QEMU's sockets (at most \(58 - runtimeName) bytes)")
        }
        try FileManager.default.createDirectory(atPath: settings.instancesPath, withIntermediateDirectories: true)
        return QEMUDriver(settings: settings, source: source, version: version,
                          resources: HostProbe.resources(instancesPath: settings.instancesPath))
    }

    init(settings: Settings, source: any ImageSource, version: Int, resources: HostResources) {
        self.settings = settings
        self.source = source
        self.version = version
        self.resources = resources
        self.images = ImageCache(directory: settings.instancesPath + "/_base", source: source)
    }

    public var hypervisorType: String { "QEMU" }
    public var hypervisorVersion: Int { version }
    public var cpuInfo: JSON {
        ["arch": "x86_64", "model": "qemu64", "vendor": "QEMU", "features": [],
         "topology": ["sockets": .int(resources.vcpus), "cores": 1, "threads": 1],
         "accelerator": .string(settings.accelerator.rawValue)]
    }

    public func hostResources() async -> HostResources { resources }

    /// What this driver can do, as the traits Nova's libvirt driver reports for the same abilities: qcow2 and
    /// raw images on a virtio disk, virtio NICs; no volumes or interface hot-plug yet.
    public var capabilityTraits: [String: Bool] {
        ["COMPUTE_IMAGE_TYPE_QCOW2": true, "COMPUTE_IMAGE_TYPE_RAW": true, "COMPUTE_IMAGE_TYPE_ISO": false,
         "COMPUTE_STORAGE_BUS_VIRTIO": true, "COMPUTE_NET_VIF_MODEL_VIRTIO": true, "COMPUTE_VOLUME_ATTACH": false,
         "COMPUTE_NET_ATTACH_INTERFACE": false, "COMPUTE_DEVICE_TAGGING": false, "COMPUTE_TRUSTED_CERTS": false]
    }

    func guest(_ uuid: String) -> QEMUGuest { guest(directory: uuid) }

    /// The guest in `instances_path/NAME`, with this host's own subdirectory there when the path is shared.
    func guest(directory name: String) -> QEMUGuest {
        let directory = settings.instancesPath + "/" + name
        return QEMUGuest(directory: directory, runtime: settings.sharedPathHost.map { directory + "/" + $0 })
    }

    /// The pid of the guest's QEMU on this host, if one runs.
    public func pid(of uuid: String) -> Int32? { guest(uuid).pid }

    // MARK: Spawn and destroy

    public func spawn(_ request: SpawnRequest) async throws {
        try await locks.withLock(request.instanceUUID) { [self] in
            let guest = guest(request.instanceUUID)
            if guest.isRunning { return }  // a redelivered spawn: the guest already runs
            let plan = try await prepare(request, in: guest)
            try await guest.launch(plan)
        }
    }

    /// Where a guest's disk on this host comes from.
    enum DiskOrigin: Sendable {
        /// A new overlay on the image's cached base: a boot, or the empty target of a live block migration.
        case newOverlay
        /// The bytes of the overlay another host serves at this NBD URI: a cold migration or resize.
        case copy(from: String?)
    }

    /// Everything a guest needs on this host before QEMU starts: its directory, the cached bases of its image (and
    /// kernel and initrd), its disk overlay, and the launch plan, saved in `guest.json`.
    func prepare(_ request: SpawnRequest, in guest: QEMUGuest, disk origin: DiskOrigin = .newOverlay,
                 arrivedBy migration: String? = nil) async throws -> QEMULaunchPlan {
        try FileManager.default.createDirectory(atPath: guest.runtime, withIntermediateDirectories: true)
        let image = try await source.describe(request.imageRef)
        var bases: [String] = []
        var boot = QEMULaunchPlan.Boot.disk
        if let kernelID = image.properties["kernel_id"] {
            let kernel = try await images.base(try await source.describe(kernelID))
            bases.append(kernel)
            var initrd: String?
            if let ramdiskID = image.properties["ramdisk_id"] {
                initrd = try await images.base(try await source.describe(ramdiskID))
                bases.append(initrd!)
            }
            let hostname = request.hostname.isEmpty ? request.instanceName : request.hostname
            boot = .kernel(path: kernel, initrd: initrd, commandLine: settings.kernelCommandLine + " hostname=\(hostname)")
        }
        var disk: String?
        if ["qcow2", "raw"].contains(image.diskFormat) {
            let base = try await images.base(image)
            bases.append(base)
            disk = guest.directory + "/disk"
            switch origin {
            case .newOverlay: try await createOverlay(disk!, on: base, image: image, rootGB: request.rootGB)
            case .copy(let uri): try await copyOverlay(disk!, from: uri, on: base, image: image, rootGB: request.rootGB)
            }
        } else if case .disk = boot {
            throw DriverError("image \(image.id) has disk format \(image.diskFormat) and no kernel_id: nothing this host can boot")
        }
        var plan = QEMULaunchPlan(
            name: request.instanceName, directory: guest.directory, vcpus: request.vcpus, memoryMB: request.memoryMB,
            accelerator: settings.accelerator, boot: boot, disk: disk,
            nics: request.ports)
        plan.binary = settings.binary
        if guest.runtime != guest.directory { plan.runtimeDirectory = guest.runtime }
        try guest.save(QEMUGuest.Record(plan: plan, bases: bases, lastMigration: migration))
        return plan
    }

    /// The guest's disk: a qcow2 overlay backed by the cached base, grown to the flavor's root disk. An image larger
    /// than the flavor's disk is refused with Nova's message. The image record's virtual size is used when it has one
    /// (the cache checked the bits against the record): `qemu-img info` only when it does not, not on every boot.
    func createOverlay(_ path: String, on base: String, image: ImageInfo, rootGB: Int) async throws {
        if FileManager.default.fileExists(atPath: path) { return }
        let format = image.diskFormat
        var virtualSize = image.virtualSize ?? 0
        if image.virtualSize == nil {
            let info = try await HostCommand.check("qemu-img", ["info", "--output=json", "-f", format, base], failure: "cannot read the base image")
            virtualSize = (try? JSON.parse(info.output))?["virtual-size"]?.intValue ?? 0
        }
        let flavorBytes = rootGB << 30
        if rootGB > 0 && flavorBytes < virtualSize {
            throw DriverError("Flavor's disk is too small for requested image. Flavor disk is \(flavorBytes) bytes, image is \(virtualSize) bytes.")
        }
        var arguments = ["create", "-q", "-f", "qcow2", "-b", base, "-F", format, path + ".part"]
        if rootGB > 0 { arguments.append(String(flavorBytes)) }
        try await HostCommand.check("qemu-img", arguments, failure: "cannot create the guest's disk")
        try FileManager.default.moveItem(atPath: path + ".part", toPath: path)
    }

    /// The guest goes, and what a cold move kept of it here (its `_resize` directory and disk export).
    public func destroy(instanceUUID: String) async throws {
        try await locks.withLock(instanceUUID) { [self] in
            try await remove(guest(instanceUUID))
            try await removeKept(instanceUUID)
        }
    }

    /// Ends the guest's QEMU and removes its directory (the caller holds the guest's lock). With a shared
    /// instances_path another host may run the guest from that directory now (a stray copy here is destroyed after
    /// a live migration): the directory goes only with the last host's own files.
    func remove(_ guest: QEMUGuest) async throws {
        try await removeOwnFiles(guest)
        // Also without this host's own subdirectories: a host not configured for the shared path it is on must not
        // take the disk from under the others.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: guest.directory)) ?? []
        if entries.contains(where: { FileManager.default.fileExists(atPath: guest.directory + "/\($0)/guest.json") }) { return }
        try removeIfPresent(guest.directory)
    }

    /// Ends the guest's QEMU on this host and removes this host's own files of it; with a shared instances_path the
    /// directory (disk, console log) stays for the host that runs the guest now.
    func removeOwnFiles(_ guest: QEMUGuest) async throws {
        await guest.kill()
        if guest.isRunning { throw DriverError("the QEMU process of \(guest.directory) does not stop") }
        if guest.runtime != guest.directory { try removeIfPresent(guest.runtime) }
    }

    // MARK: Console and power state

    /// QEMU's own view of a guest (`running`, `paused`, …), or nil when no QEMU runs for it.
    public func runState(_ uuid: String) async -> String? {
        let guest = guest(uuid)
        guard guest.isRunning, let plan = guest.plan else { return nil }
        return try? await QMPConnection.with(socket: plan.qmpSocket) { qmp in try await qmp.status() }
    }

    public func consoleOutput(instanceUUID: String, lines: Int?) async throws -> String {
        let guest = guest(instanceUUID)
        guard guest.record != nil else { throw DriverError("no guest \(instanceUUID) on this host") }
        return guest.console(lines: lines)
    }

    /// Guests with an instance directory (and, with a shared instances_path, this host's files in it): on when QEMU
    /// runs or a suspend saved their state, off otherwise.
    public func listGuests() async -> [String: Bool] {
        var guests: [String: Bool] = [:]
        for name in guestDirectories() {
            let guest = guest(directory: name)
            guests[name] = guest.isRunning || guest.isSuspended
        }
        return guests
    }

    /// This host's guests' directories (not the ones cold moves keep until they are confirmed or reverted).
    func guestDirectories() -> [String] {
        instanceDirectories().filter { !$0.hasSuffix(Self.keptSuffix) && FileManager.default.fileExists(atPath: guest(directory: $0).recordPath) }
    }

    func instanceDirectories() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: settings.instancesPath)) ?? []).filter { $0 != "_base" }
    }

    /// The image cache manager's pass: bases that no guest uses (or may go back to) go after the configured age.
    /// With a shared instances_path the cache is shared too: the other hosts' guests there count as well.
    public func maintain() async {
        var inUse: Set<String> = []
        for name in instanceDirectories() {
            let directory = settings.instancesPath + "/" + name
            var records = [QEMUGuest(directory: directory).record]
            if settings.sharedPathHost != nil {
                for host in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                    records.append(QEMUGuest(directory: directory, runtime: directory + "/" + host).record)
                }
            }
            for record in records.compactMap({ $0 }) { inUse.formUnion(record.bases) }
        }
        _ = await images.removeUnused(inUse: inUse, minimumAge: settings.unusedImageMinimumAge)
    }
}
