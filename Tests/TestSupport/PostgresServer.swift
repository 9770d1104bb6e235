import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server for tests, and a throwaway database per test.
///
/// With `AGENTSHOP_PG_URL` set (scripts/test.sh starts one server for the whole run and sets it), that
/// server is used. Otherwise the first test that asks starts one for this process: `initdb` and
/// `pg_ctl` from the platform's package, as the unprivileged `postgres` user when running as root,
/// in a temporary folder, listening on 127.0.0.1 at a free port; it is stopped and removed at exit.
/// Without any PostgreSQL, `database()` returns nil locally (the test skips, saying so) and throws
/// under `CI=true`, so CI never passes without running these tests.
public enum PostgresServer {
    /// A database made for one test; `drop()` removes it.
    public struct Database: Sendable {
        /// `postgres://…/<name>`, with the password.
        public let url: String
        public let name: String
        let adminURL: String

        public func drop() {
            _ = try? PostgresServer.psql(adminURL, "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The server's URL (database `postgres`), nil when there is none and this is not CI.
    public static func adminURL() throws -> String? {
        try state.withLock { state -> String? in
            if let url = state.url { return url }
            if let failure = state.failure { throw failure }
            do {
                if let url = ProcessInfo.processInfo.environment["AGENTSHOP_PG_URL"], !url.isEmpty {
                    state.url = url
                } else if let bin = binFolder() {
                    state.url = try start(bin: bin)
                } else {
                    let message = "no PostgreSQL server: set AGENTSHOP_PG_URL, or install PostgreSQL (initdb, pg_ctl) "
                        + "and psql (apt-get install postgresql libpq-dev)"
                    if ProcessInfo.processInfo.environment["CI"] == "true" { throw Failure(description: message) }
                    FileHandle.standardError.write(Data(("PostgreSQL tests skipped: " + message + "\n").utf8))
                    return nil
                }
            } catch {
                state.failure = error
                throw error
            }
            return state.url
        }
    }

    /// A new empty database on the test server, nil when there is no server (see `adminURL`).
    public static func database() throws -> Database? {
        guard let admin = try adminURL() else { return nil }
        let name = "agentshop_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try psql(admin, "CREATE DATABASE \"\(name)\"")
        return Database(url: url(admin, database: name), name: name, adminURL: admin)
    }

    /// `url` with its database replaced by `name`.
    public static func url(_ url: String, database name: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + name
        return components.string ?? url
    }

    /// Runs one SQL statement with psql against `url`; returns its output (unaligned, tuples only).
    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        let psql = binFolder().map { $0 + "/psql" }.flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
            ?? "/usr/bin/psql"
        return try run(psql, ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
    }

    // MARK: The server of this process

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var url: String?
        var failure: (any Error)?
        var folder: String?
        var bin: String?

        func withLock<T>(_ body: (State) throws -> T) rethrows -> T {
            lock.lock()
            defer { lock.unlock() }
            return try body(self)
        }
    }

    private static let state = State()

    /// The folder holding initdb and pg_ctl: `AGENTSHOP_PG_BIN`, the newest /usr/lib/postgresql/N/bin, or PATH.
    static func binFolder() -> String? {
        let fm = FileManager.default
        if let bin = ProcessInfo.processInfo.environment["AGENTSHOP_PG_BIN"] {
            return fm.isExecutableFile(atPath: bin + "/initdb") ? bin : nil
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() where fm.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/initdb") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where fm.isExecutableFile(atPath: "\(folder)/initdb") && fm.isExecutableFile(atPath: "\(folder)/pg_ctl") {
            return String(folder)
        }
        return nil
    }

    private static func start(bin: String) throws -> String {
        let fm = FileManager.default
        let folder = fm.temporaryDirectory.path + "/agentshop-pg-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let password = String(UInt64.random(in: 0...UInt64.max), radix: 36) + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/pwfile"))
        let asRoot = getuid() == 0
        if asRoot { _ = try run("/bin/chown", ["-R", "postgres:", folder]) }
        state.folder = folder
        state.bin = bin
        atexit { PostgresServer.stop() }
        let port = try freePort()
        try runAsServerUser(asRoot, bin + "/initdb", ["-D", folder + "/data", "-U", "agentshop", "--auth=scram-sha-256",
                                                      "--pwfile=" + folder + "/pwfile", "--no-sync", "-E", "UTF8", "--no-locale"])
        let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories=\(folder) "
            + "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=50"
        try runAsServerUser(asRoot, bin + "/pg_ctl", ["-D", folder + "/data", "-l", folder + "/server.log", "-w", "-t", "60",
                                                      "-o", options, "start"])
        return "postgres://agentshop:\(password)@127.0.0.1:\(port)/postgres"
    }

    /// Stops the server this process started (at exit); a server from AGENTSHOP_PG_URL is left alone.
    static func stop() {
        guard let folder = state.folder, let bin = state.bin else { return }
        _ = try? runAsServerUser(getuid() == 0, bin + "/pg_ctl", ["-D", folder + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: folder)
    }

    private static func runAsServerUser(_ asRoot: Bool, _ tool: String, _ arguments: [String]) throws {
        if asRoot {
            _ = try run("/usr/sbin/runuser", ["-u", "postgres", "--", tool] + arguments)
        } else {
            _ = try run(tool, arguments)
        }
    }

    /// Runs `tool` and waits for it with posix_spawn and waitpid (Foundation's Process can miss the
    /// exit of a child whose own child, the server, lives on). Output goes to a file, never a pipe the
    /// server would keep open.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.path + "/agentshop-pg-out-\(UUID().uuidString)"
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([tool] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, tool, &actions, nil, argv, environ)
        guard rc == 0 else { throw Failure(description: "cannot run \(tool): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw Failure(description: "\((tool as NSString).lastPathComponent) failed (status \(status)): \(text)")
        }
        return text
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
