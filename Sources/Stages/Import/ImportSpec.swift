import Lake
import Pipeline

extension ImportStage {
    /// The `import` kind's settings: validation, fingerprint and docs/stages/import.md come from here.
    public static let spec = StageKindSpec(
        name: "import",
        summary: "bring CSV/JSONL files into a dataset, converting CSV ⇄ JSONL (gzip or not)",
        outputs: .required,
        settings: [
            SettingSpec("from", .strings, label: "stages, paths or globs", required: true,
                        "A stage, a lake path or a glob (or a list of them); several files are concatenated in name order."),
            SettingSpec("infer_types", .boolean, default: "true",
                        "CSV cells become numbers, booleans and null (empty); `007` stays text."),
            SettingSpec("on_error", .choice(MalformedPolicy.allCases.map(\.rawValue)), default: "fail",
                        "`fail`: stop at the first malformed record, naming file and line; `skip`: send it to the rejects file."),
            SettingSpec("columns", .strings, default: "all keys",
                        "The CSV output's columns, in order; otherwise the union of keys over all records, in first-seen order."),
            SettingSpec("format", .choice(["auto", "csv", "jsonl", "csv.gz", "jsonl.gz"]), default: "auto",
                        "Force the input format instead of telling it by file name."),
            SettingSpec("max_rejects", .custom("count or share"), default: "no limit",
                        "With `on_error: skip`: more rejected records than this fails the stage (its output is not "
                        + "published; the rejects file is). A count (`10`) or a share of the records read (`5%`, `0.05`)."),
        ])
}
