import ArgumentParser
import Foundation
import Inspect
import Lake

struct LakeGCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove files older than their folder's retention; never one the latest successful run of a pipeline uses.",
        discussion: """
        Retention per lake folder comes from <lake>/.agentshop/retention.yaml (a retention: mapping \
        of folder to age such as 90d, 12w, 1y, or keep), over the defaults: raw_data, scraped_data \
        and external_apis 1y; raw_data/logs 90d (run manifests, logs, rejects); \
        external_apis/llm_responses 30d; processed_data 3y; db_dumps by the dump stage's own \
        retention (gc leaves dumps alone); the store is never touched. Age is the file's modification \
        time. Files the latest successful run of any pipeline read or wrote (with that run's manifest \
        and log), and the outputs each pipeline's state points at, are kept whatever their age.

        A run's records go together, by the raw_data/logs rule: its manifest, log, rejects, and the \
        queue folders a failed queued stage kept (.agentshop/queue/<pipeline>/<stage>/<run>/), once \
        all are older than the rule and the run is finished or abandoned (marked running, but its \
        pipeline's lock is free). A run still running keeps everything.

        Examples:
          agentshop lake gc --dry-run
          agentshop lake gc
        """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print what would be removed; remove nothing.")
    var dryRun = false

    func run() async throws {
        let lake = try global.openLake()
        let policy: LakeRetention
        let source: String?
        do {
            (policy, source) = try LakeRetention.load(lake: lake)
        } catch {
            Console.error("\(error)")
            throw ExitStatus.invalidInput
        }
        let history = LakeHistory(lake: lake)
        for bad in history.unreadable { Console.error("warning: unreadable manifest \(bad) (its files are not protected)") }
        // Holds the locks of pipelines whose runs it finds abandoned until their records are gone.
        let abandoned = AbandonedRuns(lake: lake, history: history, owner: "pid \(getpid()), lake gc")
        defer { abandoned.release() }
        let plan = policy.plan(lake: lake, history: history, abandoned: abandoned.runIDs)
        let (removed, failed): ([GCPlan.Removal], [(path: String, reason: String)]) = dryRun ? (plan.removals, []) : plan.apply(lake: lake)
        let freed = removed.reduce(Int64(0)) { $0 + $1.bytes }
        if global.json {
            Console.json(Summary(dryRun: dryRun, policyFile: source,
                                 removed: removed.map(Summary.File.init),
                                 failed: failed.map { Summary.Failure(path: $0.path, reason: $0.reason) },
                                 kept: plan.protected, keptRunning: plan.running, bytesFreed: freed))
        } else {
            if !global.quiet {
                Console.error("retention: \(source.map { "defaults and \($0)" } ?? "defaults (no \(LakeRetention.configFile))")")
            }
            let verb = dryRun ? "would remove" : "removed"
            for removal in removed {
                let run = removal.run.map { "; \(removal.isFolder ? "queue folder" : "record") of \(removal.runStatus ?? "finished") run \($0)" } ?? ""
                Console.out("\(verb) \(removal.path)\(removal.isFolder ? "/" : "")  \(ByteSize.text(removal.bytes)), "
                            + "\(removal.ageDays) days old (\(removal.folder): \(removal.rule)\(run))")
            }
            for path in plan.protected where !global.quiet {
                Console.out("kept \(path)  past its age, but the latest successful run of a pipeline uses it")
            }
            for path in plan.running where !global.quiet {
                Console.out("kept \(path)  past its age, but its run is still running")
            }
            for failure in failed { Console.error("cannot remove \(failure.path): \(failure.reason)") }
            let folders = removed.filter(\.isFolder).count
            let files = removed.count - folders
            Console.out("\(dryRun ? "would free" : "freed") \(ByteSize.text(freed)) in \(files) file\(files == 1 ? "" : "s")"
                        + (folders == 0 ? "" : " and \(folders) queue folder\(folders == 1 ? "" : "s")"))
        }
        if !failed.isEmpty { throw ExitStatus.internalError }
    }

    struct Summary: Encodable {
        struct File: Encodable {
            let path: String; let bytes: Int64; let ageDays: Int; let rule: String
            /// A run's record: the run, its status, and whether this is one of its queue folders.
            let run: String?; let runStatus: String?; let folder: Bool?
            enum CodingKeys: String, CodingKey { case path, bytes, ageDays = "age_days", rule, run, runStatus = "run_status", folder }

            init(_ removal: GCPlan.Removal) {
                (path, bytes, ageDays, rule) = (removal.path, removal.bytes, removal.ageDays, "\(removal.folder): \(removal.rule)")
                (run, runStatus, folder) = (removal.run, removal.runStatus, removal.run == nil ? nil : removal.isFolder)
            }
        }
        struct Failure: Encodable { let path: String; let reason: String }
        let dryRun: Bool
        let policyFile: String?
        let removed: [File]
        let failed: [Failure]
        let kept: [String]
        /// Records past their age kept because their run is still running.
        let keptRunning: [String]
        let bytesFreed: Int64

        enum CodingKeys: String, CodingKey {
            case dryRun = "dry_run", policyFile = "policy_file", removed, failed, kept, keptRunning = "kept_running"
            case bytesFreed = "bytes_freed"
        }
    }
}
