import ArgumentParser
import Foundation
import Lake

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check pipeline files and report every problem as file:line:col: key: message.",
        discussion: "Exits 0 when every file is valid, 2 otherwise. Inputs are checked against the lake when it exists."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Pipeline files, or names in ./pipelines.", valueName: "pipeline"))
    var pipelines: [String]

    func run() async throws {
        let lake = Lake(root: global.lakePath)
        var failed = false
        for pipeline in pipelines {
            do {
                let spec = try global.loadPipeline(pipeline, lake: lake.exists ? lake : nil)
                if !global.quiet && !global.json { Console.out("\(spec.file): ok (\(spec.stages.count) stages)") }
            } catch {
                failed = true
            }
        }
        if failed { throw ExitStatus.invalidInput }
    }
}
