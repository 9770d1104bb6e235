import Foundation

/// The store's one lock, an `flock` on `<store>.lock` beside the database file.
///
/// Every connection that may write the store holds it shared (`Store.open` takes it, and its
/// connection keeps it until closed), so writers run side by side as SQLite allows. Whatever
/// replaces the database file (`db restore`, `db rebuild`) holds it exclusively across the swap:
/// a writer never commits into a file that is about to be renamed away, and a writer that comes
/// later opens the new file. The kernel drops the lock of a dead process, so a killed restore
/// leaves nothing to clean up.
///
/// Within one process the lock is counted: taking it again while holding it exclusively, or
/// shared while holding it shared, succeeds at once. Taking it exclusively while this process
/// holds it shared waits like any other conflict (a `Store` left open across a restore is a bug).
public final class StoreLock {
    public enum Mode: Sendable { case shared, exclusive }

    /// The lock file.
    public let path: String
    public let mode: Mode
    /// False when the lock file could not be created because the folder is read-only: nothing
    /// can replace the store there either.
    public let isHeld: Bool

    /// `<store>.lock`.
    public static func path(forStore store: String) -> String { store + ".lock" }

    private struct Held {
        var fd: Int32
        var mode: Mode
        var count: Int
    }

    /// The locks this process holds, by lock file; guarded by `heldLock`.
    nonisolated(unsafe) private static var heldLocks: [String: Held] = [:]
    private static let heldLock = NSLock()

    private static func withHeld<T>(_ body: (inout [String: Held]) -> T) -> T {
        heldLock.lock()
        defer { heldLock.unlock() }
        return body(&heldLocks)
    }

    /// Takes the lock of the store at `store`, waiting up to `wait`. An exclusive holder writes
    /// `owner` into the lock file, so that the processes it keeps waiting can name it.
    public init(store: String, mode: Mode, wait: Duration, owner: String = StoreLock.defaultOwner) throws {
        let path = Self.path(forStore: store)
        self.path = path
        self.mode = mode
        let deadline = ContinuousClock.now.advanced(by: wait)
        var readOnlyFolder = false
        while true {
            let outcome: Result<Bool, StoreError> = Self.withHeld { held in
                if var entry = held[path] {
                    guard entry.mode == .exclusive || mode == .shared else { return .success(false) }
                    entry.count += 1
                    held[path] = entry
                    return .success(true)
                }
                let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                if fd < 0 {
                    if errno == EACCES || errno == EROFS, mode == .shared { readOnlyFolder = true; return .success(true) }
                    return .failure(StoreError(.io, "cannot open the store's lock file", cause: String(cString: strerror(errno)),
                                               path: path))
                }
                while flock(fd, (mode == .exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
                    if errno == EINTR { continue }
                    let reason = errno
                    close(fd)
                    if reason == EWOULDBLOCK { return .success(false) }
                    return .failure(StoreError(.io, "cannot lock the store", cause: String(cString: strerror(reason)), path: path))
                }
                if mode == .exclusive {
                    ftruncate(fd, 0)
                    let text = owner + "\n"
                    _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
                }
                held[path] = Held(fd: fd, mode: mode, count: 1)
                return .success(true)
            }
            if try outcome.get() { break }
            if ContinuousClock.now >= deadline { throw Self.busy(path: path, store: store, mode: mode, wait: wait) }
            usleep(50_000)
        }
        isHeld = !readOnlyFolder
    }

    deinit {
        guard isHeld else { return }
        Self.withHeld { held in
            guard var entry = held[path] else { return }
            entry.count -= 1
            if entry.count > 0 { held[path] = entry; return }
            if entry.mode == .exclusive { ftruncate(entry.fd, 0) }
            flock(entry.fd, LOCK_UN)
            close(entry.fd)
            held[path] = nil
        }
    }

    /// `agentshop db restore (pid 123)`: the command line's first words and the pid.
    public static var defaultOwner: String {
        let words = CommandLine.arguments.prefix(3).enumerated().map { $0.offset == 0 ? ($0.element as NSString).lastPathComponent : $0.element }
        return words.joined(separator: " ") + " (pid \(getpid()))"
    }

    private static func busy(path: String, store: String, mode: Mode, wait: Duration) -> StoreError {
        let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let waited = wait == .zero ? "" : " (waited \(wait.components.seconds)s)"
        switch mode {
        case .shared:
            return StoreError(.locked, "the store is being replaced by \(holder.isEmpty ? "another process" : holder)\(waited); "
                              + "try again when it is done", path: store)
        case .exclusive:
            let holders = Self.holders(of: path)
            let who = holders.isEmpty ? "a process that may write it (a run's materialize stage, db migrate…)"
                : holders.joined(separator: ", ") + ", which may write it"
            return StoreError(.locked, "the store is in use by \(who)\(waited); stop it or try again later, "
                              + "or pass --wait SECONDS", path: store)
        }
    }

    /// The other processes holding an `flock` on `path`, as `agentshop run shop (pid 123)`, from
    /// /proc/locks (Linux); empty where that cannot be read.
    static func holders(of path: String) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return [] }
        var pids: [pid_t] = []
        for line in text.split(separator: "\n") {
            // `1: FLOCK  ADVISORY  READ 1234 fd:01:567890 0 EOF`; waiters (`->`) hold nothing.
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5].hasSuffix(":\(info.st_ino)"),
                  let pid = pid_t(fields[4]), pid != getpid(), !pids.contains(pid) else { continue }
            pids.append(pid)
        }
        return pids.map { pid in
            let raw = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            let words = raw.split(separator: 0).prefix(3).map { String(decoding: $0, as: UTF8.self) }
            let command = words.enumerated().map { $0.offset == 0 ? ($0.element as NSString).lastPathComponent : $0.element }
                .joined(separator: " ")
            return (command.isEmpty ? "a process" : command) + " (pid \(pid))"
        }
    }
}
