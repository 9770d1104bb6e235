import Foundation
import Lake
import Pipeline

/// One stage run in one pipeline run: the unit that writes and reads lake files.
public struct StageRunRef: Sendable, Equatable {
    public let pipeline: String
    public let runID: String
    public let runStatus: RunManifest.Status
    public let runStartedAt: String
    public let stage: RunManifest.StageRun

    /// `pipeline:stage`, as `DatasetReference` reads it.
    public var name: String { "\(pipeline):\(stage.name)" }
    /// When the stage started, else when its run did.
    public var at: String { stage.startedAt ?? runStartedAt }
}

/// What the run manifests say about the lake's files: which stage run wrote each file and which
/// read it. Built once per command from every manifest (`ManifestStore.all`), oldest first.
public struct LakeHistory: Sendable {
    public let manifests: [RunManifest]
    /// Manifests that could not be read (reported, not fatal).
    public let unreadable: [String]
    /// Stage runs that ran (not skipped: a skipped stage wrote nothing), oldest first.
    public let productions: [StageRunRef]
    /// Path → indices into `productions` of the stage runs that wrote it / read it, ascending.
    private let writtenBy: [String: [Int]]
    private let readBy: [String: [Int]]

    public init(lake: Lake) {
        let (manifests, unreadable) = ManifestStore(lake: lake).all()
        self.init(manifests: manifests, unreadable: unreadable)
    }

    public init(manifests: [RunManifest], unreadable: [String] = []) {
        self.manifests = manifests
        self.unreadable = unreadable
        productions = manifests.flatMap { m in
            m.stages.filter { $0.status == .ran }.map {
                StageRunRef(pipeline: m.pipeline, runID: m.runID, runStatus: m.status, runStartedAt: m.startedAt, stage: $0)
            }
        }
        var written: [String: [Int]] = [:], read: [String: [Int]] = [:]
        for (i, run) in productions.enumerated() {
            for path in Set(run.stage.outputs.map(\.path)) { written[path, default: []].append(i) }
            for path in Set(run.stage.inputs.map(\.path)) { read[path, default: []].append(i) }
        }
        writtenBy = written
        readBy = read
    }

    /// The stage run that wrote `path` — the one that wrote this content when `sha256` is given,
    /// else the latest.
    public func writer(of path: String, sha256: String? = nil) -> (run: StageRunRef, entry: RunManifest.FileEntry)? {
        for run in (writtenBy[path] ?? []).reversed().map({ productions[$0] }) {
            if let entry = run.stage.outputs.first(where: { $0.path == path && (sha256 == nil || $0.sha256 == sha256) }) {
                return (run, entry)
            }
        }
        return nil
    }

    /// Stage runs that read `path` (this content when `sha256` is given), oldest first.
    public func readers(of path: String, sha256: String? = nil) -> [StageRunRef] {
        (readBy[path] ?? []).map { productions[$0] }.filter { run in
            run.stage.inputs.contains { $0.path == path && (sha256 == nil || $0.sha256 == sha256) }
        }
    }

    /// The latest succeeded run of each pipeline.
    public var latestSuccessfulRuns: [RunManifest] {
        var latest: [String: RunManifest] = [:]
        for m in manifests where m.status == .succeeded { latest[m.pipeline] = m }
        return latest.values.sorted { $0.pipeline < $1.pipeline }
    }
}
