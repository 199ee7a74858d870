import Crypto
import Foundation
import StratusCore

/// What the image service says about an image a guest boots from.
public struct ImageInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var diskFormat: String
    /// Glance's `checksum`: MD5 of the bits, hex.
    public var checksum: String?
    public var size: Int?
    /// The disk's size as the guest sees it (Glance's `virtual_size`), when the image service knows it.
    public var virtualSize: Int?
    public var properties: [String: String]

    public init(id: String, name: String, diskFormat: String, checksum: String?, size: Int?, virtualSize: Int? = nil,
                properties: [String: String]) {
        self.id = id
        self.name = name
        self.diskFormat = diskFormat
        self.checksum = checksum
        self.size = size
        self.virtualSize = virtualSize
        self.properties = properties
    }
}

/// Where a host gets image bits from. The all-in-one cloud reads its own image store; a multi-node deployment
/// would download from the image API.
public protocol ImageSource: Sendable {
    /// The image's record; throws when it does not exist or is not `active`.
    func describe(_ imageID: String) async throws -> ImageInfo
    /// Writes the image's bits to `path` (a new file).
    func download(_ imageID: String, to path: String) async throws
    /// Uploads `path` as the bits of the (queued) image `imageID`: a snapshot.
    func upload(_ imageID: String, from path: String) async throws
}

extension ImageSource {
    public func upload(_ imageID: String, from path: String) async throws {
        throw DriverError("this image source cannot take uploads")
    }
}

/// The per-host image cache, Nova's `instances_path/_base`: the first boot of an image downloads it once, checks its
/// checksum and keeps it; guest disks are copy-on-write overlays on it. Concurrent first boots share one download.
public actor ImageCache {
    public let directory: String
    let source: any ImageSource
    private var inFlight: [String: Task<String, any Error>] = [:]
    /// How many downloads this cache started (tests check that concurrent boots of one image download it once).
    public private(set) var downloads = 0

    public init(directory: String, source: any ImageSource) {
        self.directory = directory
        self.source = source
    }

    public func path(_ imageID: String) -> String { directory + "/" + imageID }

    /// The cached base of `image`, downloading and verifying it first if needed. Marks it used now.
    public func base(_ image: ImageInfo) async throws -> String {
        let path = path(image.id)
        if FileManager.default.fileExists(atPath: path) {
            touch(path)
            return path
        }
        if let running = inFlight[image.id] { return try await running.value }
        downloads += 1
        let task = Task { [source] in try await Self.fetch(image, from: source, to: path) }
        inFlight[image.id] = task
        defer { inFlight[image.id] = nil }
        return try await task.value
    }

    /// Downloads into `PATH.part-…` (a name of this download's own: with a shared instances_path another host may
    /// fetch the same image at once), checks size and MD5 against the image record and, for disk formats QEMU
    /// reads, that `qemu-img` can open it as that format; only then renames it into place, atomically (a base another
    /// host put there meanwhile is the same verified bits). Nothing is kept on failure.
    static func fetch(_ image: ImageInfo, from source: any ImageSource, to path: String) async throws -> String {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let partial = path + ".part-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try await source.download(image.id, to: partial)
            let (digest, size) = try await onOwnThread { try md5(of: partial) }
            if let expected = image.size, expected != size {
                throw DriverError("image \(image.id) downloaded \(size) bytes, its record says \(expected)")
            }
            if let expected = image.checksum, expected.lowercased() != digest {
                throw DriverError("image \(image.id) failed its checksum: the image service says \(expected), the downloaded bits are \(digest)")
            }
            if ["qcow2", "raw"].contains(image.diskFormat) {
                try await HostCommand.check(
                    "qemu-img", ["info", "--output=json", "-f", image.diskFormat, partial],
                    failure: "image \(image.id) is not a valid \(image.diskFormat) image")
            }
            guard rename(partial, path) == 0 else { throw DriverError("cannot put image \(image.id) into the cache: \(String(cString: strerror(errno)))") }
            return path
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    /// Runs blocking file work (hashing a large image) on a thread of its own, never a concurrency thread.
    public static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    static func md5(of path: String) throws -> (hex: String, size: Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DriverError("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = Insecure.MD5()
        var size = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            size += chunk.count
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), size)
    }

    private func touch(_ path: String) {
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
    }

    /// Nova's image cache manager: removes bases no guest uses and unused for `minimumAge` seconds. A base in use
    /// (listed in `inUse`, or being downloaded) is never removed. Returns the image ids removed.
    public func removeUnused(inUse: Set<String>, minimumAge: Double, now: Date = Date()) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names where !inUse.contains(path(name)) && inFlight[name.components(separatedBy: ".part")[0]] == nil {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path(name))
            let used = (attributes?[.modificationDate] as? Date) ?? now
            guard now.timeIntervalSince(used) >= minimumAge else { continue }
            // A download's part file (`ID.part-…`) that old was left by an agent that died while downloading: each
            // download writes under a name of its own, so nothing else would ever remove it. It is not an image.
            let abandoned = name.contains(".part")
            if (try? FileManager.default.removeItem(atPath: path(name))) != nil, !abandoned { removed.append(name) }
        }
        return removed
    }
}
