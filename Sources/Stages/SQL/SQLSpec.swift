import Lake
import Pipeline

extension SQLStage {
    /// The `sql` kind's settings: validation, fingerprint and docs/stages/sql.md come from here.
    public static let spec = StageKindSpec(
        name: "sql",
        summary: "run a SQLite query over inputs (JSONL/CSV, gzip or not) loaded as tables; write its rows",
        outputs: .required,
        settings: [
            SettingSpec("from", .strings, label: "stages, paths or globs", default: "`from` or `tables` required",
                        "Stages, paths or globs (JSONL or CSV, gzip or not). A stage loads as a table named after the "
                        + "stage; a path as its file's base name (`reviews` for `…/reviews.jsonl.gz`)."),
            SettingSpec("tables", .mapping(of: "name: stage, path or glob"), default: "none",
                        "Names a table explicitly (a glob needs this)."),
            SettingSpec("schema", .mapping(of: "table: { column: integer | real | text | json }"), default: "inferred",
                        "The table has exactly these columns; other keys are left out."),
            SettingSpec("query", .string, label: "SQL", required: true, "SQLite SQL (`json_extract`, window functions, CTEs…)."),
            SettingSpec("on_error", .choice(MalformedPolicy.allCases.map(\.rawValue)), default: "fail",
                        "As for `import`; skipped lines go to the rejects file with file and line."),
            SettingSpec("infer_types", .boolean, default: "true",
                        "CSV cells become numbers, booleans and null, as for `import`."),
        ])
}
