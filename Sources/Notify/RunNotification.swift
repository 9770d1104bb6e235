import Foundation
import Lake

/// A run outcome worth a message.
public enum NotificationEvent: String, Sendable, CaseIterable {
    case failure, success, budget
}

/// What a notification says about a run: built from its manifest, sent as JSON, Slack blocks or e-mail.
public struct RunNotification: Sendable {
    public struct Stage: Sendable, Equatable {
        public var name: String
        /// The stage's kind (`fetch`, `enrich`…).
        public var kind: String = ""
        public var status: String
        public var counts: [String: Int]
        public var error: String?
    }

    public var event: NotificationEvent
    public var pipeline: String
    public var runID: String
    public var status: String
    public var startedAt: String
    public var finishedAt: String?
    public var durationSeconds: Double?
    public var stages: [Stage]
    /// Sum of the stages' LLM cost (`details.llm.totals.cost_usd`), when any stage reported one.
    public var costUSD: Double?
    public var error: String?
    /// The first stage that failed, if any.
    public var failedStage: String?
    /// Lake-relative path of the run's log.
    public var logFile: String
    /// Stages that stopped at their budget.
    public var budgetStages: [String]
    /// Records the stages that ran wrote (their `records_out`).
    public var recordsWritten: Int
    /// Enrich stages that ran (not skipped as up to date): the run analysed records with an LLM.
    public var analysisStages: [String]
    /// Records those enrich stages wrote (or read, when they report no output count).
    public var analysedRecords: Int

    public init(event: NotificationEvent, manifest: RunManifest) {
        self.event = event
        pipeline = manifest.pipeline
        runID = manifest.runID
        status = manifest.status.rawValue
        startedAt = manifest.startedAt
        finishedAt = manifest.finishedAt
        if let start = Timestamp.parse(manifest.startedAt), let end = manifest.finishedAt.flatMap(Timestamp.parse) {
            durationSeconds = (end.timeIntervalSince(start) * 1000).rounded() / 1000
        }
        stages = manifest.stages.map { Stage(name: $0.name, kind: $0.kind, status: $0.status.rawValue, counts: $0.counts, error: $0.error) }
        costUSD = Self.cost(of: manifest)
        error = manifest.error ?? manifest.stages.first { $0.error != nil }?.error
        failedStage = manifest.stages.first { $0.status == .failed }?.name
        logFile = manifest.logFile
        budgetStages = manifest.stages.filter(Self.reachedBudget).map(\.name)
        recordsWritten = Self.recordsWritten(by: manifest)
        let analyses = manifest.stages.filter { $0.kind == "enrich" && $0.status == .ran }
        analysisStages = analyses.map(\.name)
        analysedRecords = analyses.reduce(0) { $0 + ($1.counts["records_out"] ?? $1.counts["records_in"] ?? 0) }
    }

    /// Records the stages that ran wrote (`counts.records_out`, or the outputs' record counts).
    public static func recordsWritten(by manifest: RunManifest) -> Int {
        manifest.stages.filter { $0.status == .ran }.reduce(0) { total, stage in
            total + (stage.counts["records_out"] ?? stage.outputs.compactMap(\.records).reduce(0, +))
        }
    }

    /// `$0.0425`: dollars to four places, `$0.0000` when nothing was spent.
    public static func dollars(_ cost: Double?) -> String { String(format: "$%.4f", cost ?? 0) }

    /// The events a run's manifest gives: failure or success, and budget when a stage stopped at its budget.
    /// An interrupted run (SIGTERM, Ctrl-C) is neither: someone stopped it.
    public static func events(for manifest: RunManifest) -> [NotificationEvent] {
        var events: [NotificationEvent] = []
        switch manifest.status {
        case .failed: events.append(.failure)
        case .succeeded: events.append(.success)
        case .interrupted, .running: break
        }
        if manifest.stages.contains(where: reachedBudget) { events.append(.budget) }
        return events
    }

    /// `counts.budget_reached > 0` (or the enrich stage's `counts.pending_budget > 0`), or a budget mark in
    /// the details: `budget_reached` at the top, under `llm`, or under `llm.totals`, or the enrich stage's
    /// `llm.totals.budget_stopped` reason — true, positive or a non-empty reason.
    public static func reachedBudget(_ stage: RunManifest.StageRun) -> Bool {
        if (stage.counts["budget_reached"] ?? 0) > 0 || (stage.counts["pending_budget"] ?? 0) > 0 { return true }
        guard case .object(let details)? = stage.details else { return false }
        func truthy(_ value: JSONValue?) -> Bool {
            switch value {
            case .bool(let b)?: return b
            case .int(let i)?: return i > 0
            case .double(let d)?: return d > 0
            case .string(let s)?: return !s.isEmpty
            default: return false
            }
        }
        let llm = details["llm"]?.objectValue
        let totals = llm?["totals"]?.objectValue
        return truthy(details["budget_reached"]) || truthy(llm?["budget_reached"]) || truthy(totals?["budget_reached"])
            || truthy(totals?["budget_stopped"])
    }

    /// The run's LLM cost: the sum of its stages' `details.llm.totals.cost_usd`; nil when none reported one.
    public static func cost(of manifest: RunManifest) -> Double? {
        var total: Double?
        for stage in manifest.stages {
            guard let cost = stage.details?.objectValue?["llm"]?.objectValue?["totals"]?.objectValue?["cost_usd"]?.doubleValue else { continue }
            total = (total ?? 0) + cost
        }
        return total
    }

    /// The webhook body.
    public var json: JSONValue {
        var object = JSONObject([
            ("event", .string(event.rawValue)),
            ("pipeline", .string(pipeline)),
            ("run_id", .string(runID)),
            ("status", .string(status)),
            ("started_at", .string(startedAt)),
            ("finished_at", finishedAt.map(JSONValue.string) ?? .null),
            ("duration_seconds", durationSeconds.map(JSONValue.double) ?? .null),
        ])
        object["stages"] = .array(stages.map { stage in
            var entry = JSONObject([("name", .string(stage.name)), ("status", .string(stage.status))])
            entry["counts"] = .object(JSONObject(stage.counts.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int(Int64($0.value))) }))
            if let error = stage.error { entry["error"] = .string(error) }
            return .object(entry)
        })
        object["cost_usd"] = costUSD.map(JSONValue.double) ?? .null
        object["error"] = error.map(JSONValue.string) ?? .null
        object["failed_stage"] = failedStage.map(JSONValue.string) ?? .null
        object["budget_stages"] = .array(budgetStages.map(JSONValue.string))
        object["log_file"] = .string(logFile)
        return .object(object)
    }

    /// One line: `nightly 2026…-ab12cd failed at stage parse in 12.3s: <error>`.
    public var headline: String {
        var line = "\(pipeline) \(runID) "
        switch event {
        case .failure: line += "failed" + (failedStage.map { " at stage \($0)" } ?? "")
        case .success: line += "succeeded"
        case .budget: line += "reached its budget in " + budgetStages.joined(separator: ", ")
        }
        if let durationSeconds { line += String(format: " in %.1fs", durationSeconds) }
        return line
    }

    /// Variables for `{{name}}` in e-mail templates.
    public var variables: [String: String] {
        var out = [
            "event": event.rawValue, "pipeline": pipeline, "run_id": runID, "status": status, "started_at": startedAt,
            "finished_at": finishedAt ?? "", "log_file": logFile, "stage": failedStage ?? budgetStages.first ?? "",
            "error": error ?? "", "headline": headline,
            "duration": durationSeconds.map { String(format: "%.1fs", $0) } ?? "",
            "cost": costUSD.map { String(format: "$%.4f", $0) } ?? "",
            "records": "\(recordsWritten)", "llm_cost": Self.dollars(costUSD),
            "failures": "\(stages.filter { $0.status == "failed" }.count)",
            "analysed_records": "\(analysedRecords)", "analysis_stages": analysisStages.joined(separator: ", "),
        ]
        let errors = stages.compactMap { stage in stage.error.map { "\(stage.name): \($0)" } }
        out["errors"] = errors.isEmpty ? (error ?? "none") : errors.joined(separator: "\n")
        out["stages"] = stages.map { stage in
            let counts = stage.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(stage.name): \(stage.status)\(counts.isEmpty ? "" : " (\(counts))")"
        }.joined(separator: "\n")
        return out
    }
}
