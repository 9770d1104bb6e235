import ArgumentParser
import Foundation
import Lake
import Pipeline

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check pipeline files and report every problem as file:line:col: key: message.",
        discussion: "Exits 0 when every file is valid, 2 otherwise. Inputs are checked against the lake when it exists.\n\nExamples:\n  agentshop validate demo\n  agentshop validate pipelines/*.yaml --json"
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Pipeline files, or names in ./pipelines.", valueName: "pipeline"))
    var pipelines: [String]

    func run() async throws {
        let lake = Lake(root: global.lakePath)
        let checks = pipelines.map { global.checkPipeline($0, lake: lake.exists ? lake : nil) }
        if global.json {
            struct Result: Encodable {
                let file: String
                let valid: Bool
                let stages: [String]
                let diagnostics: [Diagnostic]
            }
            Console.json(checks.map { Result(file: $0.file, valid: $0.spec != nil, stages: $0.spec?.stages.map(\.name) ?? [],
                                             diagnostics: $0.diagnostics) })
        } else {
            for check in checks {
                for diagnostic in check.diagnostics { Console.error(diagnostic.description) }
                if let spec = check.spec {
                    if !global.quiet { Console.out("\(check.file): ok (\(spec.stages.count) stages)") }
                } else {
                    let count = check.diagnostics.filter { $0.severity == .error }.count
                    Console.error("\(check.file): \(count) problem\(count == 1 ? "" : "s")")
                }
            }
        }
        if checks.contains(where: { $0.spec == nil }) { throw ExitStatus.invalidInput }
    }
}
