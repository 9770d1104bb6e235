import Foundation
import Testing
import TestSupport

/// Runs the built `agentshop` binary in a temporary project folder with its own lake.
final class Project: @unchecked Sendable {
    let directory: TemporaryDirectory
    var folder: String { directory.path }
    var lake: String { folder + "/datalake" }

    init(_ function: String = #function) throws {
        directory = try TemporaryDirectory(function)
        try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static let binary: String = {
        // The test bundle sits in the build folder beside the executable.
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("agentshop").path,
            Bundle.main.bundleURL.appendingPathComponent("agentshop").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("agentshop").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    func write(_ relative: String, _ text: String) throws {
        let path = folder + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOfFile: folder + "/" + relative, encoding: .utf8)
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: folder + "/" + relative) }

    /// The user a test runs the binary as when it needs permissions to apply: root passes every
    /// permission check, so a root test process drops to `nobody`; anyone else runs as themselves.
    static let unprivilegedUID: uid_t = getuid() == 0 ? 65534 : getuid()

    /// The binary for runs as `unprivilegedUID`: a copy inside the project, since the build folder
    /// may sit below a home that other users cannot enter.
    var unprivilegedBinary: String { getuid() == 0 ? folder + "/.bin/agentshop" : Self.binary }

    /// Gives the project folder (and a copy of the binary) to `unprivilegedUID`, so that a run as
    /// that user can use it.
    func handToUnprivilegedUser() throws {
        guard getuid() == 0 else { return }
        if !FileManager.default.fileExists(atPath: unprivilegedBinary) {
            try FileManager.default.createDirectory(atPath: folder + "/.bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.binary, toPath: unprivilegedBinary)
        }
        let chown = Process()
        chown.executableURL = URL(fileURLWithPath: "/bin/chown")
        chown.arguments = ["-R", "\(Self.unprivilegedUID):\(Self.unprivilegedUID)", folder]
        try chown.run()
        chown.waitUntilExit()
        guard chown.terminationStatus == 0 else { throw CocoaError(.fileWriteNoPermission) }
    }

    /// Starts the binary; the caller waits or signals. With `fileSizeLimitKB`, under `ulimit -f`
    /// (as on a disk that fills up); with `unprivileged`, as `unprivilegedUID` (see
    /// `handToUnprivilegedUser`).
    /// - Parameter clearing: variables of the test's own environment whose names start with this are
    ///   left out (a `SCOUP_BASE_URL` of the machine must not reach a test that sets up its own).
    func start(_ arguments: [String], environment extra: [String: String] = [:],
               fileSizeLimitKB: Int? = nil, unprivileged: Bool = false, clearing prefix: String? = nil,
               in directory: String? = nil) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        var command = [unprivileged ? unprivilegedBinary : Self.binary] + arguments
        if let fileSizeLimitKB {
            command = ["/bin/sh", "-c", "ulimit -f \(fileSizeLimitKB); exec \"$0\" \"$@\""] + command
        }
        if unprivileged && getuid() == 0 {
            let id = Self.unprivilegedUID
            command = ["/usr/bin/setpriv", "--reuid=\(id)", "--regid=\(id)", "--clear-groups", "--"] + command
        }
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? folder)
        var environment = ProcessInfo.processInfo.environment.filter { prefix == nil || !$0.key.hasPrefix(prefix!) }
        environment["AGENTSHOP_LAKE"] = nil
        if unprivileged { environment["HOME"] = folder }  // root's home is closed to another user
        for (k, v) in extra { environment[k] = v }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    @discardableResult
    func run(_ arguments: [String], environment: [String: String] = [:], fileSizeLimitKB: Int? = nil,
             unprivileged: Bool = false, clearing prefix: String? = nil, in directory: String? = nil) throws -> Result {
        let (process, out, err) = try start(arguments, environment: environment, fileSizeLimitKB: fileSizeLimitKB,
                                            unprivileged: unprivileged, clearing: prefix, in: directory)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// `run` from a test that serves a loopback server in-process: the wait happens on a Dispatch
    /// thread, so the cooperative pool (two threads on two cores) stays free to answer the binary.
    func runDetached(_ arguments: [String], environment: [String: String] = [:],
                     clearing prefix: String? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Swift.Result { try self.run(arguments, environment: environment, clearing: prefix) })
            }
        }
    }

    /// `run --json` and the manifest it prints.
    func runPipeline(_ pipeline: String, _ extra: [String] = []) throws -> (Result, [String: Any]) {
        let result = try run(["run", pipeline, "--json"] + extra)
        let manifest = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        return (result, manifest)
    }

    /// Stage name → status from a manifest.
    static func statuses(_ manifest: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for stage in manifest["stages"] as? [[String: Any]] ?? [] {
            out[stage["name"] as! String] = stage["status"] as? String
        }
        return out
    }

    /// Every file under the lake whose name marks it as a temporary.
    func temporaryFiles() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: lake)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.contains(".agentshop-tmp-") { found.append(path) }
        }
        return found
    }

    func waitFor(_ relative: String, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if exists(relative) { return true }
            usleep(20_000)
        }
        return false
    }
}
