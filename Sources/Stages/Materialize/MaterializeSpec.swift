import Pipeline
import Store

extension MaterializeStage {
    /// The `materialize` kind's settings: validation, fingerprint and docs/stages/materialize.md come from here.
    public static let spec = StageKindSpec(
        name: "materialize",
        summary: "Loads a lake dataset into a store table (upsert, replace or append by key)",
        outputs: .none,
        settings: [
            SettingSpec("from", .strings, label: "stages, paths or globs", required: true, "Stage, path or glob (JSONL or CSV)."),
            SettingSpec("table", .string, required: true, "A table of the store's schema, or of your own with `create: true`."),
            SettingSpec("key", .strings, default: "required for upsert and replace", "Unique key column(s)."),
            SettingSpec("mode", .choice(TableLoader.Mode.allCases.map(\.rawValue)), default: "upsert",
                        "`upsert` (`INSERT … ON CONFLICT DO UPDATE`), `replace` (the table's rows become the dataset), `append`."),
            SettingSpec("where", .string, default: "all records",
                        "Only records for which this holds (`aggregate`'s expression syntax)."),
            SettingSpec("columns", .mapping(of: "column: field or {from, type}"), default: "same-named fields",
                        "`column: field`, or `column: { from: field, type: money | json | date | slug | … }`; dotted fields "
                        + "reach into objects. Without it, fields load into columns of the same name, `price` into "
                        + "`price_cents` (as money), `tags` into `tags_json`, and `id` only when it is the key."),
            SettingSpec("references", .mapping(of: "column: {table, key, from, type, missing}"), default: "none",
                        "`column: { table: T, key: K, from: field, type: slug, missing: fail | null }`: the column holds the "
                        + "id of the row of `T` whose unique column `K` equals the field's value (`from` defaults to the "
                        + "column without `_id`); no such row makes the record invalid (`missing: null` leaves the column empty)."),
            SettingSpec("create", .boolean, default: "false",
                        "`true`: the table is your own: created from the records when missing (types inferred: INTEGER, "
                        + "REAL, TEXT; lists and objects as JSON text; `key` made unique), a new field adds a column, like "
                        + "`sqlite-utils insert`."),
            SettingSpec("on_invalid", .choice(["fail", "skip"]), default: "fail",
                        "`skip` sends records the table refuses to the rejects file."),
            // How long to wait changes no row that is written: not part of the fingerprint.
            SettingSpec("busy_timeout", .duration, default: "30m", fingerprint: false,
                        "How long to wait for another process holding the store's write lock; then the stage fails "
                        + "saying so, having loaded nothing."),
        ])
}
