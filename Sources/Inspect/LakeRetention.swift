import Foundation
import Lake
import Pipeline

/// How long files are kept in each lake folder, and `lake gc`'s plan from it.
///
/// The policy lives in `<lake>/.agentshop/retention.yaml`:
///
/// ```yaml
/// retention:
///   raw_data: 365d
///   raw_data/logs: 90d                  # run manifests, run logs, rejects: the log rotation
///   external_apis/llm_responses: 30d
///   processed_data: 3y
///   db_dumps: dump                      # the dump stage's own retention; gc never touches dumps
///   processed_data/ml_datasets/golden: keep
/// ```
///
/// A folder's rule covers everything below it; the most specific folder wins. A file's age is
/// its modification time. Keys given replace the default for that folder only.
public struct LakeRetention: Sendable, Equatable {
    public enum Rule: Sendable, Equatable, CustomStringConvertible {
        /// Never removed by gc.
        case keep
        /// Removed once older than this many seconds.
        case maxAge(Double)
        /// Store dumps: the `dump` stage and `db dump` apply their own retention (daily/weekly,
        /// with checksum sidecars); gc leaves them alone so that nothing is deleted twice.
        case dump

        public var description: String {
            switch self {
            case .keep: return "keep"
            case .dump: return "dump"
            case .maxAge(let seconds):
                let days = seconds / 86_400
                if days >= 365, days.truncatingRemainder(dividingBy: 365) == 0 { return "\(Int(days / 365))y" }
                if days >= 1, days.truncatingRemainder(dividingBy: 1) == 0 { return "\(Int(days))d" }
                return "\(Int(seconds))s"
            }
        }
    }

    /// Folder (lake-relative, no trailing slash) → rule.
    public private(set) var rules: [String: Rule]

    public init(rules: [String: Rule]) { self.rules = rules }

    /// The original AgentShop's periods: raw data 1 year, processed data 3 years, logs 90 days,
    /// LLM responses 30 days; dumps by the dump stage.
    public static let defaults = LakeRetention(rules: [
        "raw_data": .maxAge(365 * 86_400),
        "scraped_data": .maxAge(365 * 86_400),
        "external_apis": .maxAge(365 * 86_400),
        "raw_data/logs": .maxAge(90 * 86_400),
        "external_apis/llm_responses": .maxAge(30 * 86_400),
        "processed_data": .maxAge(3 * 365 * 86_400),
        "db_dumps": .dump,
    ])

    /// Lake-relative path of the policy file.
    public static let configFile = ".agentshop/retention.yaml"

    /// A policy file that does not parse, with every problem as `file:line:col: key: message`.
    public struct InvalidPolicy: Error, CustomStringConvertible, Sendable {
        public let diagnostics: [Diagnostic]
        public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
    }

    /// The lake's policy: the defaults, overridden folder by folder by the policy file if there is one.
    public static func load(lake: Lake) throws -> (policy: LakeRetention, file: String?) {
        let path = lake.root + "/" + configFile
        guard FileManager.default.fileExists(atPath: path) else { return (defaults, nil) }
        let text = String(decoding: try FileInput.readAll(path: path), as: UTF8.self)
        return (try parse(text, file: path), path)
    }

    public static func parse(_ text: String, file: String) throws -> LakeRetention {
        let diagnostics = Diagnostics(file: file)
        var policy = defaults
        if let top = ConfigValue.document(text: text, diagnostics: diagnostics), top.expectMapping(),
           let section = top.value("retention", required: true), section.expectMapping(), let entries = section.entries() {
            for (folder, value) in entries {
                let name = folder.split(separator: "/").joined(separator: "/")
                guard let word = value.asString()?.trimmingCharacters(in: .whitespaces) else { continue }
                let top = name.split(separator: "/").first.map(String.init) ?? ""
                guard !name.isEmpty, !name.contains(".."), !name.hasPrefix("."),
                      LakeLayout.folders.contains(where: { $0.path == top }) else {
                    value.error("'\(folder)' is not a lake folder (one of \(LakeLayout.folders.filter { !$0.path.contains("/") }.map(\.path).joined(separator: ", ")), or a folder below one)")
                    continue
                }
                if top == "store" { value.error("the store is not governed by gc; back it up with dump stages"); continue }
                if top == "db_dumps" {
                    if word != "dump" {
                        value.error("dumps follow the dump stage's retention (its retention: key, or db dump --keep-daily-days); write 'dump' here")
                    }
                    policy.rules[name] = .dump
                    continue
                }
                if word == "keep" || word == "forever" { policy.rules[name] = .keep; continue }
                if word == "dump" { value.error("'dump' applies to db_dumps only"); continue }
                guard let seconds = parseAge(word), seconds >= 86_400 else {
                    value.error("expected an age of at least 1d (90d, 12w, 1y) or keep, found '\(word)'")
                    continue
                }
                policy.rules[name] = .maxAge(seconds)
            }
            top.rejectUnknownKeys()
        }
        if diagnostics.hasErrors { throw InvalidPolicy(diagnostics: diagnostics.all.sorted()) }
        return policy
    }

    /// `90d`, `12w`, `1y` (365 days), and the pipeline durations (`36h`).
    static func parseAge(_ text: String) -> Double? {
        if text.hasSuffix("y"), let years = Double(text.dropLast()), years > 0 {
            return years * 365 * 86_400 <= ConfigValue.maxDurationSeconds ? years * 365 * 86_400 : nil
        }
        return ConfigValue.parseDuration(text)
    }

    /// The rule for a lake-relative file path and the folder it comes from; nil when no folder
    /// has one (kept).
    public func rule(for path: String) -> (folder: String, rule: Rule)? {
        var best: (String, Rule)?
        for (folder, rule) in rules where path.hasPrefix(folder + "/") {
            if best == nil || folder.count > best!.0.count { best = (folder, rule) }
        }
        return best
    }

    /// What gc would remove now, and why the rest stays. A run's records (its manifest, log, rejects and
    /// queue folders: `RunFiles`) are judged together, by the rule of its manifest's folder
    /// (`raw_data/logs`); `abandoned` names the runs still marked running whose process is gone
    /// (`AbandonedRuns`): their records may go, those of a run still running never do.
    public func plan(lake: Lake, history: LakeHistory, abandoned: Set<String> = [], now: Date = Date()) -> GCPlan {
        let protected = Self.protectedFiles(lake: lake, history: history, abandoned: abandoned)
        let records = RunFiles.collect(lake: lake, history: history)
        let recordFiles = Set(records.flatMap(\.files))
        var plan = GCPlan()
        for path in LakeListing.walk(lake) where !recordFiles.contains(path) {
            guard let (folder, rule) = rule(for: path), case .maxAge(let limit) = rule else { continue }
            var info = stat()
            guard stat(lake.root + "/" + path, &info) == 0 else { continue }
            let age = now.timeIntervalSince1970 - Double(info.st_mtim.tv_sec)
            guard age > limit else { continue }
            if protected.contains(path) { plan.protected.append(path); continue }
            plan.removals.append(GCPlan.Removal(path: path, bytes: Int64(info.st_size), ageDays: Int(age / 86_400),
                                                folder: folder, rule: rule))
        }
        planRuns(records, into: &plan, history: history, protected: protected, abandoned: abandoned, keepNewest: 0, now: now) {
            rule(for: "raw_data/logs/\($0.pipeline)/\($0.runID)\(ManifestStore.suffix)")
        }
        return plan
    }

    /// `runs prune`: the same judgement as `plan` over run records only, with an age of its own (nil:
    /// this policy's, as gc applies it) and each pipeline's newest `keepNewest` runs kept too.
    public func runPlan(lake: Lake, history: LakeHistory, abandoned: Set<String> = [], olderThan: Double?, keepNewest: Int,
                        now: Date = Date()) -> GCPlan {
        let protected = Self.protectedFiles(lake: lake, history: history, abandoned: abandoned)
        var plan = GCPlan()
        planRuns(RunFiles.collect(lake: lake, history: history), into: &plan, history: history, protected: protected,
                 abandoned: abandoned, keepNewest: keepNewest, now: now) { run in
            if let olderThan { return ("runs prune --older-than", .maxAge(olderThan)) }
            return rule(for: "raw_data/logs/\(run.pipeline)/\(run.runID)\(ManifestStore.suffix)")
        }
        return plan
    }

    /// A run's records go together when all of them are past the run's age, the run is finished (or
    /// abandoned), it is not its pipeline's latest successful run, and nothing a latest successful run
    /// uses is among them.
    private func planRuns(_ records: [RunFiles], into plan: inout GCPlan, history: LakeHistory, protected: Set<String>,
                          abandoned: Set<String>, keepNewest: Int, now: Date,
                          rule: (RunFiles) -> (folder: String, rule: Rule)?) {
        var kept = Set(history.latestSuccessfulRuns.map(\.runID))
        for runs in Dictionary(grouping: history.manifests, by: \.pipeline).values {
            kept.formUnion(runs.suffix(max(0, keepNewest)).map(\.runID))
        }
        for run in records {
            guard let (folder, rule) = rule(run), case .maxAge(let limit) = rule else { continue }
            let age = now.timeIntervalSince1970 - run.newest
            guard age > limit else { continue }
            // The manifest goes last: a run whose removal stops half-way is still listed, and what is
            // left of it goes on a later pass.
            let manifest = "raw_data/logs/\(run.pipeline)/\(run.runID)\(ManifestStore.suffix)"
            let paths = run.queueFolders + run.files.filter { $0 != manifest } + run.files.filter { $0 == manifest }
            if run.manifest?.status == .running && !abandoned.contains(run.runID) {
                plan.running += paths
                continue
            }
            if kept.contains(run.runID) || paths.contains(where: protected.contains) {
                plan.protected += paths
                continue
            }
            let status = run.manifest?.status == .running ? "abandoned" : run.status
            for path in paths {
                let isFolder = run.queueFolders.contains(path)
                plan.removals.append(GCPlan.Removal(path: path, bytes: run.bytes[path] ?? 0, ageDays: Int(age / 86_400), folder: folder,
                                                    rule: rule, run: run.runID, runStatus: status, isFolder: isFolder))
            }
        }
    }

    /// Files the latest successful run of any pipeline read or wrote, with that run's manifest,
    /// log and rejects; the outputs every pipeline's state still points at; and everything a run
    /// still marked running mentions (unless `abandoned` names it).
    public static func protectedFiles(lake: Lake, history: LakeHistory, abandoned: Set<String> = []) -> Set<String> {
        var out = Set<String>()
        let live = history.latestSuccessfulRuns + history.manifests.filter { $0.status == .running && !abandoned.contains($0.runID) }
        for manifest in live {
            for stage in manifest.stages {
                for file in stage.inputs + stage.outputs { out.insert(file.path) }
            }
            let folder = "raw_data/logs/\(manifest.pipeline)/"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: lake.root + "/" + folder)) ?? []
            where name.hasPrefix(manifest.runID + ".") {
                out.insert(folder + name)
            }
            out.insert(manifest.logFile)
            // The run's final report and the pipeline's latest.html (written by `agentshop run`).
            out.insert("processed_data/reports/\(manifest.pipeline)/\(manifest.runID).html")
            out.insert("processed_data/reports/\(manifest.pipeline)/latest.html")
        }
        let pipelines = Set(history.manifests.map(\.pipeline))
        for pipeline in pipelines {
            for stage in PipelineState.load(lake: lake, pipeline: pipeline).stages.values {
                for file in stage.outputs { out.insert(file.path) }
            }
        }
        return out
    }
}

/// What `lake gc` removes.
public struct GCPlan: Sendable {
    public struct Removal: Sendable, Equatable {
        public let path: String
        public let bytes: Int64
        public let ageDays: Int
        /// The folder whose rule applies.
        public let folder: String
        public let rule: LakeRetention.Rule
        /// The run whose record this is (its manifest, log, rejects or queue folder), and its status
        /// (`failed`, `interrupted`, `abandoned`, `succeeded`, `unknown` when its manifest is gone).
        public var run: String?
        public var runStatus: String?
        /// A queue folder, removed with everything in it.
        public var isFolder: Bool

        public init(path: String, bytes: Int64, ageDays: Int, folder: String, rule: LakeRetention.Rule, run: String? = nil,
                    runStatus: String? = nil, isFolder: Bool = false) {
            self.path = path
            self.bytes = bytes
            self.ageDays = ageDays
            self.folder = folder
            self.rule = rule
            self.run = run
            self.runStatus = runStatus
            self.isFolder = isFolder
        }
    }

    public var removals: [Removal] = []
    /// Files past their age that stay because a latest successful run uses them.
    public var protected: [String] = []
    /// Records (files, queue folders) past their age that stay because their run is still running.
    public var running: [String] = []

    public var bytes: Int64 { removals.reduce(0) { $0 + $1.bytes } }

    /// Removes the files, then partition folders left empty (never the layout's folders).
    /// Returns the removals that succeeded and the failures.
    public func apply(lake: Lake) -> (removed: [Removal], failed: [(path: String, reason: String)]) {
        var removed: [Removal] = []
        var failed: [(String, String)] = []
        var folders = Set<String>()
        for removal in removals {
            if removal.isFolder {
                do {
                    try FileManager.default.removeItem(atPath: lake.root + "/" + removal.path)
                    removed.append(removal)
                    folders.insert((removal.path as NSString).deletingLastPathComponent)
                } catch where (error as? CocoaError)?.code == .fileNoSuchFile {
                    removed.append(removal)
                } catch {
                    failed.append((removal.path, "\(error)"))
                }
                continue
            }
            if unlink(lake.root + "/" + removal.path) == 0 || errno == ENOENT {
                removed.append(removal)
                folders.insert((removal.path as NSString).deletingLastPathComponent)
            } else {
                failed.append((removal.path, String(cString: strerror(errno))))
            }
        }
        let layout = Set(LakeLayout.folders.map(\.path)).union([".agentshop", RunFiles.queueRoot])
        // Deepest first, so that a parent emptied by its child goes too.
        var queue = folders.sorted { $0.count > $1.count }
        while let folder = queue.first {
            queue.removeFirst()
            guard !folder.isEmpty, !layout.contains(folder),
                  let left = try? FileManager.default.contentsOfDirectory(atPath: lake.root + "/" + folder), left.isEmpty,
                  rmdir(lake.root + "/" + folder) == 0 else { continue }
            let parent = (folder as NSString).deletingLastPathComponent
            if !parent.isEmpty && !queue.contains(parent) { queue.append(parent); queue.sort { $0.count > $1.count } }
        }
        return (removed, failed)
    }
}
