import Foundation
import Lake
import Pipeline

/// What one run leaves beside the datasets it wrote: its manifest, its log and its rejects files
/// (`raw_data/logs/<pipeline>/<run id>.*`), and the queue folders of its queued stages
/// (`.agentshop/queue/<pipeline>/<stage>/<run id>/`: the items' inputs, the workers' segments and page
/// packs; a queued stage removes its folder once it has published, and keeps it when it fails).
///
/// `lake gc` and `runs prune` remove a run's records together, by one rule (`LakeRetention.plan` and
/// `runPlan`): never those of a run still running, nor of each pipeline's latest successful run.
public struct RunFiles: Sendable {
    public let pipeline: String
    public let runID: String
    /// The run's manifest; nil for a queue folder whose run's manifest is gone (removed earlier: only a
    /// finished run's manifest ever is).
    public let manifest: RunManifest?
    /// Lake-relative files, sorted.
    public private(set) var files: [String] = []
    /// Lake-relative queue folders, sorted.
    public private(set) var queueFolders: [String] = []
    /// Bytes of each file, and of everything inside each queue folder.
    public private(set) var bytes: [String: Int64] = [:]
    /// The newest modification time (seconds since 1970) of the files, and of anything inside the
    /// queue folders: a worker still writing a segment keeps its run's records young.
    public private(set) var newest: Double = 0

    /// The lake-relative folder of every queued stage's run folders.
    public static let queueRoot = ".agentshop/queue"

    /// `failed`, `interrupted`, `succeeded`, `running`, or `unknown` (no manifest left).
    public var status: String { manifest?.status.rawValue ?? "unknown" }

    /// Every run's records: one per manifest in `history`, and one per queue folder whose run has no
    /// manifest left. Queue folders of a run whose manifest is unreadable are left out (kept).
    public static func collect(lake: Lake, history: LakeHistory) -> [RunFiles] {
        var byRun: [String: RunFiles] = [:]
        func key(_ pipeline: String, _ runID: String) -> String { pipeline + "\n" + runID }
        for manifest in history.manifests {
            byRun[key(manifest.pipeline, manifest.runID)] = RunFiles(pipeline: manifest.pipeline, runID: manifest.runID,
                                                                       manifest: manifest)
        }
        for pipeline in Set(history.manifests.map(\.pipeline)) {
            let folder = "raw_data/logs/" + pipeline
            for name in entries(lake.root + "/" + folder) {
                guard let dot = name.firstIndex(of: "."), byRun[key(pipeline, String(name[..<dot]))] != nil else { continue }
                byRun[key(pipeline, String(name[..<dot]))]!.add(file: folder + "/" + name, lake: lake)
            }
        }
        for manifest in history.manifests where !manifest.logFile.hasPrefix("raw_data/logs/\(manifest.pipeline)/") {
            byRun[key(manifest.pipeline, manifest.runID)]!.add(file: manifest.logFile, lake: lake)
        }
        // The run of an unreadable manifest: its path's folder is the pipeline, its name starts with the run id.
        let unreadable = Set(history.unreadable.map { path -> String in
            let name = (path as NSString).lastPathComponent
            return key(((path as NSString).deletingLastPathComponent as NSString).lastPathComponent,
                       String(name.prefix { $0 != "." }))
        })
        for pipeline in entries(lake.root + "/" + queueRoot, folders: true) {
            for stage in entries(lake.root + "/" + queueRoot + "/" + pipeline, folders: true) {
                for runID in entries(lake.root + "/" + queueRoot + "/" + pipeline + "/" + stage, folders: true)
                where !unreadable.contains(key(pipeline, runID)) {
                    byRun[key(pipeline, runID), default: RunFiles(pipeline: pipeline, runID: runID, manifest: nil)]
                        .add(queueFolder: queueRoot + "/" + pipeline + "/" + stage + "/" + runID, lake: lake)
                }
            }
        }
        return byRun.values.filter { !$0.files.isEmpty || !$0.queueFolders.isEmpty }.sorted {
            ($0.pipeline, $0.manifest?.startedAt ?? "", $0.runID) < ($1.pipeline, $1.manifest?.startedAt ?? "", $1.runID)
        }
    }

    private mutating func add(file: String, lake: Lake) {
        var info = stat()
        guard !files.contains(file), lstat(lake.root + "/" + file, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
        files.append(file)
        files.sort()
        bytes[file] = Int64(info.st_size)
        newest = max(newest, Double(info.st_mtim.tv_sec))
    }

    private mutating func add(queueFolder: String, lake: Lake) {
        guard let (total, latest) = Self.measure(lake.root + "/" + queueFolder) else { return }
        queueFolders.append(queueFolder)
        queueFolders.sort()
        bytes[queueFolder] = total
        newest = max(newest, latest)
    }

    /// Bytes of the regular files below `path` and the newest modification time of anything there,
    /// never following a symbolic link.
    static func measure(_ path: String) -> (bytes: Int64, newest: Double)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        var total = Int64(0)
        var latest = Double(info.st_mtim.tv_sec)
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                guard let (bytes, newest) = measure(path + "/" + name) else { continue }
                total += bytes
                latest = max(latest, newest)
            }
        case S_IFREG:
            total = Int64(info.st_size)
        default:
            break
        }
        return (total, latest)
    }

    /// The names in a folder, without hidden ones; with `folders`, only real folders (not links to one).
    static func entries(_ folder: String, folders: Bool = false) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { name in
            guard !name.hasPrefix(".") else { return false }
            guard folders else { return true }
            var info = stat()
            return lstat(folder + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
        }.sorted()
    }
}

/// The runs whose manifest still says running but whose process is gone (killed, or its machine went
/// down). A run holds its pipeline's lock (`RunLock`) while it runs, so when the lock can be taken at
/// once no run of that pipeline is in progress, and its manifests that say running are abandoned: the
/// same reasoning by which the pipeline's next run settles them as interrupted. The locks taken stay
/// held until this is released, so no run of those pipelines starts while their records are removed.
public final class AbandonedRuns {
    /// Run ids of the abandoned runs.
    public let runIDs: Set<String>
    /// Pipelines with a run in progress (their lock is held by another process).
    public let busyPipelines: Set<String>
    private var locks: [RunLock]

    public init(lake: Lake, history: LakeHistory, owner: String) {
        var ids = Set<String>()
        var busy = Set<String>()
        var held: [RunLock] = []
        let running = Dictionary(grouping: history.manifests.filter { $0.status == .running }, by: \.pipeline)
        for (pipeline, manifests) in running.sorted(by: { $0.key < $1.key }) {
            do {
                held.append(try RunLock(lake: lake, pipeline: pipeline, wait: 0, owner: owner))
                ids.formUnion(manifests.map(\.runID))
            } catch {
                busy.insert(pipeline)
            }
        }
        runIDs = ids
        busyPipelines = busy
        locks = held
    }

    /// Releases the locks taken.
    public func release() { locks.removeAll() }
}
