import Crypto
import Foundation
import NIOCore
import _NIOFileSystem
import StratusCore

/// The filesystem store: one file per image under `directory`. Uploads stream to `ID.part` while MD5 and
/// SHA-512 are computed, and are renamed into place only when complete, so a failed upload never leaves bits
/// that look whole.
public struct ImageFiles: Sendable {
    public let directory: String
    /// Glance's `image_size_cap`: larger uploads are refused (413) and the image is killed.
    public let sizeCap: Int

    public init(directory: String, sizeCap: Int) {
        self.directory = directory
        self.sizeCap = sizeCap
    }

    /// What an upload measured.
    public struct Upload: Sendable {
        public var size: Int
        public var md5: String
        public var sha512: String
        /// From the qcow2 header when the data is qcow2.
        public var virtualSize: Int?
    }

    /// Raised when the data passes `sizeCap`.
    public struct TooLarge: Error {}

    public func path(_ id: String) -> String { directory + "/" + id }

    /// Streams `chunks` to disk; throws (leaving nothing behind) on a failed read, a write error or passing the cap.
    public func store<Chunks: AsyncSequence & Sendable>(_ id: String, _ chunks: Chunks) async throws -> Upload where Chunks.Element == ByteBuffer {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let partial = path(id) + ".part"
        var md5 = Insecure.MD5()
        var sha512 = SHA512()
        var size = 0
        var head: [UInt8] = []
        do {
            try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(partial), options: .newFile(replaceExisting: true)) { handle in
                try await handle.withBufferedWriter { writer in
                    for try await chunk in chunks {
                        size += chunk.readableBytes
                        if size > sizeCap { throw TooLarge() }
                        chunk.withUnsafeReadableBytes { bytes in
                            md5.update(bufferPointer: bytes)
                            sha512.update(bufferPointer: bytes)
                            if head.count < 32 { head += bytes.prefix(32 - head.count) }
                        }
                        _ = try await writer.write(contentsOf: chunk)
                    }
                }
            }
            try FileManager.default.moveItem(atPath: partial, toPath: path(id))
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        return Upload(size: size, md5: md5.finalize().map { String(format: "%02x", $0) }.joined(),
                      sha512: sha512.finalize().map { String(format: "%02x", $0) }.joined(), virtualSize: Self.qcow2VirtualSize(head))
    }

    public func remove(_ id: String) {
        try? FileManager.default.removeItem(atPath: path(id))
        try? FileManager.default.removeItem(atPath: path(id) + ".part")
    }

    /// A qcow2 header starts `QFI\xfb`; bytes 24–31 are the virtual disk size, big-endian.
    public static func qcow2VirtualSize(_ head: [UInt8]) -> Int? {
        guard head.count >= 32, head[0..<4] == [0x51, 0x46, 0x49, 0xfb] else { return nil }
        return head[24..<32].reduce(0) { $0 << 8 | Int($1) }
    }
}
