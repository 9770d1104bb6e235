import Inspect
import Pipeline

extension ReportStage {
    /// The `report` kind's settings: validation, fingerprint and docs/stages/report.md come from here.
    public static let spec = StageKindSpec(
        name: "report",
        summary: "writes a self-contained HTML report of the run (timeline, records, crawl, LLM cost, dataset charts)",
        outputs: .required,
        acceptsEmpty: true,
        settings: [
            SettingSpec("title", .string, default: "Run report: <pipeline>", "The page's heading."),
            SettingSpec("charts", .items([
                SettingSpec("dataset", .string, label: "stage, path or glob", required: true, "The data the chart shows."),
                SettingSpec("type", .choice(ReportChart.Kind.allCases.map(\.rawValue)), default: "bar",
                            "`bar`: one bar per row, `x` labels, largest first; `box`: quartiles, min and max of `y` per "
                            + "value of `x`; `histogram`: `y` in `bins` equal bins."),
                SettingSpec("x", .string, default: "required for bar and box",
                            "The label or group column (dotted paths reach into objects)."),
                SettingSpec("y", .string, required: true, "The numeric column."),
                SettingSpec("limit", .integer(min: 1, max: 500), default: "20", "Bars or groups shown (the largest)."),
                SettingSpec("bins", .integer(min: 1, max: 200), default: "20", "Histogram bins."),
                SettingSpec("title", .string, default: "from the columns", "The chart's heading."),
            ]), default: "none", "Charts of datasets, in order."),
        ])
}
