import ArgumentParser
import Foundation
import Lake
import Pipeline
import Stages

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Show when pipelines run, and the crontab lines that run them.",
            discussion: "Examples:\n  agentshop schedule list\n  agentshop schedule install",
        subcommands: [List.self, Due.self, Print.self, Install.self, Remove.self],
        defaultSubcommand: List.self
    )

    /// The pipelines named, or every pipeline in ./pipelines.
    static func pipelineFiles(_ names: [String]) -> [String] {
        if !names.isEmpty { return names.map(GlobalOptions.pipelineFile) }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "pipelines")) ?? []
        return files.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "pipelines/" + $0 }
    }

    /// `--at INSTANT` of `schedule list`, `schedule due` and `scheduler`: one reading for all three.
    static func instant(_ text: String?) throws -> Date {
        guard let text else { return Date() }
        guard let date = Timestamp.parse(text) else {
            Console.error("--at takes an ISO 8601 instant such as 2026-11-25T03:00:00Z or 2026-11-25T04:00:00+01:00, found '\(text)'")
            throw ExitStatus.invalidInput
        }
        return date
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Each scheduled pipeline and its next runs.",
            discussion: "Examples:\n  agentshop schedule list\n  agentshop schedule list demo --count 5 --json")

        @OptionGroup var global: GlobalOptions

        @Option(help: "How many next runs to show.")
        var count = 3

        @Option(help: ArgumentHelp("Show the runs after this ISO 8601 instant instead of now (what `scheduler --once --at` would see).",
                                   valueName: "instant"))
        var at: String?

        @Argument(help: ArgumentHelp("Pipelines (default: every file in ./pipelines).", valueName: "pipeline"))
        var pipelines: [String] = []

        func run() async throws {
            var rows = [["PIPELINE", "SCHEDULE", "CRON", "TIME ZONE", "NEXT RUNS"]]
            var entries: [JSONValue] = []
            var failed = false
            let now = try ScheduleCommand.instant(at)
            for file in ScheduleCommand.pipelineFiles(pipelines) {
                guard let spec = try? global.loadPipeline(file, lake: nil) else { failed = true; continue }
                guard let schedule = spec.schedule else {
                    rows.append([spec.name, "-", "", "", "not scheduled"])
                    entries.append(.object(JSONObject([("pipeline", .string(spec.name)), ("schedule", .null), ("next_runs", .array([]))])))
                    continue
                }
                let formatter = ISO8601DateFormatter()
                formatter.timeZone = schedule.timeZone
                let next = schedule.nextRuns(after: now, count: count).map { formatter.string(from: $0) }
                // Empty only for a `once` that has passed: the search is bounded (28 years), never endless.
                let text = next.isEmpty ? (schedule.onlyAt != nil ? "passed" : "none within 28 years") : next.joined(separator: ", ")
                rows.append([spec.name, schedule.source, schedule.cron, schedule.timeZoneName, text])
                entries.append(.object(JSONObject([
                    ("pipeline", .string(spec.name)), ("schedule", .string(schedule.source)), ("cron", .string(schedule.cron)),
                    ("time_zone", .string(schedule.timeZoneName)), ("next_runs", .array(next.map { .string($0) })),
                ])))
            }
            if global.json { Console.out(JSONValue.array(entries).serialized()) } else { Console.out(Console.table(rows)) }
            if failed { throw ExitStatus.invalidInput }
        }
    }

    struct Due: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "due",
            abstract: "Exit 0 when the pipeline's schedule, read in its own time zone, has a run in the current minute; else 1.",
            discussion: """
            The check that `schedule install` puts before `agentshop run` on crontab lines that fire at every \
            minute a run may fall on: Debian's and Ubuntu's cron read every line in the system's time zone \
            and ignore CRON_TZ. Prints one line to stderr when due, nothing otherwise.

            Examples:
              agentshop schedule due demo && agentshop run demo
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Check the minute of this ISO 8601 instant instead of now.", valueName: "instant"))
        var at: String?

        @Argument(help: ArgumentHelp("A pipeline file, or a name in ./pipelines.", valueName: "pipeline"))
        var pipeline: String

        func run() async throws {
            // The minute cron fired in: read the clock before loading anything.
            let now = try ScheduleCommand.instant(at)
            let lake = try global.openLake()
            let spec = try global.loadPipeline(pipeline, lake: lake)
            guard let schedule = spec.schedule else {
                Console.error("\(spec.name): not scheduled (no schedule:)")
                throw ExitStatus.invalidInput
            }
            guard let due = schedule.dueRun(inMinuteOf: now) else { throw ExitCode(1) }
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = schedule.timeZone
            Console.error("\(spec.name): due at \(formatter.string(from: due)) (\(schedule.source), \(schedule.timeZoneName))")
        }
    }

    struct Print: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "print",
            abstract: "Print crontab lines for the scheduled pipelines (absolute paths, the lake, the lock wait, PATH, log file).",
            discussion: "`agentshop schedule install` puts these lines into your crontab inside a marked block, leaving your other lines alone.\n\nExamples:\n  agentshop schedule print\n  agentshop schedule print demo --json"
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Seconds a run waits for the previous run of the same pipeline.", valueName: "seconds"))
        var wait = 300

        @Argument(help: ArgumentHelp("Pipelines (default: every file in ./pipelines).", valueName: "pipeline"))
        var pipelines: [String] = []

        func run() async throws {
            let (lines, failed) = try ScheduleCommand.crontabLines(global: global, pipelines: pipelines, wait: wait)
            // --json: the lines as an array of strings, comments included, in crontab order.
            if global.json { Console.json(lines) } else { Console.out(lines.joined(separator: "\n")) }
            if failed { throw ExitStatus.invalidInput }
        }

        static func executablePath() -> String {
            if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
            return CommandLine.arguments[0]
        }
    }

    /// The crontab lines that run the scheduled pipelines of the project in the current folder, and
    /// whether a pipeline file was invalid. PATH goes on each command rather than on a `PATH=` line,
    /// which would change every later line of the user's crontab too.
    ///
    /// The lines are in the system's time zone (TZ, else /etc/localtime: the zone cron reads its lines in),
    /// never `CRON_TZ=`, which Debian's and Ubuntu's cron ignore: `SystemCronLine` translates a schedule in
    /// another zone when a fixed offset does it exactly, and otherwise fires at every candidate minute with
    /// `agentshop schedule due` deciding, in the schedule's own zone, whether the run goes.
    static func crontabLines(global: GlobalOptions, pipelines: [String], wait: Int) throws -> (lines: [String], failed: Bool) {
        let lake = try global.openLake()
        let binary = Print.executablePath()
        let folder = FileManager.default.currentDirectoryPath
        let path = "\((binary as NSString).deletingLastPathComponent):/usr/local/bin:/usr/bin:/bin"
        let systemZone = TimeZone.current
        var lines = ["# AgentShop pipelines in \(folder) (agentshop schedule print); times in the system time zone (\(systemZone.identifier))"]
        var failed = false
        let now = Date()
        for file in pipelineFiles(pipelines) {
            guard let spec = try? global.loadPipeline(file, lake: lake) else { failed = true; continue }
            guard let schedule = spec.schedule else { continue }
            if let instant = schedule.onlyAt, instant <= now {
                lines.append("# \(spec.name): \(schedule.source) has passed; no line")
                continue
            }
            let pipelinePath = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: folder + "/")).standardizedFileURL.path
            let log = lake.root + "/raw_data/logs/cron-\(spec.name).log"  // the folder exists from init on
            let environment = "cd \(shellQuote(folder)) && PATH=\(shellQuote(path)) "
            let run = "\(shellQuote(binary)) run \(shellQuote(pipelinePath))"
                + " --lake \(shellQuote(lake.root)) --wait \(wait) --quiet >> \(shellQuote(log)) 2>&1"
            var entries: [String] = []
            switch SystemCronLine.lines(for: schedule, systemZone: systemZone, now: now) {
            case .exact(let expressions):
                if schedule.timeZoneName != "UTC" || systemZone.secondsFromGMT(for: now) != 0 {
                    lines.append("# \(spec.name): \(schedule.source) in \(schedule.timeZoneName)")
                }
                entries = expressions.map { "\($0) \(environment)\(run)" }
            case .gated(let expression):
                lines.append("# \(spec.name): \(schedule.source) in \(schedule.timeZoneName) has no exact form in \(systemZone.identifier): "
                             + "the line fires at every candidate minute and `schedule due` lets the run go when it is due")
                let due = "\(shellQuote(binary)) schedule due \(shellQuote(pipelinePath)) --lake \(shellQuote(lake.root)) 2>> \(shellQuote(log))"
                entries = ["\(expression) \(environment)\(due) && PATH=\(shellQuote(path)) \(run)"]
            }
            // An unescaped % ends a crontab command (the rest becomes its stdin).
            lines += entries.map { $0.replacingOccurrences(of: "%", with: "\\%") }
        }
        return (lines, failed)
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Put the lines of `schedule print` into your crontab, inside a block marked with this project's folder.",
            discussion: """
            Runs `crontab -l` and `crontab -`. Installing again replaces the block in place; every line outside \
            it is kept as it was. `--dry-run` prints the crontab that would be installed.

            Examples:
              agentshop schedule install --dry-run
              agentshop schedule install
            """
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var crontab: CrontabOptions

        @Option(help: ArgumentHelp("Seconds a run waits for the previous run of the same pipeline.", valueName: "seconds"))
        var wait = 300

        @Flag(help: "Print the new crontab instead of installing it.")
        var dryRun = false

        @Argument(help: ArgumentHelp("Pipelines (default: every file in ./pipelines).", valueName: "pipeline"))
        var pipelines: [String] = []

        func run() async throws {
            let (lines, failed) = try ScheduleCommand.crontabLines(global: global, pipelines: pipelines, wait: wait)
            if failed {
                Console.error("not installing: fix the pipeline files first")
                throw ExitStatus.invalidInput
            }
            let project = FileManager.default.currentDirectoryPath
            let tab = crontab.crontab
            let current = try tab.readOrExit()
            let entries = lines.filter { !$0.hasPrefix("#") && !$0.hasPrefix("CRON_TZ=") }.count
            let updated: String
            do {
                let block = ["# Managed by `agentshop schedule install`: edit the pipelines and install again, not these lines."]
                    + lines.dropFirst()
                // Nothing scheduled: no block at all, rather than an empty one.
                updated = entries == 0 ? try CrontabBlock.removing(project: project, from: current)
                    : try CrontabBlock.installing(block, project: project, into: current)
            } catch {
                Console.error("\(error)")
                throw ExitStatus.invalidInput
            }
            if dryRun { Console.out(updated, terminator: ""); return }
            if entries == 0 {
                if updated != current { try tab.writeOrExit(updated) }
                Console.error("no scheduled pipeline\(updated != current ? ": removed the crontab block for \(project)" : "; nothing to install")")
                return
            }
            if updated == current {
                Console.error("crontab already up to date (\(entries) pipeline\(entries == 1 ? "" : "s"))")
                return
            }
            try tab.writeOrExit(updated)
            Console.error("installed \(entries) scheduled pipeline\(entries == 1 ? "" : "s") in the crontab block for \(project)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Remove this project's block from your crontab; other lines are kept as they were.",
            discussion: "Examples:\n  agentshop schedule remove --dry-run\n  agentshop schedule remove"
        )

        @OptionGroup var crontab: CrontabOptions

        @Flag(help: "Print the new crontab instead of installing it.")
        var dryRun = false

        func run() async throws {
            let project = FileManager.default.currentDirectoryPath
            let tab = crontab.crontab
            let current = try tab.readOrExit()
            let updated: String
            do {
                updated = try CrontabBlock.removing(project: project, from: current)
            } catch {
                Console.error("\(error)")
                throw ExitStatus.invalidInput
            }
            if dryRun { Console.out(updated, terminator: ""); return }
            if updated == current {
                Console.error("no AgentShop block for \(project) in the crontab")
                return
            }
            try tab.writeOrExit(updated)
            Console.error("removed the crontab block for \(project)")
        }
    }
}

/// `--crontab-command`: how to reach the user's crontab.
struct CrontabOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The crontab program, with any arguments (default: $AGENTSHOP_CRONTAB_COMMAND, else crontab); "
                               + "it is run with -l to read and - to write.", valueName: "command"))
    var crontabCommand: String?

    var crontab: Crontab { Crontab(command: crontabCommand) }
}
