import Foundation

/// The user's crontab, read and written through the `crontab` program (`-l` and `-`), the only
/// supported way: cron reloads it, and the spool folder is not ours to edit.
struct Crontab {
    /// A shell command prefix: `crontab`, `crontab -u alice`, or a test's stand-in.
    let command: String

    init(command: String?) {
        let fromEnvironment = ProcessInfo.processInfo.environment["AGENTSHOP_CRONTAB_COMMAND"].flatMap { $0.isEmpty ? nil : $0 }
        self.command = command ?? fromEnvironment ?? "crontab"
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Whether the program can be found at all (`crontab` on PATH, or the stand-in's first word).
    var isAvailable: Bool {
        let program = command.split(separator: " ").first.map(String.init) ?? command
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }

    /// The current crontab; empty when the user has none ("no crontab for …").
    func read() throws -> String {
        let result = try Self.shell("\(command) -l", input: nil)
        if result.status == 0 { return result.stdout }
        if result.stderr.lowercased().contains("no crontab") { return "" }
        throw Failure(description: "`\(command) -l` failed (exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    /// Replaces the crontab with `text`.
    func write(_ text: String) throws {
        let result = try Self.shell("\(command) -", input: text)
        guard result.status == 0 else {
            throw Failure(description: "`\(command) -` failed (exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// `read`, printing a failure and exiting 70 (the environment is broken, not the input).
    func readOrExit() throws -> String {
        do { return try read() } catch { Console.error("\(error)"); throw ExitStatus.internalError }
    }

    func writeOrExit(_ text: String) throws {
        do { try write(text) } catch { Console.error("\(error)"); throw ExitStatus.internalError }
    }

    private static func shell(_ line: String, input: String?) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", line]
        let out = Pipe(), err = Pipe(), inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inp
        do { try process.run() } catch { throw Failure(description: "cannot run `\(line)`: \(error)") }
        // Read both pipes while the child runs, so a large crontab cannot fill a pipe and stall it.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdout = Data(), stderr = Data()
        DispatchQueue.global().async(group: group) { stdout = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { stderr = err.fileHandleForReading.readDataToEndOfFile() }
        if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
        try? inp.fileHandleForWriting.close()
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

/// The cron daemons running on this machine, found by their process names in /proc: a crontab line
/// does nothing unless one reads it.
enum CronDaemon {
    /// Process names of the cron daemons Linux distributions ship: Debian's and Ubuntu's cron, cronie's and
    /// busybox's crond, dcron, fcron, bcron.
    static let names: Set<String> = ["cron", "crond", "cronie", "fcron", "dcron", "bcron-sched"]

    /// `name (pid N)` of each running daemon, oldest first.
    static func running(proc: String = "/proc") -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? []
        return entries.compactMap { Int($0) }.sorted().compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "\(proc)/\(pid)/comm") else { return nil }
            let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            // Not anacron: it runs /etc/anacrontab only, never a user's crontab.
            return names.contains(name) ? "\(name) (pid \(pid))" : nil
        }
    }
}
