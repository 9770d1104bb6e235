import Foundation
import Testing
import TestSupport
@testable import Pipeline

struct OrphanGuardTests {
    /// Starts `sleep` as the leader of its own process group (as ChildProcess starts commands)
    /// and returns its pid, and the shell that started it (reap the shell after the test:
    /// Foundation waits for the orphan too).
    private func startGroupLeader() throws -> (shell: Process, pid: pid_t) {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "/usr/bin/setsid /usr/bin/sleep 30 > /dev/null 2>&1 & echo $!"]
        let pipe = Pipe()
        shell.standardOutput = pipe
        try shell.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (shell, try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))))
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    private func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    private func waitUntilGone(_ pid: pid_t) -> Bool {
        for _ in 0..<200 {
            if !isAlive(pid) { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func reapKillsTheRecordedGroup() throws {
        let tmp = try TemporaryDirectory()
        let (shell, pid) = try startGroupLeader()
        defer { kill(pid, SIGKILL); shell.waitUntilExit() }
        // setsid execs sleep once it runs: wait until the pid is the group's leader.
        for _ in 0..<200 where getpgid(pid) != pid { usleep(5_000) }
        #expect(getpgid(pid) == pid)
        let orphans = OrphanGuard(path: tmp.file("child.pid"))
        orphans.record(pid)
        let text = try String(contentsOfFile: tmp.file("child.pid"), encoding: .utf8)
        #expect(text.hasPrefix("\(pid) "))
        #expect(orphans.reap() == pid)
        #expect(waitUntilGone(pid), "the recorded group was killed")
        #expect(!tmp.exists("child.pid"))
    }

    @Test func reapLeavesAProcessWhosePidWasReused() throws {
        let tmp = try TemporaryDirectory()
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/usr/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        // Same pid, but a start time that is not this process's: another program had the pid.
        try tmp.write("child.pid", "\(sleeper.processIdentifier) 1\n")
        #expect(OrphanGuard(path: tmp.file("child.pid")).reap() == nil)
        #expect(isAlive(sleeper.processIdentifier))
        #expect(!tmp.exists("child.pid"))
    }

    @Test(arguments: ["", "garbage", "1 2", "-5 3", "123"])
    func reapIgnoresUnusableRecords(text: String) throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("child.pid", text)
        #expect(OrphanGuard(path: tmp.file("child.pid")).reap() == nil)
        #expect(!tmp.exists("child.pid"))
    }

    @Test func reapWithoutARecord() throws {
        let tmp = try TemporaryDirectory()
        #expect(OrphanGuard(path: tmp.file("child.pid")).reap() == nil)
    }

    @Test func recordOfAProcessThatIsGoneWritesNothing() throws {
        let tmp = try TemporaryDirectory()
        OrphanGuard(path: tmp.file("child.pid")).record(4_194_000)
        #expect(!tmp.exists("child.pid"))
    }

    @Test func clearRemovesTheRecord() throws {
        let tmp = try TemporaryDirectory()
        let orphans = OrphanGuard(path: tmp.file("child.pid"))
        orphans.record(getpid())
        #expect(tmp.exists("child.pid"))
        orphans.clear()
        #expect(!tmp.exists("child.pid"))
    }

    @Test func startTimeOfThisProcess() {
        let start = OrphanGuard.startTime(of: getpid())
        #expect(start != nil && start! > 0)
        #expect(OrphanGuard.startTime(of: 4_194_000) == nil)
    }
}
