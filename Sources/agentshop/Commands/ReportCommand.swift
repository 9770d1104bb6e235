import ArgumentParser
import Foundation
import Inspect
import Lake
import Pipeline
import Stages

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of a run: stage timeline, records, crawl statuses and timings, LLM calls and cost.",
        discussion: """
        RUN_ID (a unique prefix is enough), or the latest run of --pipeline, or the latest run of all. \
        The page loads nothing from anywhere (inline CSS and SVG, no script), so it opens offline and \
        can be mailed. Default output: processed_data/reports/<pipeline>/<run id>.html in the lake. \
        Dataset charts are those of the pipeline's report stage (its charts: setting), over the \
        files of that run, when the pipeline file is still there.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The run id, or a unique prefix of it (default: the latest run).", valueName: "run-id"))
    var runID: String?

    @Option(help: "The latest run of this pipeline.")
    var pipeline: String?

    @Option(help: ArgumentHelp("Write here instead (a path outside the lake is fine).", valueName: "file"))
    var out: String?

    @Option(help: "The page's title.")
    var title: String?

    func validate() throws {
        if runID != nil && pipeline != nil { throw ValidationError("give a run id or --pipeline, not both") }
    }

    func run() async throws {
        let lake = try global.openLake()
        let store = ManifestStore(lake: lake)
        let manifest: RunManifest
        do {
            if let runID {
                manifest = try store.find(runID: runID)
            } else {
                let (all, _) = store.all(pipeline: pipeline)
                guard let latest = all.last(where: { $0.status != .running }) ?? all.last else {
                    Console.error(pipeline.map { "no run of pipeline '\($0)' in \(lake.root)" } ?? "no runs in \(lake.root)")
                    throw ExitStatus.invalidInput
                }
                manifest = latest
            }
        } catch let code as ExitCode {
            throw code
        } catch {
            Console.error("\(error)")
            throw ExitStatus.invalidInput
        }
        // Dataset charts as the pipeline's report stage declares them, over this run's files.
        var charts: [(chart: ReportChart, files: [LakePath])] = []
        var stageTitle: String?
        if FileManager.default.fileExists(atPath: manifest.pipelineFile) {
            let (_, spec, _) = global.checkPipeline(manifest.pipelineFile, lake: lake)
            if let spec, let declared = ReportStage.charts(in: spec, for: manifest, lake: lake) {
                charts = declared.charts
                stageTitle = declared.title
            } else if spec == nil {
                Console.error("warning: \(manifest.pipelineFile) does not validate; the report has no dataset charts")
            }
        }
        var report = RunReport(manifest: manifest, lake: lake, title: title ?? stageTitle, charts: charts)
        let html = report.render()
        let target: String
        if let out {
            target = out.hasPrefix("/") ? out : FileManager.default.currentDirectoryPath + "/" + out
        } else {
            target = lake.root + "/processed_data/reports/\(manifest.pipeline)/\(manifest.runID).html"
        }
        do {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(html, to: target)
        } catch {
            Console.error("cannot write \(target): \(error)")
            throw ExitStatus.invalidInput
        }
        for warning in report.warnings { Console.error("warning: \(warning)") }
        if global.json {
            Console.json(["run_id": manifest.runID, "pipeline": manifest.pipeline, "out": target])
        } else if !global.quiet {
            Console.out(target)
        }
    }
}
