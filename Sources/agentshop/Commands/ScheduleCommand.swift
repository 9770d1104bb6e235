import ArgumentParser
import Foundation
import Lake
import Pipeline

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Show when pipelines run, and the crontab lines that run them.",
        subcommands: [List.self, Print.self],
        defaultSubcommand: List.self
    )

    /// The pipelines named, or every pipeline in ./pipelines.
    static func pipelineFiles(_ names: [String]) -> [String] {
        if !names.isEmpty { return names.map(GlobalOptions.pipelineFile) }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "pipelines")) ?? []
        return files.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "pipelines/" + $0 }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Each scheduled pipeline and its next runs.")

        @OptionGroup var global: GlobalOptions

        @Option(help: "How many next runs to show.")
        var count = 3

        @Argument(help: ArgumentHelp("Pipelines (default: every file in ./pipelines).", valueName: "pipeline"))
        var pipelines: [String] = []

        func run() async throws {
            var rows = [["PIPELINE", "SCHEDULE", "CRON", "TIME ZONE", "NEXT RUNS"]]
            var failed = false
            let now = Date()
            for file in ScheduleCommand.pipelineFiles(pipelines) {
                guard let spec = try? global.loadPipeline(file, lake: nil) else { failed = true; continue }
                guard let schedule = spec.schedule else {
                    rows.append([spec.name, "-", "", "", "not scheduled"])
                    continue
                }
                let formatter = ISO8601DateFormatter()
                formatter.timeZone = schedule.timeZone
                let next = schedule.nextRuns(after: now, count: count).map { formatter.string(from: $0) }
                rows.append([spec.name, schedule.source, schedule.cron, schedule.timeZoneName, next.joined(separator: ", ")])
            }
            Console.out(Console.table(rows))
            if failed { throw ExitStatus.invalidInput }
        }
    }

    struct Print: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "print",
            abstract: "Print crontab lines for the scheduled pipelines (absolute paths, the lake, the lock wait, PATH, log file).",
            discussion: "Install them with `agentshop schedule print | crontab -` (this replaces your crontab) or paste them into `crontab -e`."
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Seconds a run waits for the previous run of the same pipeline.", valueName: "seconds"))
        var wait = 300

        @Argument(help: ArgumentHelp("Pipelines (default: every file in ./pipelines).", valueName: "pipeline"))
        var pipelines: [String] = []

        func run() async throws {
            let lake = try global.openLake()
            let binary = Self.executablePath()
            let folder = FileManager.default.currentDirectoryPath
            var lines = [
                "# AgentShop pipelines in \(folder) (agentshop schedule print)",
                "PATH=\((binary as NSString).deletingLastPathComponent):/usr/local/bin:/usr/bin:/bin",
            ]
            var failed = false
            var zone: String?
            for file in ScheduleCommand.pipelineFiles(pipelines) {
                guard let spec = try? global.loadPipeline(file, lake: lake) else { failed = true; continue }
                guard let schedule = spec.schedule else { continue }
                if schedule.timeZoneName != zone {
                    zone = schedule.timeZoneName
                    // cronie and systemd-cron honour CRON_TZ; Debian's classic cron uses the system zone.
                    lines.append("CRON_TZ=\(schedule.timeZoneName)")
                }
                let pipelinePath = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: folder + "/")).standardizedFileURL.path
                let log = lake.root + "/raw_data/logs/cron-\(spec.name).log"  // the folder exists from init on
                lines.append("\(schedule.cron) cd \(shellQuote(folder)) && \(shellQuote(binary)) run \(shellQuote(pipelinePath)) --lake \(shellQuote(lake.root)) --wait \(wait) --quiet >> \(shellQuote(log)) 2>&1")
            }
            Console.out(lines.joined(separator: "\n"))
            if failed { throw ExitStatus.invalidInput }
        }

        static func executablePath() -> String {
            if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
            return CommandLine.arguments[0]
        }

        func shellQuote(_ text: String) -> String {
            if !text.isEmpty && text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-=:+,@".contains($0) }) { return text }
            return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
    }
}
