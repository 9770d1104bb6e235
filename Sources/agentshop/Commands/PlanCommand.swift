import ArgumentParser
import Foundation
import Lake
import Logging
import Pipeline

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what `run` would do: each stage as run or skip, and why. Writes nothing.",
            discussion: "Examples:\n  agentshop plan demo\n  agentshop plan demo --stage report --json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: StageSelection

    @Argument(help: ArgumentHelp("A pipeline file, or a name in ./pipelines.", valueName: "pipeline"), completion: Completions.pipelines)
    var pipeline: String

    func run() async throws {
        let lake = try global.openLake()
        let spec = try global.loadPipeline(pipeline, lake: lake)
        var options = try selection.options(spec: spec)
        options.dryRun = true
        let runner = PipelineRunner(spec: spec, lake: lake, environment: global.environment(forPipelineFile: spec.file),
                                    logger: Logger(label: "agentshop.plan", factory: { _ in SwiftLogNoOpLogHandler() }),
                                    options: options)
        let manifest = await runner.run()
        if global.json {
            Console.json(manifest.stages)
        } else {
            var rows = [["STAGE", "KIND", "ACTION", "WHY"]]
            for stage in manifest.stages {
                let action: String
                switch stage.status {
                case .planned: action = "run"
                case .skipped: action = "skip"
                case .failed: action = "error"
                default: action = "-"
                }
                rows.append([stage.name, stage.kind, action, stage.error.map { "\(stage.reason): \($0)" } ?? stage.reason])
            }
            Console.out(Console.table(rows))
            for stage in manifest.stages {
                if let note = stage.note { Console.out("\(stage.name): \(note)") }
            }
        }
        if manifest.stages.contains(where: { $0.status == .failed }) { throw ExitStatus.invalidInput }
    }
}

/// `--stage`, `--force` and `--date`, shared by `plan` and `run`.
struct StageSelection: ParsableArguments {
    @Option(name: .customLong("stage"), help: ArgumentHelp("Run only this stage and what it needs (repeatable).", valueName: "name"),
            completion: Completions.stages)
    var stages: [String] = []

    @Flag(help: "Rerun the selected stages (or all) even when up to date.")
    var force = false

    @Option(help: ArgumentHelp("The run date for {run_date} partitions, YYYY-MM-DD (default: today, UTC).", valueName: "date"))
    var date: String?

    @Option(help: ArgumentHelp("How many independent stages may run at once (default: the pipeline's max_parallel, or 2).", valueName: "n"))
    var jobs: Int?

    func options(spec: PipelineSpec) throws -> RunOptions {
        for name in stages where spec.stage(named: name) == nil {
            let names = spec.stages.map(\.name).joined(separator: ", ")
            Console.error("no stage named '\(name)' in \(spec.file) (stages: \(names))")
            throw ExitStatus.invalidInput
        }
        if let date, let problem = RunDate.problem(date) {
            Console.error("--date: \(problem), found '\(Console.escaped(date))'")
            throw ExitStatus.invalidInput
        }
        if let jobs, jobs < 1 {
            Console.error("--jobs must be at least 1")
            throw ExitStatus.invalidInput
        }
        var options = RunOptions()
        options.stages = stages
        options.force = force
        options.runDate = date
        options.maxParallel = jobs
        return options
    }
}
