import Foundation

/// Remembers the process group of a running command in a file, so that when AgentShop itself is
/// killed (kill -9: no chance to clean up) the next run can stop the orphaned command before it
/// writes again. The process start time guards against a reused pid.
public struct OrphanGuard: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public func record(_ pid: pid_t) {
        guard let start = Self.startTime(of: pid) else { return }
        try? "\(pid) \(start)\n".write(toFile: path, atomically: true, encoding: .utf8)
    }

    public func clear() { unlink(path) }

    /// Kills the process group a dead run left behind, if it is still there. Returns its pid.
    @discardableResult
    public func reap() -> pid_t? {
        defer { clear() }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 1, let start = UInt64(parts[1]),
              Self.startTime(of: pid) == start else { return nil }
        kill(-pid, SIGKILL)
        return pid
    }

    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
    static func startTime(of pid: pid_t) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); the start time is field 22.
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
