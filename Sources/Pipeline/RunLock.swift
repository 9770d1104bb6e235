import Foundation
import Lake

/// One run per pipeline at a time: an exclusive `flock` on `.agentshop/locks/<pipeline>.lock`.
///
/// The kernel drops the lock when its process dies, so a lock left by a killed run is taken
/// over by the next one without any clean-up.
public final class RunLock {
    private let fd: Int32
    public let path: String

    /// Who holds a lock, as written into the lock file.
    public struct Holder: Sendable, CustomStringConvertible {
        public let text: String
        public var description: String { text.isEmpty ? "another process" : text }
    }

    public enum Failure: Error, Sendable {
        case busy(Holder)
        case io(String)
    }

    /// Takes the lock, waiting up to `wait` seconds (0: try once).
    public init(lake: Lake, pipeline: String, wait: Double, owner: String) throws(Failure) {
        path = lake.stateFolder + "/locks/" + pipeline + ".lock"
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create the lock folder: \(error)")
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let message = String(cString: strerror(errno))
                throw .io("cannot lock \(path): \(message)")  // deinit closes fd: it runs after a throwing init too
            }
            if Date() >= deadline {
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                throw .busy(Holder(text: holder))
            }
            usleep(50_000)
        }
        ftruncate(fd, 0)
        let text = owner + "\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
