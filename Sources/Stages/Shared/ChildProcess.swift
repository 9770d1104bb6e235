import Foundation

/// Runs `/bin/sh -c COMMAND` in its own process group, with stdout and stderr sent to files,
/// a timeout, and cancellation that stops the whole group (the shell and what it started).
/// The `command` stage and `agentshop scheduler` run their children through it.
public struct ChildProcess: Sendable {
    public struct Outcome: Sendable {
        public var exitCode: Int32
        /// Set when a signal ended the process.
        public var signal: Int32?
        public var timedOut: Bool
    }

    let command: String
    let workingDirectory: String
    let environment: [String: String]
    let stdoutPath: String
    let stderrPath: String
    let timeout: Double?
    /// Seconds between SIGTERM and SIGKILL when the group is stopped (timeout or cancellation).
    let grace: Double

    public init(command: String, workingDirectory: String, environment: [String: String], stdoutPath: String,
                stderrPath: String, timeout: Double?, grace: Double = 1) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.timeout = timeout
        self.grace = grace
    }

    /// Called with the child's pid (= its process group) as soon as it started.
    public func run(onStart: (pid_t) -> Void = { _ in }) async throws -> Outcome {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // The command gets stdin, stdout and stderr only: no descriptor of ours (the run lock, the
        // log, sockets a parent process passed us) leaks into it or outlives us through it.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        // posix_spawn_file_actions_addchdir_np is not visible from Swift's Glibc: cd in the shell.
        let argv = ["/bin/sh", "-c", "cd \(shellQuote(workingDirectory)) || exit 126\n\(command)"]
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArgv, cEnvp)
            }
        }
        guard rc == 0 else { throw StageErrorText("cannot start /bin/sh: \(String(cString: strerror(rc)))") }
        onStart(pid)

        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var status: Int32 = 0
        var timedOut = false
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { throw StageErrorText("waitpid failed: \(String(cString: strerror(errno)))") }
            if Task.isCancelled || (deadline.map { Date() >= $0 } ?? false) {
                timedOut = !Task.isCancelled
                await stopGroup(pid)
                waitpid(pid, &status, 0)
                break
            }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        // Anything the shell left running in its group goes too.
        kill(-pid, SIGKILL)
        if Task.isCancelled { throw CancellationError() }
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return Outcome(exitCode: signaled ? -1 : (status >> 8) & 0xff, signal: signaled ? status & 0x7f : nil,
                       timedOut: timedOut)
    }

    /// glibc 2.34+ `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module hides
    /// (it needs _GNU_SOURCE); looked up at run time so an older libc still works, minus the close.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// SIGTERM to the group, then SIGKILL after the grace period.
    private func stopGroup(_ pid: pid_t) async {
        kill(-pid, SIGTERM)
        // Checked: a grace from a flag may be huge or NaN, and Int(_:) traps on those.
        let ticks = grace.isFinite ? Int(min(max(grace, 0), 86_400) * 50) : 1
        for _ in 0..<max(1, ticks) {
            // Peek without reaping (WNOWAIT): the caller collects the status.
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid { return }
            // A plain sleep: this may run after cancellation, when Task.sleep would return at once.
            await withCheckedContinuation { continuation in
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) { continuation.resume() }
            }
        }
        kill(-pid, SIGKILL)
    }
}

public struct StageErrorText: Error, CustomStringConvertible {
    public let description: String
    public init(_ text: String) { description = text }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

