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
    private var counts = (fromCache: 0, read: 0)

    /// Digests answered from the cache and files read to compute one, since the cache was loaded: a rerun
    /// with nothing changed reads no file.
    public var statistics: (fromCache: Int, read: Int) {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }

    /// Loads the cache kept at `path` (a missing or unreadable cache starts empty).
    public init(path: String) {
        self.path = path
        entries = [:]
        guard let bytes = try? FileInput.readAll(path: path) else { return }
        entries.reserveCapacity(bytes.count / 100)
        // One line per file: `size mtime_ns inode sha256 path` (the path may hold spaces). Parsed as bytes:
        // every run loads it, a line per input file, and splitting Strings was a visible part of a no-op rerun.
        bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                var end = start
                while end < buffer.count && buffer[end] != 0x0A { end += 1 }
                if let entry = Self.entry(UnsafeBufferPointer(rebasing: buffer[start..<end])) {
                    entries[entry.path] = entry.entry
                }
                start = end + 1
            }
        }
    }

    /// One line of the cache file; nil when it is not one.
    private static func entry(_ line: UnsafeBufferPointer<UInt8>) -> (path: String, entry: Entry)? {
        var fields: [Range<Int>] = []
        var start = 0
        for index in 0..<line.count where line[index] == 0x20 && fields.count < 4 {
            fields.append(start..<index)
            start = index + 1
        }
        guard fields.count == 4, start < line.count, fields[3].count == 64 else { return nil }
        func number(_ range: Range<Int>) -> UInt64? {
            guard !range.isEmpty, range.count <= 19 else { return nil }
            var value: UInt64 = 0
            for index in range {
                let digit = line[index] &- 0x30
                guard digit < 10 else { return nil }
                value = value * 10 + UInt64(digit)
            }
            return value
        }
        guard let size = number(fields[0]).flatMap(Int64.init(exactly:)), let mtime = number(fields[1]).flatMap(Int64.init(exactly:)),
              let inode = number(fields[2]) else { return nil }
        let text = { (range: Range<Int>) in String(decoding: UnsafeBufferPointer(rebasing: line[range]), as: UTF8.self) }
        return (text(start..<line.count),
                Entry(size: size, mtimeNs: mtime, inode: inode, sha256: text(fields[3])))
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
        if let cached, cached.size == size, cached.mtimeNs == mtime, cached.inode == inode {
            counts.fromCache += 1
            lock.unlock()
            return (cached.sha256, size)
        }
        lock.unlock()
        let sha = try FileDigest.sha256(path: file.absolute)
        lock.lock()
        entries[file.relative] = Entry(size: size, mtimeNs: mtime, inode: inode, sha256: sha)
        counts.read += 1
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
