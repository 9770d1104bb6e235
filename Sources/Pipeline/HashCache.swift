import Foundation
import Lake

/// SHA-256 of lake files, cached by (size, modification time, inode) like DVC and git do, so
/// that an up-to-date pipeline is checked without reading its data again.
public final class HashCache: @unchecked Sendable {
    struct Entry: Codable {
        var size: Int64
        var mtimeNs: Int64
        var inode: UInt64
        var sha256: String
    }

    private let path: String
    private let lock = NSLock()
    private var entries: [String: Entry]
    private var dirty = false

    /// Loads the cache kept at `path` (a missing or unreadable cache starts empty).
    public init(path: String) {
        self.path = path
        if let data = FileManager.default.contents(atPath: path),
           let decoded = try? JSONDecoder().decode([String: Entry].self, from: data) {
            entries = decoded
        } else {
            entries = [:]
        }
    }

    /// The file's digest and size, from the cache when the file has not changed since.
    public func digest(of file: LakePath) throws -> (sha256: String, size: Int64) {
        var info = stat()
        guard stat(file.absolute, &info) == 0 else {
            throw LakeError.notFound
        }
        let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let size = Int64(info.st_size)
        let inode = UInt64(info.st_ino)
        lock.lock()
        let cached = entries[file.relative]
        lock.unlock()
        if let cached, cached.size == size, cached.mtimeNs == mtime, cached.inode == inode {
            return (cached.sha256, size)
        }
        let sha = try FileDigest.sha256(path: file.absolute)
        lock.lock()
        entries[file.relative] = Entry(size: size, mtimeNs: mtime, inode: inode, sha256: sha)
        dirty = true
        lock.unlock()
        return (sha, size)
    }

    /// Writes the cache back if anything changed. Entries for files that no longer exist are dropped.
    public func save(lake: Lake) throws {
        lock.lock()
        defer { lock.unlock() }
        guard dirty else { return }
        entries = entries.filter { FileManager.default.fileExists(atPath: lake.root + "/" + $0.key) }
        let data = try JSONEncoder().encode(entries)
        try AtomicFile.write(Array(data), to: path)
        dirty = false
    }
}
