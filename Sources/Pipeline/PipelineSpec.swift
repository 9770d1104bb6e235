import Lake

/// A validated pipeline: its stages, their configuration and the graph between them.
public struct PipelineSpec: Sendable {
    public let name: String
    /// The file it was read from, as given.
    public let file: String
    public let description: String?
    /// When cron or `agentshop scheduler` should run it.
    public let schedule: Schedule?
    /// How the scheduler treats missed runs, timeouts and retries (keys of a `schedule:` mapping).
    public let schedulePolicy: SchedulePolicy
    /// The `notify:` block: which outcomes to announce, and where.
    public let notify: NotifySpec?
    /// How many independent stages may run at once.
    public let maxParallel: Int
    /// Stages in file order.
    public let stages: [StageSpec]
    /// `store:`: where the marketplace store is (`postgres://…`, `${VAR}` expanded), when not the lake's.
    /// `run --store` and `AGENTSHOP_STORE_URL` take precedence.
    public var store: String? = nil

    public func stage(named name: String) -> StageSpec? { stages.first { $0.name == name } }
}

/// One stage of a pipeline.
public struct StageSpec: Sendable {
    public let name: String
    public let kind: String
    public let definition: any StageDefinition
    /// Output paths as written, with `{run_date}`-style placeholders.
    public let outputTemplates: [String]
    /// Stages this one runs after: its stage inputs, the writers of files it reads, and `after:`.
    public let upstream: [String]
    /// The stage's whole YAML block as canonical JSON: part of its fingerprint.
    public let canonicalConfig: String
    public let line: Int
    public let column: Int
    /// `allow_empty: true`: an empty output may replace one that held data (not part of the fingerprint:
    /// it changes no output, only whether an empty one is accepted).
    public var allowEmpty = false
    /// `csv:`: the null text and formula guard of the stage's CSV outputs.
    public var csvCells = CSVCellOptions()

    /// Output paths for a run.
    public func outputs(in lake: Lake, runID: String, runDate: String, pipeline: String) throws -> [LakePath] {
        try outputTemplates.map { try lake.resolve(OutputTemplate.expand($0, runID: runID, runDate: runDate, pipeline: pipeline, stage: name)) }
    }
}

/// `{run_date}`, `{run_id}`, `{pipeline}` and `{stage}` in output paths.
public enum OutputTemplate {
    public static let placeholders = ["run_date", "run_id", "pipeline", "stage"]

    public static func expand(_ template: String, runID: String, runDate: String, pipeline: String, stage: String) -> String {
        template.replacingOccurrences(of: "{run_date}", with: runDate)
            .replacingOccurrences(of: "{run_id}", with: runID)
            .replacingOccurrences(of: "{pipeline}", with: pipeline)
            .replacingOccurrences(of: "{stage}", with: stage)
    }

    /// Placeholder names used in `template` that are not known.
    static func unknownPlaceholders(in template: String) -> [String] {
        var unknown: [String] = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { unknown.append(String(rest[open...])); break }
            let name = String(rest[rest.index(after: open)..<close])
            if !placeholders.contains(name) { unknown.append(name) }
            rest = rest[rest.index(after: close)...]
        }
        return unknown
    }

    /// A glob that matches every expansion of the template (placeholders become `*`).
    static func asGlob(_ template: String) -> String {
        var out = template
        for name in placeholders { out = out.replacingOccurrences(of: "{\(name)}", with: "*") }
        return out
    }
}
