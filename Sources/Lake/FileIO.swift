import Foundation

/// Something bytes can be read from in chunks: a file, or a decompressor over one.
public protocol ByteSource: AnyObject {
    /// Fills up to `buffer.count` bytes; returns 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Something bytes can be written to: a file, or a compressor in front of one.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes buffered bytes and writes any trailer. Writing after `finish` is a bug.
    func finish() throws
}

extension ByteSink {
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
    public func write(_ string: String) throws {
        var copy = string
        try copy.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }
}

/// Collects what is written in memory: one compressed block, one WARC record's gzip members.
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ data: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: data) }
    public func finish() throws {}
}

/// A file opened for reading; owns its descriptor.
public final class FileInput: ByteSource {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw errno == ENOENT ? LakeError(.notFound, "no such file", path: path)
                : LakeError.posix("cannot open for reading", path: path)
        }
    }

    deinit { close(fd) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Foundation.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw LakeError.posix("read failed", path: path)
        }
    }

    /// Reads the whole file. For small files (configs, sidecars), not datasets.
    public static func readAll(path: String) throws -> [UInt8] {
        let input = try FileInput(path: path)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }
}

/// A buffered writer over a file descriptor.
public final class FileOutput: ByteSink {
    public let path: String
    fileprivate let fd: Int32
    private var buffer: [UInt8] = []
    private let capacity = 256 * 1024
    private var closed = false
    /// Bytes written so far.
    public private(set) var bytesWritten: Int = 0

    fileprivate init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
        buffer.reserveCapacity(capacity)
    }

    deinit { if !closed { close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        bytesWritten += bytes.count
        if buffer.count + bytes.count > capacity {
            try flush()
            if bytes.count >= capacity { try writeFully(bytes); return }
        }
        buffer.append(contentsOf: bytes)
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeFully($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    public func finish() throws { try flush() }

    /// Flushes and forces the bytes to stable storage.
    func sync() throws {
        try flush()
        if fsync(fd) != 0 { throw LakeError.posix("fsync failed", path: path) }
    }

    fileprivate func closeDescriptor() {
        if !closed { close(fd); closed = true }
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw LakeError.posix("write failed", path: path)
            }
            offset += n
        }
    }
}

/// A file that many threads append to and that is read back at offsets (a pack of records).
public final class AppendOnlyFile: @unchecked Sendable {
    public enum Opening: Sendable {
        /// Created, or emptied when it exists.
        case new
        /// Opened as it is (appends go at its end); an error when it does not exist.
        case existing
    }

    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var end: Int64 = 0

    public init(path: String, opening: Opening) throws {
        try LakeConfinement.checkWrite(to: path)
        self.path = path
        switch opening {
        case .new: fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        case .existing: fd = open(path, O_RDWR | O_CLOEXEC)
        }
        if fd < 0 {
            throw errno == ENOENT ? LakeError(.notFound, "no such file", path: path) : LakeError.posix("cannot open", path: path)
        }
        let end = lseek(fd, 0, SEEK_END)
        if end < 0 { throw LakeError.posix("cannot seek", path: path) }
        self.end = Int64(end)
    }

    deinit { close(fd) }

    /// Bytes in the file (appends included).
    public var size: Int64 { lock.withLock { end } }

    /// Forces what was appended to stable storage.
    public func sync() throws {
        if fsync(fd) != 0 { throw LakeError.posix("fsync failed", path: path) }
    }

    /// Appends `bytes`; returns the offset they start at.
    public func append(_ bytes: [UInt8]) throws -> Int64 {
        try lock.withLock {
            let offset = end
            try bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw LakeError.posix("write failed", path: path)
                    }
                    done += n
                }
            }
            end += Int64(bytes.count)
            return offset
        }
    }

    /// Reads `count` bytes at `offset` into `buffer` (reused by the caller from read to read).
    public func read(offset: Int64, count: Int, into buffer: inout [UInt8]) throws {
        if buffer.count != count { buffer = [UInt8](repeating: 0, count: count) }
        try buffer.withUnsafeMutableBytes { raw in try readExactly(fd, offset: offset, into: raw, path: path) }
    }
}

/// Fills `buffer` with the bytes of `fd` from `offset`; a file that ends before is an error naming `path`.
func readExactly(_ fd: Int32, offset: Int64, into buffer: UnsafeMutableRawBufferPointer, path: String) throws {
    var done = 0
    while done < buffer.count {
        let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw LakeError.posix("read failed", path: path) }
        if n == 0 { throw LakeError(.io, "the file ends before byte \(offset + Int64(buffer.count))", path: path) }
        done += n
    }
}

/// The one rule for every writer into a lake (stage outputs, manifests, logs, dumps, the LLM cache, state):
/// a file whose path lies in a lake must land in it, with every folder on the way resolved. The lake root
/// itself may be a symbolic link (`Lake` resolves it once); a folder inside that leads out is refused for
/// every writer alike, instead of being followed by some and refused by others.
///
/// Enforced here, where files are created (`AtomicFile`, `AppendOnlyFile`, `publish`), so no writer has
/// to remember it. Lakes are known from `Lake.init`.
public enum LakeConfinement {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var roots: Set<String> = []

    static func register(_ root: String) {
        lock.lock()
        roots.insert(root)
        lock.unlock()
    }

    /// Throws `pathOutsideLake` when `path` is in a known lake but a folder on its way (or the file, when it
    /// is a symbolic link) resolves outside it. Paths in no lake pass unchanged.
    public static func checkWrite(to path: String) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let standardized = URL(fileURLWithPath: absolute).standardizedFileURL.path
        lock.lock()
        let root = roots.filter { standardized.hasPrefix($0 + "/") }.max { $0.count < $1.count }
        lock.unlock()
        guard let root else { return }
        do {
            _ = try LakePath(String(standardized.dropFirst(root.count + 1)), in: Lake(resolvedRoot: root))
        } catch let error as LakeError where error.code == .pathOutsideLake {
            throw LakeError(.pathOutsideLake, "refusing to write through a folder that leads outside the lake (\(root)): "
                            + error.reason, path: standardized)
        }
    }
}

/// A file that appears under its final name only when complete.
///
/// Bytes go to a temporary name in the same folder (`.name.agentshop-tmp-PID-RANDOM`);
/// `commit()` fsyncs the file, renames it over the final name and fsyncs the folder, so a
/// crash at any moment leaves either the old file or the new one, never half of one.
/// Dropping an uncommitted `AtomicFile` removes the temporary file.
public final class AtomicFile {
    /// The final path.
    public let path: String
    /// Where the bytes are written until `commit()`.
    public let temporaryPath: String
    public let output: FileOutput
    private var done = false

    /// Marker in temporary names, so that leftovers of killed runs can be found and removed.
    public static let temporaryMarker = ".agentshop-tmp-"

    public init(path: String, permissions: mode_t = 0o644) throws {
        try LakeConfinement.checkWrite(to: path)
        self.path = path
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        temporaryPath = Self.temporaryPath(for: url.path)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        if fd < 0 { throw LakeError.posix("cannot create file", path: temporaryPath) }
        output = FileOutput(path: temporaryPath, fd: fd)
    }

    deinit { if !done { abandon() } }

    /// Makes the file visible under its final name, durably. With `durable: false` the file is still
    /// whole or absent after a killed process, but a power loss may lose it (no fsync): for caches
    /// whose users check what they read, where thousands of fsyncs would cost more than a refetch.
    public func commit(durable: Bool = true) throws {
        precondition(!done, "AtomicFile committed twice")
        do {
            if durable { try output.sync() } else { try output.flush() }
            output.closeDescriptor()
            if rename(temporaryPath, path) != 0 { throw LakeError.posix("cannot rename into place", path: path) }
            done = true
            if durable { try Self.syncFolder(of: path) }
        } catch {
            if !done { abandon() }
            throw error
        }
    }

    /// Removes the temporary file; the final name is untouched.
    public func abandon() {
        output.closeDescriptor()
        unlink(temporaryPath)
        done = true
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String, durable: Bool = true) throws {
        let file = try AtomicFile(path: path)
        try file.output.write(bytes)
        try file.commit(durable: durable)
    }

    public static func write(_ string: String, to path: String) throws {
        try write(Array(string.utf8), to: path)
    }

    /// A fresh temporary path beside `path`, for a program that writes the file itself
    /// (an external command); publish it with `publish(temporaryPath:to:)`.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + temporaryMarker
            + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Makes a complete file written elsewhere appear under its final name, durably.
    public static func publish(temporaryPath: String, to path: String) throws {
        try LakeConfinement.checkWrite(to: path)
        let fd = open(temporaryPath, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw LakeError.posix("cannot open file to publish", path: temporaryPath) }
        let synced = fsync(fd) == 0
        close(fd)
        if !synced { throw LakeError.posix("fsync failed", path: temporaryPath) }
        if rename(temporaryPath, path) != 0 { throw LakeError.posix("cannot rename into place", path: path) }
        try syncFolder(of: path)
    }

    /// fsync on the folder makes the rename itself durable.
    public static func syncFolder(of path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw LakeError.posix("cannot open folder to sync", path: folder) }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL { throw LakeError.posix("folder fsync failed", path: folder) }
    }

    /// `removeStaleTemporaries(in:)` for `folder` and every folder below it (not following
    /// symlinks). Returns the removed files' paths relative to `folder`.
    @discardableResult
    public static func removeStaleTemporaries(under folder: String) -> [String] {
        var removed = removeStaleTemporaries(in: folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names.sorted() {
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            removed += removeStaleTemporaries(under: folder + "/" + name).map { name + "/" + $0 }
        }
        return removed
    }

    /// Removes temporary files left in `folder` by processes that no longer exist.
    /// Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(in folder: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let marker = name.range(of: temporaryMarker) else { continue }
            let pidText = name[marker.upperBound...].prefix { $0 != "-" }
            guard let pid = Int32(pidText) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                if unlink(folder + "/" + name) == 0 { removed.append(name) }
            }
        }
        return removed
    }
}

/// Content digests of files.
public enum FileDigest {
    /// SHA-256 of a file's bytes, streamed.
    public static func sha256(path: String) throws -> String {
        let input = try FileInput(path: path)
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.hexDigest()
    }
}
