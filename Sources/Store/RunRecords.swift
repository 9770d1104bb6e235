import Foundation
import Lake

/// Fills the store's run-derived tables from a run manifest, so that recording a manifest twice
/// (or rebuilding from every manifest in the lake) gives the same rows:
/// `data_processing_tasks` (one row per stage, keyed `<pipeline>/<stage>`, holding the last run that
/// ran it: schedule, status, records, timings, data file; a stage first seen skipped gets a row that
/// says so), the crawl tables from fetch stages (`CrawlRecords`) and the LLM tables from enrich
/// calls (`LLMCallRecords`), whose figures `llm_provider_status` then shows (`LLMProviderStatusRecords`).
/// Manifests recorded oldest first leave each stage's newest run.
public enum RunRecords {
    /// Upserts the rows `manifest` stands for, in one transaction. Returns the stage runs recorded.
    /// - Parameter lake: where to read the crawl logs a fetch stage wrote; nil records only the manifest.
    /// - Parameter schedule: the pipeline's `schedule:` as written, for the stage rows.
    @discardableResult
    public static func record(_ manifest: RunManifest, lake: Lake? = nil, schedule: String? = nil,
                              in database: Database) throws -> Int {
        try database.transaction {
            let loader = try TableLoader(database: database, table: "data_processing_tasks", keys: ["task_key"],
                                         mode: .upsert)
            for stage in manifest.stages {
                let taskKey = "\(manifest.pipeline)/\(stage.name)"
                let worked = stage.status == .ran || stage.status == .failed
                // A stage this run did not run keeps the row of the run that last did.
                if !worked, try database.scalar("SELECT 1 FROM data_processing_tasks WHERE task_key = ?", [.text(taskKey)]) != nil {
                    try LLMCallRecords.record(manifest, stage: stage, in: database)
                    continue
                }
                var details = JSONObject()
                if !stage.counts.isEmpty {
                    details["counts"] = .object(JSONObject(stage.counts.sorted { $0.key < $1.key }
                        .map { ($0.key, JSONValue.int(Int64($0.value))) }))
                }
                if !stage.reason.isEmpty { details["reason"] = .string(stage.reason) }
                if let extra = stage.details { details["details"] = extra }
                details["fingerprint"] = .string(stage.fingerprint)
                let finishedAt = finishedAt(stage)
                let recordsIn = stage.counts["records_in"] ?? stage.inputs.compactMap(\.records).nilIfEmptySum
                let recordsOut = stage.counts["records_out"] ?? stage.outputs.compactMap(\.records).nilIfEmptySum
                var row: [(column: String, value: SQLValue)] = [
                    ("task_key", .text(taskKey)),
                    ("pipeline", .text(manifest.pipeline)),
                    ("stage", .text(stage.name)),
                    ("run_id", .text(manifest.runID)),
                    ("kind", .text(stage.kind)),
                    ("status", .text(status(stage.status, run: manifest.status))),
                    ("records_in", recordsIn.map { .integer(Int64($0)) } ?? .null),
                    ("records_out", recordsOut.map { .integer(Int64($0)) } ?? .null),
                    ("started_at", stage.startedAt.map(SQLValue.text) ?? .null),
                    ("finished_at", finishedAt.map(SQLValue.text) ?? .null),
                    ("duration_ms", stage.durationMs.map { .integer(Int64($0)) } ?? .null),
                    ("error", stage.error.map(SQLValue.text) ?? .null),
                    ("details_json", .text(JSONValue.object(details).canonicalText())),  // the same text from a manifest in memory or read back from disk
                    ("data_file", stage.outputs.first.map { .text($0.path) } ?? .null),
                ]
                // Without the pipeline file (`db sync-runs`), the schedule already recorded stays.
                if let schedule { row.append(("schedule", .text(schedule))) }
                try loader.write(row)
                if stage.kind == CrawlRecords.stageKind {
                    try CrawlRecords.record(manifest, stage: stage, lake: lake, schedule: schedule, in: database)
                }
                try LLMCallRecords.record(manifest, stage: stage, in: database)
            }
            if manifest.stages.contains(where: { $0.details?.objectValue?["llm"]?.objectValue?["calls"]?.arrayValue?.isEmpty == false }) {
                try LLMProviderStatusRecords.recomputeCalls(in: database)
            }
            return manifest.stages.count
        }
    }

    static func finishedAt(_ stage: RunManifest.StageRun) -> String? {
        stage.startedAt.flatMap(Timestamp.parse).flatMap { start in
            stage.durationMs.map { Timestamp.iso(start.addingTimeInterval(Double($0) / 1000)) }
        }
    }

    static func status(_ status: RunManifest.StageRun.Status, run: RunManifest.Status) -> String {
        switch status {
        case .ran: return "succeeded"
        case .failed: return "failed"
        case .skipped, .blocked: return "skipped"
        case .planned: return run == .running ? "running" : "pending"
        }
    }
}

extension Array where Element == Int {
    fileprivate var nilIfEmptySum: Int? { isEmpty ? nil : reduce(0, +) }
}
