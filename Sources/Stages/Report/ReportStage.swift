import Foundation
import Inspect
import Lake
import Pipeline

/// `report`: one self-contained HTML page about the current run — stage timeline, records per
/// stage, crawl status codes and timings, LLM calls and cost by provider and model over time, and
/// charts of datasets — written to its `out:` (e.g. `processed_data/reports/dt={run_date}/run.html`).
///
/// ```yaml
/// report:
///   report:
///     title: Marketplace run
///     charts:
///       - { dataset: by_category, type: bar, x: category, y: avg_price, title: Average price by category }
///       - { dataset: products, type: box, x: category, y: price }
///       - { dataset: reviews_per_vendor, type: bar, x: vendor, y: reviews, limit: 10 }
///   after: [store, backup]          # run it last: after every stage it reports on
///   out: processed_data/reports/dt={run_date}/run.html
/// ```
///
/// It reads the run's manifest as the engine has written it so far (every finished stage), so it
/// belongs after the stages it reports on, and says "running when written"; `agentshop run` then
/// writes the run's final page (`processed_data/reports/<pipeline>/<run id>.html` and `latest.html`). It reruns whenever another stage of the pipeline ran
/// (their run ids and fingerprints are part of its fingerprint) and is skipped otherwise.
public enum ReportStage {
    public static let kind = StageKind(spec: spec) { config, context in
        if config.isNull { return Definition(inputs: [], title: nil, charts: [], pipeline: context.pipeline, stage: context.stage) }
        guard config.expectMapping() else { return nil }
        var ok = true
        let title = config.string("title")
        var charts: [(ReportChart, StageInput)] = []
        if let list = config.value("charts")?.asList() {
            for item in list {
                guard item.expectMapping() else { ok = false; continue }
                guard let datasetValue = item.value("dataset", required: true),
                      let input = context.inputs(datasetValue)?.first, let dataset = datasetValue.asString() else { ok = false; continue }
                let kindName = item.choice("type", ReportChart.Kind.allCases.map(\.rawValue)) ?? "bar"
                let kind = ReportChart.Kind(rawValue: kindName) ?? .bar
                let y = item.string("y", required: true)
                let x = item.string("x")
                if x == nil && kind != .histogram { item.error("a \(kind.rawValue) chart needs x: the column holding its labels"); ok = false }
                let limit = item.int("limit", min: 1, max: 500) ?? 20
                let bins = item.int("bins", min: 1, max: 200) ?? 20
                let chartTitle = item.string("title")
                item.rejectUnknownKeys()
                guard let y else { ok = false; continue }
                charts.append((ReportChart(kind: kind, dataset: dataset, x: x, y: y, title: chartTitle, limit: limit, bins: bins), input))
            }
        } else if config.value("charts") != nil {
            ok = false
        }
        guard ok else { return nil }
        var inputs: [StageInput] = []
        for (_, input) in charts where !inputs.contains(input) { inputs.append(input) }
        return Definition(inputs: inputs, title: title, charts: charts, pipeline: context.pipeline, stage: context.stage)
    }

    struct Definition: StageDefinition {
        let inputs: [StageInput]
        let title: String?
        let charts: [(ReportChart, StageInput)]
        let pipeline: String
        let stage: String

        /// Every other stage's latest run and fingerprint: a report is due whenever any of them ran.
        func fingerprintExtra(lake: Lake) throws -> String {
            PipelineState.load(lake: lake, pipeline: pipeline).stages.filter { $0.key != stage }
                .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.runID) \($0.value.fingerprint)" }.joined(separator: "\n")
        }

        func run(_ context: StageContext) async throws -> StageReport {
            guard context.outputs.count == 1, let output = context.outputs.first else {
                throw StageError("a report stage writes exactly one file; 'out' names \(context.outputs.count)")
            }
            guard output.relative.lowercased().hasSuffix(".html") else {
                throw StageError("a report is HTML: name its output .html, found \(output.relative)")
            }
            let manifests = ManifestStore(lake: context.lake)
            let manifest: RunManifest
            do {
                manifest = try manifests.read(path: manifests.path(pipeline: context.pipeline, runID: context.runID))
            } catch {
                throw StageError("cannot read this run's manifest: \(error)")
            }
            var report = RunReport(manifest: manifest, lake: context.lake, title: title,
                                   charts: charts.map { ($0.0, context.files(for: $0.1)) },
                                   history: manifests.all(pipeline: context.pipeline).manifests)
            let html = report.render()
            try AtomicFile.write(html, to: output.absolute)
            for warning in report.warnings { context.logger.warning("report: \(warning)") }
            return StageReport(counts: ["charts": charts.count, "stages": manifest.stages.count,
                                        "llm_calls": RunReport.llmCalls(of: manifest).count, "bytes": html.utf8.count,
                                        "warnings": report.warnings.count])
        }
    }
}

extension ReportStage {
    /// The title and charts of a pipeline's `report` stage, each with the files it reads for a
    /// given run: a stage's outputs as that run's manifest lists them, a path or glob expanded for
    /// the run's date. For `agentshop report` on a past run; nil when the pipeline has no report stage.
    public static func charts(in spec: PipelineSpec, for manifest: RunManifest, lake: Lake)
        -> (title: String?, charts: [(chart: ReportChart, files: [LakePath])])? {
        guard let stage = spec.stages.first(where: { $0.kind == kind.name }), let definition = stage.definition as? Definition
        else { return nil }
        let charts = definition.charts.map { chart, input -> (chart: ReportChart, files: [LakePath]) in
            switch input {
            case .stage(let name):
                let paths = manifest.stages.first { $0.name == name }?.outputs.map(\.path) ?? []
                return (chart, paths.compactMap { try? lake.resolve($0) }.filter(\.exists))
            case .files(let pattern):
                let expanded = OutputTemplate.expand(pattern, runID: manifest.runID, runDate: manifest.runDate,
                                                     pipeline: spec.name, stage: stage.name)
                return (chart, (try? lake.glob(expanded)) ?? [])
            }
        }
        return (definition.title, charts)
    }
}
