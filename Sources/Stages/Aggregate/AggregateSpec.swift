import Lake
import Pipeline

extension AggregateStage {
    /// The `aggregate` kind's settings: validation, fingerprint and docs/stages/aggregate.md come from here.
    public static let spec = StageKindSpec(
        name: "aggregate",
        summary: "group records (JSONL/CSV, gzip or not) and compute count, sum, avg, min, max, median, pNN… per group",
        outputs: .required,
        settings: [
            SettingSpec("from", .strings, label: "stages, paths or globs", required: true,
                        "Stages, paths or globs, read in name order."),
            SettingSpec("group_by", .custom("field or list of fields"), default: "none",
                        "Fields to group by (dotted paths reach into objects); without it the whole input is one group "
                        + "(one row, even for empty input)."),
            SettingSpec("measures", .mapping(of: "name: function(field)"), required: true,
                        "`name: function(field)`: `count()`, `count(f)`, `count_distinct(f)`, `sum(f)`, `avg(f)`, `min(f)`, "
                        + "`max(f)`, `median(f)`, `p0(f)`…`p100(f)`, `percentile(f, 0.95)`, `first(f)`, `last(f)`."),
            SettingSpec("where", .string, label: "expression", default: "none",
                        "Keep only records for which this is true."),
            SettingSpec("having", .string, label: "expression", default: "none",
                        "Keep only output rows for which this is true; names output columns."),
            SettingSpec("order_by", .custom("column or list of columns, each optionally desc"), default: "group key",
                        "Output columns, each optionally `desc`; nulls sort last either way; ties keep group-key order."),
            SettingSpec("limit", .integer(min: 0), default: "none", "At most this many rows."),
            SettingSpec("null_counts", .boolean, default: "true",
                        "Add a `<field>_nulls` column per measured field: rows where it is missing or null."),
            SettingSpec("on_error", .choice(MalformedPolicy.allCases.map(\.rawValue)), default: "fail",
                        "As for `import`; skipped lines go to the rejects file with file and line."),
            SettingSpec("infer_types", .boolean, default: "true",
                        "CSV cells become numbers, booleans and null, as for `import`."),
            SettingSpec("quantiles", .choice(["exact", "sketch"]), default: "exact",
                        "`exact`: keep each group's values; `sketch`: a DDSketch per group and field, memory bounded by the "
                        + "range of values (not their count), each answer within 0.5% (relative) of the value of rank "
                        + "⌊q·(n−1)⌋, not interpolated."),
        ])
}
