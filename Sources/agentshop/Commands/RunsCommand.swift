import ArgumentParser
import Foundation
import Inspect
import Lake
import Pipeline

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List past runs from their manifests, newest last.",
            discussion: "Examples:\n  agentshop runs list\n  agentshop runs show 20261125T1042",
        subcommands: [List.self, Show.self, Prune.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List runs.",
            discussion: "Examples:\n  agentshop runs list\n  agentshop runs list --since 7d --json")

        @OptionGroup var global: GlobalOptions

        @Option(help: "Only runs of this pipeline.")
        var pipeline: String?

        @Flag(help: "Only runs that failed, were interrupted or died.")
        var failed = false

        @Option(help: ArgumentHelp("Only runs started on or after this date (YYYY-MM-DD) or this long ago (24h, 7d).", valueName: "when"))
        var since: String?

        @Option(help: "Show at most this many (the newest).")
        var limit: Int = 50

        func run() async throws {
            let lake = try global.openLake()
            var (manifests, unreadable) = ManifestStore(lake: lake).all(pipeline: pipeline)
            for path in unreadable { Console.error("warning: unreadable manifest \(path)") }
            if failed { manifests = manifests.filter { RunsCommand.displayStatus($0) != "succeeded" } }
            if let since {
                guard let cutoff = RunsCommand.parseSince(since) else {
                    Console.error("--since takes YYYY-MM-DD or a duration like 24h or 7d, found '\(since)'")
                    throw ExitStatus.invalidInput
                }
                manifests = manifests.filter { (Timestamp.parse($0.startedAt) ?? .distantPast) >= cutoff }
            }
            manifests = Array(manifests.suffix(max(0, limit)))
            if global.json { Console.json(manifests); return }
            var rows = [["RUN", "PIPELINE", "STATUS", "STARTED", "TOOK", "STAGES", "COST", "ERROR"]]
            for m in manifests {
                let ran = m.stages.filter { $0.status == .ran }.count
                let skipped = m.stages.filter { $0.status == .skipped }.count
                rows.append([m.runID, m.pipeline, RunsCommand.displayStatus(m), m.startedAt, RunsCommand.took(m),
                             "\(ran) ran, \(skipped) skipped", RunsCommand.cost(m).map(RunsCommand.dollars) ?? "",
                             String((m.error ?? "").prefix(60))])
            }
            Console.out(manifests.isEmpty ? "no runs" : Console.table(rows))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one run: stages, timings, records, errors, log.",
            discussion: "Examples:\n  agentshop runs show 20261125T1042\n  agentshop runs show 20261125T1042 --json")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The run id (a unique prefix is enough).", completion: Completions.runIDs)
        var runID: String

        func run() async throws {
            let lake = try global.openLake()
            let manifest: RunManifest
            do {
                manifest = try ManifestStore(lake: lake).find(runID: runID)
            } catch {
                Console.error("\(error)")
                throw ExitStatus.invalidInput
            }
            if global.json { Console.json(manifest); return }
            Console.out("run       \(manifest.runID)")
            Console.out("pipeline  \(manifest.pipeline) (\(manifest.pipelineFile))")
            Console.out("status    \(RunsCommand.displayStatus(manifest))")
            Console.out("started   \(manifest.startedAt)   took \(RunsCommand.took(manifest))   run date \(manifest.runDate)")
            if !manifest.options.isEmpty { Console.out("options   \(manifest.options.joined(separator: " "))") }
            Console.out("log       \(lake.root)/\(manifest.logFile)")
            if let cost = RunsCommand.cost(manifest) { Console.out("cost      \(RunsCommand.dollars(cost)) (LLM calls)") }
            if let error = manifest.error { Console.out("error     \(error)") }
            Console.out("")
            var rows = [["STAGE", "KIND", "STATUS", "TOOK", "IN", "OUT", "ROWS", "COST", "COUNTS", "WHY"]]
            for stage in manifest.stages {
                let counts = stage.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                let records = stage.outputs.compactMap(\.records)
                rows.append([stage.name, stage.kind, stage.status.rawValue, Console.duration(ms: stage.durationMs),
                             "\(stage.inputs.count)", "\(stage.outputs.count)", records.isEmpty ? "" : "\(records.reduce(0, +))",
                             RunsCommand.cost(stage).map(RunsCommand.dollars) ?? "", counts,
                             stage.error.map { "\(stage.reason): \($0)" } ?? stage.reason])
            }
            Console.out(Console.table(rows))
            let outputs = manifest.stages.flatMap { stage in stage.outputs.map { (stage.name, $0) } }
            if !outputs.isEmpty {
                Console.out("")
                var fileRows = [["STAGE", "OUTPUT", "BYTES", "RECORDS", "SHA256"]]
                for (stage, file) in outputs {
                    fileRows.append([stage, file.path, "\(file.bytes)", file.records.map(String.init) ?? "", String(file.sha256.prefix(12))])
                }
                Console.out(Console.table(fileRows))
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Remove old runs' records (keeping each pipeline's newest), and rotate the cron and scheduler logs.",
            discussion: """
            A run's records are its manifest, log and rejects files under raw_data/logs/<pipeline>/ and the \
            queue folders a failed queued stage kept under .agentshop/queue/. They go together, by the same \
            rule as `lake gc`'s for them, with --older-than and --keep on top: once all are older than the age \
            (their modification time; by default the raw_data/logs retention of .agentshop/retention.yaml, 90d), \
            and the run is finished or abandoned (marked running, but its pipeline's lock is free). A run still \
            running, and each pipeline's latest successful run, keep theirs.

            Appending logs (raw_data/logs/cron-*.log, scheduler.log) larger than --rotate-size move to <name>.1, \
            replacing the previous one.

            Examples:
              agentshop runs prune --older-than 30d --dry-run
              agentshop runs prune --keep 50 --json
            """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Remove the records of runs last written longer ago than this (30d, 12w); default: the raw_data/logs retention (90d).",
                                   valueName: "age"))
        var olderThan: String?

        @Option(help: "Always keep this many newest runs of each pipeline.")
        var keep = 20

        @Option(help: ArgumentHelp("Rotate appending logs larger than this many MiB.", valueName: "MiB"))
        var rotateSize = 10

        @Flag(help: "Print what would be removed; remove nothing.")
        var dryRun = false

        func run() async throws {
            let lake = try global.openLake()
            var age: Double?
            if let olderThan {
                guard let seconds = ConfigValue.parseDuration(olderThan) else {
                    Console.error("--older-than takes a duration like 30d or 12w, found '\(olderThan)'")
                    throw ExitStatus.invalidInput
                }
                age = seconds
            }
            guard keep >= 0, rotateSize >= 1 else { throw ValidationError("--keep must be at least 0 and --rotate-size at least 1") }
            let policy: LakeRetention
            do {
                policy = try LakeRetention.load(lake: lake).policy
            } catch {
                Console.error("\(error)")
                throw ExitStatus.invalidInput
            }
            let history = LakeHistory(lake: lake)
            // The same judgement as `lake gc`'s for run records; the locks of pipelines with abandoned runs are held until done.
            let abandoned = AbandonedRuns(lake: lake, history: history, owner: "pid \(getpid()), runs prune")
            defer { abandoned.release() }
            let plan = policy.runPlan(lake: lake, history: history, abandoned: abandoned.runIDs, olderThan: age, keepNewest: keep)
            let (done, failed) = dryRun ? (plan.removals, []) : plan.apply(lake: lake)
            for failure in failed { Console.error("cannot remove \(failure.path): \(failure.reason)") }
            let removed = done.map { lake.root + "/" + $0.path + ($0.isFolder ? "/" : "") }.sorted()
            var rotated: [String] = []
            let logs = lake.root + "/raw_data/logs"
            let fm = FileManager.default
            var candidates = ((try? fm.contentsOfDirectory(atPath: logs)) ?? []).filter { $0.hasSuffix(".log") }.map { logs + "/" + $0 }
            for folder in (try? fm.contentsOfDirectory(atPath: logs)) ?? [] where fm.fileExists(atPath: logs + "/" + folder + "/scheduler.log") {
                candidates.append(logs + "/" + folder + "/scheduler.log")
            }
            for path in candidates.sorted() {
                let size = (try? fm.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
                guard size > Int64(rotateSize) << 20 else { continue }
                // rename(2) replaces the old .1 atomically; writers with O_APPEND start a new file on their next open.
                if !dryRun && rename(path, path + ".1") != 0 {
                    Console.error("cannot rotate \(path): \(String(cString: strerror(errno)))")
                    throw ExitStatus.internalError
                }
                rotated.append(path)
            }
            if global.json {
                Console.json(["dry_run": JSONValue.bool(dryRun), "removed": .array(removed.map { .string($0) }),
                              "rotated": .array(rotated.map { .string($0) })])
                if !failed.isEmpty { throw ExitStatus.internalError }
                return
            }
            for path in removed { Console.out((dryRun ? "would remove " : "removed ") + path) }
            for path in rotated { Console.out((dryRun ? "would rotate " : "rotated ") + path + " -> " + path + ".1") }
            Console.error("\(removed.count) record\(removed.count == 1 ? "" : "s") \(dryRun ? "to remove" : "removed"), "
                          + "\(rotated.count) log\(rotated.count == 1 ? "" : "s") \(dryRun ? "to rotate" : "rotated")")
            if !failed.isEmpty { throw ExitStatus.internalError }
        }
    }

    /// A manifest still marked running whose process is gone died without finishing (kill -9, power loss).
    static func displayStatus(_ manifest: RunManifest) -> String {
        if manifest.status == .running && kill(manifest.pid, 0) != 0 && errno == ESRCH { return "died" }
        return manifest.status.rawValue
    }

    /// A stage's LLM cost, from `details.llm.totals.cost_usd` when the stage reported one.
    static func cost(_ stage: RunManifest.StageRun) -> Double? {
        stage.details?.objectValue?["llm"]?.objectValue?["totals"]?.objectValue?["cost_usd"]?.doubleValue
    }

    /// The run's LLM cost: the sum over the stages that reported one.
    static func cost(_ manifest: RunManifest) -> Double? {
        let costs = manifest.stages.compactMap(cost)
        return costs.isEmpty ? nil : costs.reduce(0, +)
    }

    static func dollars(_ value: Double) -> String { String(format: "$%.4f", value) }

    static func took(_ manifest: RunManifest) -> String {
        guard let start = Timestamp.parse(manifest.startedAt), let end = manifest.finishedAt.flatMap(Timestamp.parse) else { return "" }
        return Console.duration(ms: Int(end.timeIntervalSince(start) * 1000))
    }

    static func parseSince(_ text: String) -> Date? {
        if let seconds = ConfigValue.parseDuration(text) { return Date().addingTimeInterval(-seconds) }
        return Timestamp.parse(text + "T00:00:00Z")
    }
}
