import Foundation
import Testing

/// `schedule install | remove` through a stand-in crontab program (a file in the test's folder), and once
/// through Debian's real `crontab` on the `nobody` user's crontab, saved and restored around the test.
@Suite struct ScheduleInstallTests {
    static let foreign = "MAILTO=ops@example.com\n# keep me\n15 2 * * * /usr/local/bin/backup --full % weekly\n"

    static func project() throws -> Project {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/nightly.yaml", """
            pipeline: nightly
            schedule: "30 2 * * *"
            stages:
              hello:
                command: { run: "echo hi > {out}" }
                out: processed_data/hello.txt
            """)
        try project.write("pipelines/adhoc.yaml", """
            stages:
              hello:
                command: { run: "echo hi > {out}" }
                out: processed_data/adhoc.txt
            """)
        return project
    }

    /// A crontab program that keeps the table in a file: `fake-crontab FILE -l` / `fake-crontab FILE -`.
    static func fakeCrontab(in project: Project) throws -> String {
        try project.write("fake-crontab", """
            #!/bin/sh
            file="$1"
            case "$2" in
              -l) if [ -f "$file" ]; then cat "$file"; else echo "no crontab for tester" >&2; exit 1; fi ;;
              -) cat > "$file" ;;
              *) echo "usage" >&2; exit 2 ;;
            esac
            """)
        chmod(project.folder + "/fake-crontab", 0o755)
        return "\(project.folder)/fake-crontab \(project.folder)/tab"
    }

    @Test func installTwiceThenRemoveRestoresTheOriginal() throws {
        let project = try Self.project()
        let command = try Self.fakeCrontab(in: project)
        try project.write("tab", Self.foreign)

        let first = try project.run(["schedule", "install", "--crontab-command", command])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("installed 1 scheduled pipeline"))
        let installed = try project.read("tab")
        #expect(installed.hasPrefix(Self.foreign + "\n# BEGIN agentshop \(project.folder)\n"))
        #expect(installed.hasSuffix("# END agentshop \(project.folder)\n"))
        let entry = try #require(installed.split(separator: "\n").first { $0.hasPrefix("30 2 * * * ") })
        #expect(entry.contains("run \(project.folder)/pipelines/nightly.yaml --lake \(project.lake)"))
        #expect(entry.contains(" --wait 300 --quiet >> \(project.lake)/raw_data/logs/cron-nightly.log 2>&1"))
        #expect(entry.contains("PATH="))
        #expect(!installed.contains("adhoc"))

        let second = try project.run(["schedule", "install", "--crontab-command", command])
        #expect(second.status == 0)
        #expect(second.stderr.contains("already up to date"))
        #expect(try project.read("tab") == installed)

        let removed = try project.run(["schedule", "remove", "--crontab-command", command])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try project.read("tab") == Self.foreign)
    }

    @Test func installWritesWhatPrintShows() throws {
        let project = try Self.project()
        let command = try Self.fakeCrontab(in: project)
        let printed = try project.run(["schedule", "print", "--wait", "60"])
        #expect(printed.status == 0)
        #expect(try project.run(["schedule", "install", "--wait", "60", "--crontab-command", command]).status == 0)
        let block = try project.read("tab").split(separator: "\n").dropFirst(2).dropLast()  // markers and the comment out
        #expect(Array(block) == printed.stdout.split(separator: "\n").dropFirst().map { $0 })
        #expect(!printed.stdout.contains("\nPATH="))  // PATH is set on each command, not for the whole crontab
    }

    @Test func dryRunPrintsTheNewCrontabAndChangesNothing() throws {
        let project = try Self.project()
        let command = try Self.fakeCrontab(in: project)
        let result = try project.run(["schedule", "install", "--dry-run", "--crontab-command", command])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("# BEGIN agentshop \(project.folder)\n"))
        #expect(result.stdout.contains("30 2 * * * "))
        #expect(!project.exists("tab"))  // no crontab before, none after
    }

    @Test func withNothingScheduledTheBlockGoes() throws {
        let project = try Self.project()
        let command = try Self.fakeCrontab(in: project)
        try project.write("tab", Self.foreign)
        #expect(try project.run(["schedule", "install", "--crontab-command", command]).status == 0)
        try FileManager.default.removeItem(atPath: project.folder + "/pipelines/nightly.yaml")
        let result = try project.run(["schedule", "install", "--crontab-command", command])
        #expect(result.status == 0)
        #expect(result.stderr.contains("no scheduled pipeline: removed the crontab block"))
        #expect(try project.read("tab") == Self.foreign)
        #expect(try project.run(["schedule", "install", "--crontab-command", command]).stderr.contains("nothing to install"))
    }

    @Test func anInvalidPipelineInstallsNothing() throws {
        let project = try Self.project()
        let command = try Self.fakeCrontab(in: project)
        try project.write("tab", Self.foreign)
        try project.write("pipelines/broken.yaml", "schedule: \"61 * * * *\"\nstages: {}\n")
        let result = try project.run(["schedule", "install", "--crontab-command", command])
        #expect(result.status == 2)
        #expect(result.stderr.contains("broken.yaml"))
        #expect(try project.read("tab") == Self.foreign)
    }

    @Test func aFailingCrontabProgramIsReported() throws {
        let project = try Self.project()
        let result = try project.run(["schedule", "install", "--crontab-command", "/bin/false"])
        #expect(result.status == 70)
        #expect(result.stderr.contains("/bin/false -l"))
    }

    static var realCrontabUsable: Bool {
        getuid() == 0 && getpwnam("nobody") != nil
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/crontab")
    }

    /// The real `crontab -l` / `crontab -` path. Needs Debian's cron (scripts/setup.sh installs it) and root,
    /// to edit the `nobody` user's crontab rather than the tester's own; skipped otherwise.
    @Test(.enabled(if: realCrontabUsable, "skipped: needs /usr/bin/crontab (Debian's cron, scripts/setup.sh) and root for `crontab -u nobody`"))
    func realCrontab() throws {
        let project = try Self.project()
        let command = "crontab -u nobody"
        let saved = try project.run(["schedule", "remove", "--dry-run", "--crontab-command", command])  // reads it
        #expect(saved.status == 0, "\(saved.stderr)")
        let original = saved.stdout
        defer {
            // Put back whatever nobody's crontab held.
            let restore = Process()
            restore.executableURL = URL(fileURLWithPath: "/bin/sh")
            restore.arguments = ["-c", original.isEmpty ? "crontab -u nobody -r 2>/dev/null; true" : "crontab -u nobody -"]
            let input = Pipe()
            restore.standardInput = input
            try? restore.run()
            input.fileHandleForWriting.write(Data(original.utf8))
            try? input.fileHandleForWriting.close()
            restore.waitUntilExit()
        }
        try setCrontab(Self.foreign)

        #expect(try project.run(["schedule", "install", "--crontab-command", command]).status == 0)
        let once = try readCrontab()
        #expect(try project.run(["schedule", "install", "--crontab-command", command]).status == 0)
        let twice = try readCrontab()
        #expect(once == twice)
        #expect(twice.contains("# BEGIN agentshop \(project.folder)\n"))
        #expect(twice.contains("30 2 * * * "))
        // Debian's crontab -l may add its own header comments; the foreign lines stay as they were, in order.
        #expect(twice.contains(Self.foreign))
        #expect(try project.run(["schedule", "remove", "--crontab-command", command]).status == 0)
        let after = try readCrontab()
        #expect(after.contains(Self.foreign) && !after.contains("agentshop"))
    }

    private func readCrontab() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/crontab")
        process.arguments = ["-u", "nobody", "-l"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    private func setCrontab(_ text: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/crontab")
        process.arguments = ["-u", "nobody", "-"]
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
