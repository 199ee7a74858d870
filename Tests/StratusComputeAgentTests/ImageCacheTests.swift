import Crypto
import Foundation
import StratusComputeAgent
import Synchronization
import Testing

/// An image service in memory that counts downloads and can be slow, for the cache's own rules.
final class MemoryImageSource: ImageSource {
    let images: [String: (info: ImageInfo, bits: Data)]
    let delay: Duration
    private let counter = Mutex(0)
    var downloads: Int { counter.withLock { $0 } }

    init(_ images: [(ImageInfo, Data)], delay: Duration = .zero) {
        self.images = Dictionary(uniqueKeysWithValues: images.map { ($0.0.id, (info: $0.0, bits: $0.1)) })
        self.delay = delay
    }

    static func info(_ id: String, _ bits: Data, checksum: String? = nil) -> ImageInfo {
        let md5 = Insecure.MD5.hash(data: bits).map { String(format: "%02x", $0) }.joined()
        return ImageInfo(id: id, name: id, diskFormat: "aki", checksum: checksum ?? md5, size: bits.count, properties: [:])
    }

    func describe(_ imageID: String) async throws -> ImageInfo {
        guard let image = images[imageID] else { throw DriverError("no image \(imageID)") }
        return image.info
    }

    func download(_ imageID: String, to path: String) async throws {
        counter.withLock { $0 += 1 }
        if delay > .zero { try await Task.sleep(for: delay) }
        try images[imageID]!.bits.write(to: URL(fileURLWithPath: path))
    }
}

@Suite("Image cache")
struct ImageCacheTests {
    func directory() -> String { NSTemporaryDirectory() + "stratus-cache-" + UUID().uuidString }

    @Test("concurrent first uses of an image download it once; later uses hit the cache")
    func downloadsOnce() async throws {
        let bits = Data("kernel bits".utf8)
        let source = MemoryImageSource([(MemoryImageSource.info("k", bits), bits)], delay: .milliseconds(200))
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = ImageCache(directory: dir, source: source)
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await cache.base(source.describe("k")) } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(paths == [dir + "/k"])
        #expect(source.downloads == 1)
        #expect(await cache.downloads == 1)
        _ = try await cache.base(source.describe("k"))
        #expect(source.downloads == 1)
        #expect(FileManager.default.contents(atPath: dir + "/k") == bits)
    }

    @Test("bits that do not match the record's checksum are refused and nothing is kept")
    func checksumMismatch() async throws {
        let bits = Data("tampered".utf8)
        let source = MemoryImageSource([(MemoryImageSource.info("k", bits, checksum: String(repeating: "0", count: 32)), bits)])
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = ImageCache(directory: dir, source: source)
        await #expect(throws: DriverError.self) { try await cache.base(source.describe("k")) }
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir)) == [])
    }

    @Test("bases in use are kept; unused ones go only once older than the minimum age")
    func removesUnused() async throws {
        let a = Data("a".utf8), b = Data("b".utf8)
        let source = MemoryImageSource([(MemoryImageSource.info("a", a), a), (MemoryImageSource.info("b", b), b)])
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = ImageCache(directory: dir, source: source)
        let pathA = try await cache.base(source.describe("a"))
        _ = try await cache.base(source.describe("b"))
        #expect(await cache.removeUnused(inUse: [pathA], minimumAge: 3600).isEmpty)  // b is too young
        let later = Date().addingTimeInterval(7200)
        #expect(await cache.removeUnused(inUse: [pathA], minimumAge: 3600, now: later) == ["b"])
        #expect(FileManager.default.fileExists(atPath: pathA))
        #expect(await cache.removeUnused(inUse: [], minimumAge: 3600, now: later) == ["a"])
    }

    @Test("a download's part file left by a dead agent goes once older than the minimum age, and is not reported as an image")
    func removesAbandonedParts() async throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cache = ImageCache(directory: dir, source: MemoryImageSource([]))
        let part = dir + "/a.part-12345-deadbeef"
        #expect(FileManager.default.createFile(atPath: part, contents: Data("half".utf8)))
        #expect(await cache.removeUnused(inUse: [], minimumAge: 3600).isEmpty)
        #expect(FileManager.default.fileExists(atPath: part), "too young: it may still be written")
        #expect(await cache.removeUnused(inUse: [], minimumAge: 3600, now: Date().addingTimeInterval(7200)).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: part))
    }
}

@Suite("Host probe")
struct HostProbeTests {
    @Test("the machine's size is read from the system; the accelerator is probed once and remembered")
    func probe() async throws {
        let dir = NSTemporaryDirectory() + "stratus-probe-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let resources = HostProbe.resources(instancesPath: NSTemporaryDirectory())
        #expect(resources.vcpus == ProcessInfo.processInfo.activeProcessorCount)
        #expect(resources.memoryMB > 0 && resources.localGB > 0)
        // Without a kernel to boot, KVM cannot be proven to work: TCG, written down for next time.
        let cacheFile = dir + "/accelerator"
        #expect(await HostProbe.accelerator(binary: "qemu-system-x86_64", kernel: nil, cacheFile: cacheFile) == .tcg)
        #expect(try String(contentsOfFile: cacheFile, encoding: .utf8) == "tcg")
        try "kvm".write(toFile: cacheFile, atomically: true, encoding: .utf8)
        #expect(await HostProbe.accelerator(binary: "qemu-system-x86_64", kernel: nil, cacheFile: cacheFile) == .kvm)
    }
}

@Suite("Guest console")
struct GuestConsoleTests {
    @Test("the console is the log's tail: CR LF lines counted, at most the last 100 KiB read, no half line")
    func tail() throws {
        let dir = NSTemporaryDirectory() + "stratus-console-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = (0..<5000).map { "line \($0) of the serial console" }
        try Data((lines.joined(separator: "\r\n") + "\r\n").utf8).write(to: URL(fileURLWithPath: dir + "/console.log"))
        let guest = QEMUGuest(directory: dir)
        #expect(guest.console(lines: 2) == "line 4998 of the serial console\nline 4999 of the serial console\n")
        let all = guest.console(lines: nil)
        #expect(all.utf8.count <= 100 * 1024)
        #expect(all.hasPrefix("line "))
        #expect(all.hasSuffix("line 4999 of the serial console\r\n"))
        #expect(QEMUGuest(directory: dir + "/missing").console(lines: 3) == "")
    }
}
