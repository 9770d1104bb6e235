import Foundation
import Lake
import Notify

/// What the runs of a period came to, per pipeline: runs, failures, records written and LLM cost. Read from
/// the run manifests in the lake (`raw_data/logs/<pipeline>/*.manifest.json`), the run history `agentshop runs`
/// shows: the store keeps only each stage's newest run, so it cannot say how many runs a week had.
/// Rendered with the `weekly_report` e-mail template (`agentshop digest`).
public struct RunDigest: Sendable, Equatable {
    public struct PipelineSummary: Sendable, Equatable {
        public var pipeline: String
        public var runs = 0
        public var succeeded = 0
        public var failed = 0
        public var interrupted = 0
        public var records = 0
        public var costUSD = 0.0
        /// The newest run's id and status.
        public var lastRunID = ""
        public var lastStatus = ""
    }

    public struct Failure: Sendable, Equatable {
        public var pipeline: String
        public var runID: String
        public var error: String
    }

    public var since: Date
    public var until: Date
    /// By pipeline name.
    public var pipelines: [PipelineSummary]
    /// The failed runs, oldest first.
    public var failures: [Failure]

    /// Summarises the finished runs among `manifests` that started in `since..<until` (a run still going is left
    /// for the next digest).
    public init(manifests: [RunManifest], since: Date, until: Date) {
        self.since = since
        self.until = until
        var byPipeline: [String: PipelineSummary] = [:]
        var failures: [Failure] = []
        let inPeriod = manifests.filter { manifest in
            guard manifest.status != .running, let started = Timestamp.parse(manifest.startedAt) else { return false }
            return started >= since && started < until
        }.sorted { $0.startedAt < $1.startedAt }
        for manifest in inPeriod {
            var summary = byPipeline[manifest.pipeline] ?? PipelineSummary(pipeline: manifest.pipeline)
            summary.runs += 1
            switch manifest.status {
            case .succeeded: summary.succeeded += 1
            case .failed:
                summary.failed += 1
                let notice = RunNotification(event: .failure, manifest: manifest)
                failures.append(Failure(pipeline: manifest.pipeline, runID: manifest.runID, error: notice.error ?? "failed"))
            case .interrupted: summary.interrupted += 1
            case .running: break
            }
            summary.records += RunNotification.recordsWritten(by: manifest)
            summary.costUSD += RunNotification.cost(of: manifest) ?? 0
            summary.lastRunID = manifest.runID
            summary.lastStatus = manifest.status.rawValue
            byPipeline[manifest.pipeline] = summary
        }
        pipelines = byPipeline.values.sorted { $0.pipeline < $1.pipeline }
        self.failures = failures
    }

    /// The digest of every pipeline's runs in the lake over `since..<until`.
    public static func load(lake: Lake, since: Date, until: Date = Date()) -> RunDigest {
        RunDigest(manifests: ManifestStore(lake: lake).all().manifests, since: since, until: until)
    }

    public var runs: Int { pipelines.reduce(0) { $0 + $1.runs } }
    public var records: Int { pipelines.reduce(0) { $0 + $1.records } }
    public var costUSD: Double { pipelines.reduce(0) { $0 + $1.costUSD } }

    /// The template's name.
    public static let templateName = "weekly_report"

    /// Variables for the `weekly_report` template.
    public var variables: [String: String] {
        let header = "pipeline".padding(toLength: 24, withPad: " ", startingAt: 0) + "  runs  failed  records  llm cost  last"
        let lines = pipelines.map { p in
            p.pipeline.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "  %4d  %6d  %7d  ", p.runs, p.failed, p.records)
                + String(repeating: " ", count: max(0, 8 - RunNotification.dollars(p.costUSD).count)) + RunNotification.dollars(p.costUSD)
                + "  " + p.lastStatus
        }
        return [
            "period_start": Timestamp.iso(since), "period_end": Timestamp.iso(until),
            "runs": "\(runs)",
            "succeeded": "\(pipelines.reduce(0) { $0 + $1.succeeded })",
            "failed": "\(pipelines.reduce(0) { $0 + $1.failed })",
            "interrupted": "\(pipelines.reduce(0) { $0 + $1.interrupted })",
            "records": "\(records)", "llm_cost": RunNotification.dollars(costUSD),
            "pipelines": pipelines.isEmpty ? "no runs" : ([header] + lines).joined(separator: "\n"),
            "failures": failures.isEmpty ? "none" : failures.map { "\($0.pipeline) \($0.runID): \($0.error)" }.joined(separator: "\n"),
        ]
    }

    /// For `--json`: the totals and one object per pipeline.
    public var json: JSONValue {
        var object = JSONObject([
            ("period_start", .string(Timestamp.iso(since))), ("period_end", .string(Timestamp.iso(until))),
            ("runs", .int(Int64(runs))), ("records", .int(Int64(records))), ("llm_cost_usd", .double(costUSD)),
        ])
        object["pipelines"] = .array(pipelines.map { p in
            .object(JSONObject([
                ("pipeline", .string(p.pipeline)), ("runs", .int(Int64(p.runs))), ("succeeded", .int(Int64(p.succeeded))),
                ("failed", .int(Int64(p.failed))), ("interrupted", .int(Int64(p.interrupted))),
                ("records", .int(Int64(p.records))), ("llm_cost_usd", .double(p.costUSD)),
                ("last_run_id", .string(p.lastRunID)), ("last_status", .string(p.lastStatus)),
            ]))
        })
        object["failures"] = .array(failures.map { f in
            .object(JSONObject([("pipeline", .string(f.pipeline)), ("run_id", .string(f.runID)), ("error", .string(f.error))]))
        })
        return .object(object)
    }
}
