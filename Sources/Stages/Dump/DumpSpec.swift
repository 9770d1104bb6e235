import Pipeline

extension DumpStage {
    /// The `dump` kind's settings: validation, fingerprint and docs/stages/dump.md come from here.
    public static let spec = StageKindSpec(
        name: "dump",
        summary: "Dumps the store (binary snapshot and/or SQL text, gzip, with a checksum sidecar) and applies retention",
        outputs: .none,
        acceptsEmpty: true,
        settings: [
            SettingSpec("after", .strings, label: "stages", default: "none",
                        "The stages to wait for (usually the `materialize` stages)."),
            SettingSpec("to", .string, label: "daily | weekly | manual", default: "daily",
                        "`daily` (once per UTC day), `weekly` (once per ISO week), `manual` (every run); `db_dumps/daily` "
                        + "and the like are accepted too."),
            SettingSpec("format", .strings, label: "sqlite | sql | both, or a list", default: "sqlite",
                        "`sqlite` (binary snapshot, gzip level 1: quick to take and to restore), `sql` (text the `sqlite3` "
                        + "shell can also restore, gzip level 6: portable and smaller), or both."),
            SettingSpec("retention", .object([
                SettingSpec("daily", .duration, default: "183d", "How long daily dumps are kept (at least `1d`)."),
                SettingSpec("weekly", .duration, default: "104w", "How long weekly dumps are kept (at least `1w`)."),
            ]), default: "{ daily: 183d, weekly: 104w }", "How long dumps are kept; manual ones are never removed."),
        ])
}
