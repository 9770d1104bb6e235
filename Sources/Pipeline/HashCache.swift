import Foundation
import Lake

/// SHA-256 of lake files, cached by (size, modification time, inode) like DVC and git do, so
/// that an up-to-date pipeline is checked without reading its data again.
public final class HashCache: @unchecked Sendable {
    struct Entry {
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
        entries = [:]
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        // One line per file: `size mtime_ns inode sha256 path` (the path may hold spaces).
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 4)
            guard fields.count == 5, let size = Int64(fields[0]), let mtime = Int64(fields[1]),
                  let inode = UInt64(fields[2]), fields[3].count == 64 else { continue }
            entries[String(fields[4])] = Entry(size: size, mtimeNs: mtime, inode: inode, sha256: String(fields[3]))
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
        entries = entries.filter { access(lake.root + "/" + $0.key, F_OK) == 0 }
        var text = ""
        for (file, entry) in entries.sorted(by: { $0.key < $1.key }) where !file.contains("\n") {
            text += "\(entry.size) \(entry.mtimeNs) \(entry.inode) \(entry.sha256) \(file)\n"
        }
        try AtomicFile.write(text, to: path)
        dirty = false
    }
}
