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
        // Unix socket paths hold at most 107 bytes: instances_path/UUID/serial.sock must fit.
        if settings.instancesPath.utf8.count + 49 > 107 {
            throw DriverError("instances_path \(settings.instancesPath) is too long for QEMU's sockets (at most 58 bytes)")
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

    func guest(_ uuid: String) -> QEMUGuest { QEMUGuest(directory: settings.instancesPath + "/" + uuid) }

    // MARK: Spawn and destroy

    public func spawn(_ request: SpawnRequest) async throws {
        try await locks.withLock(request.instanceUUID) { [self] in
            let guest = guest(request.instanceUUID)
            if guest.isRunning { return }  // a redelivered spawn: the guest already runs
            let plan = try await prepare(request, in: guest)
            try await guest.launch(plan)
        }
    }

    /// Everything a guest needs on this host before QEMU starts: its directory, the cached bases of its image (and
    /// kernel and initrd), its disk overlay unless `withDisk` is false (a disk that is already there), and the launch
    /// plan, saved in `guest.json`.
    func prepare(_ request: SpawnRequest, in guest: QEMUGuest, withDisk: Bool = true) async throws -> QEMULaunchPlan {
        try FileManager.default.createDirectory(atPath: guest.directory, withIntermediateDirectories: true)
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
            if withDisk { try await createOverlay(disk!, on: base, image: image, rootGB: request.rootGB) }
        } else if case .disk = boot {
            throw DriverError("image \(image.id) has disk format \(image.diskFormat) and no kernel_id: nothing this host can boot")
        }
        var plan = QEMULaunchPlan(
            name: request.instanceName, directory: guest.directory, vcpus: request.vcpus, memoryMB: request.memoryMB,
            accelerator: settings.accelerator, boot: boot, disk: disk,
            nics: request.ports)
        plan.binary = settings.binary
        try guest.save(QEMUGuest.Record(plan: plan, bases: bases))
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

    public func destroy(instanceUUID: String) async throws {
        try await locks.withLock(instanceUUID) { [self] in
            let guest = guest(instanceUUID)
            await guest.kill()
            if guest.isRunning { throw DriverError("the QEMU process of \(instanceUUID) does not stop") }
            if FileManager.default.fileExists(atPath: guest.directory) {
                try FileManager.default.removeItem(atPath: guest.directory)
            }
        }
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

    /// Guests with an instance directory: on when QEMU runs or a suspend saved their state, off otherwise.
    public func listGuests() async -> [String: Bool] {
        var guests: [String: Bool] = [:]
        for name in guestDirectories() {
            let guest = guest(name)
            guests[name] = guest.isRunning || guest.isSuspended
        }
        return guests
    }

    func guestDirectories() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: settings.instancesPath)) ?? []
        return names.filter { $0 != "_base" && FileManager.default.fileExists(atPath: settings.instancesPath + "/\($0)/guest.json") }
    }

    /// The image cache manager's pass: bases that no guest on this host uses go after the configured age.
    public func maintain() async {
        let inUse = Set(guestDirectories().flatMap { guest($0).record?.bases ?? [] })
        _ = await images.removeUnused(inUse: inUse, minimumAge: settings.unusedImageMinimumAge)
    }
}
