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
        files of that run, when the pipeline file is still there. The page also shows the pipeline's \
        graph and trends over its last runs. `agentshop run` writes each run's final page itself, \
        with latest.html beside it, when the pipeline has a report stage. Without a display, the \
        command says where the file is and how to view it.

        Examples:
          agentshop report                          # the latest run
          agentshop report --pipeline demo --out /tmp/demo.html
          agentshop report 20261125T1042
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The run id, or a unique prefix of it (default: the latest run).", valueName: "run-id"),
              completion: Completions.runIDs)
    var runID: String?

    @Option(help: "The latest run of this pipeline.", completion: Completions.pipelines)
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
        var report = RunReport(manifest: manifest, lake: lake, title: title ?? stageTitle, charts: charts,
                               history: store.all(pipeline: manifest.pipeline).0)
        let html = report.render()
        let target: String
        if let out {
            target = out.hasPrefix("/") ? out : FileManager.default.currentDirectoryPath + "/" + out
        } else {
            target = Self.runReportPath(lake: lake, manifest: manifest)
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
            if let hint = Self.viewingHint(for: target, environment: ProcessInfo.processInfo.environment) { Console.error(hint) }
        }
    }

    /// `processed_data/reports/<pipeline>/<run id>.html`: one page per run, never overwritten by another run.
    static func runReportPath(lake: Lake, manifest: RunManifest) -> String {
        lake.root + "/processed_data/reports/\(manifest.pipeline)/\(manifest.runID).html"
    }

    /// How to open the page: a browser command when there is a display, else where the file is and
    /// how to view it from elsewhere (xdg-open fails on a machine without one).
    static func viewingHint(for file: String, environment: [String: String]) -> String? {
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        let hasDisplay = !(environment["DISPLAY"] ?? "").isEmpty || !(environment["WAYLAND_DISPLAY"] ?? "").isEmpty
        let opener = ["xdg-open", "open"].first { tool in
            (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
                FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
            }
        }
        if hasDisplay, let opener { return "open it with: \(opener) \(absolute)" }
        return """
        no display here (DISPLAY and WAYLAND_DISPLAY are unset\(opener == nil ? ", no xdg-open" : "")): the report is one \
        self-contained file, \(absolute)
        view it elsewhere: scp \(ProcessInfo.processInfo.hostName):\(absolute) . and open it in a browser, \
        or serve it: python3 -m http.server --directory \((absolute as NSString).deletingLastPathComponent) 8000 \
        (then http://localhost:8000/\((absolute as NSString).lastPathComponent) through an ssh tunnel: ssh -L 8000:localhost:8000 …)
        """
    }

    /// After a run has ended, writes its final report (its real status, every stage settled):
    /// `processed_data/reports/<pipeline>/<run id>.html` and the same page as `latest.html` beside
    /// it, for pipelines with a report stage. A report stage's own page, written during the run,
    /// shows the status as of writing. A run that ran no stage (a no-op rerun) writes none: nothing the
    /// page shows changed, and `latest.html` stays the last run's that did something (`agentshop report
    /// RUN_ID` still draws the no-op run's page on demand). Returns the per-run page's path, nil when none
    /// was written.
    @discardableResult
    static func writeFinalReport(spec: PipelineSpec, manifest: RunManifest, lake: Lake) -> String? {
        guard manifest.stages.contains(where: { $0.status != .skipped }) else { return nil }
        guard let declared = ReportStage.charts(in: spec, for: manifest, lake: lake) else { return nil }
        let store = ManifestStore(lake: lake)
        var report = RunReport(manifest: manifest, lake: lake, title: declared.title, charts: declared.charts,
                               history: store.all(pipeline: manifest.pipeline).0)
        let html = report.render()
        let target = runReportPath(lake: lake, manifest: manifest)
        do {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(html, to: target)
            // A copy, not a symlink: the lake refuses symlinks, and a copy opens the same from a mail or a scp.
            try AtomicFile.write(html, to: (target as NSString).deletingLastPathComponent + "/latest.html")
            return target
        } catch {
            Console.error("warning: cannot write the run's report \(target): \(error)")
            return nil
        }
    }
}
