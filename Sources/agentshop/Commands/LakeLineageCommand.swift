import ArgumentParser
import Foundation
import Inspect
import Lake

struct LakeLineageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Which run and stage wrote a file, from which inputs back to the raw sources, and what was built from it.",
        discussion: """
        Read from the run manifests. Inputs are matched by content (sha256): an input traces to the \
        stage run that wrote that very version. A file no run wrote is a raw source. Forward, the \
        stage runs that read this version are listed with what they wrote, and so on.

        Examples:
          agentshop lake lineage processed_data/exports/products.csv
          agentshop lake lineage datalake/scraped_data/products/dt=2026-11-25/products.jsonl.gz
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A lake file (lake-relative path).", valueName: "file"))
    var file: String

    func run() async throws {
        let lake = try global.openLake()
        let path: LakePath
        do { path = try lake.resolve(GlobalOptions.lakeRelative(file, lake: lake)) } catch { throw LakeCommand.fail(error) }
        let history = LakeHistory(lake: lake)
        for bad in history.unreadable { Console.error("warning: unreadable manifest \(bad)") }
        guard path.exists || history.writer(of: path.relative) != nil || !history.readers(of: path.relative).isEmpty else {
            Console.error("\(path.relative): no such file in the lake, and no run manifest mentions it")
            throw ExitStatus.invalidInput
        }
        let lineage = Lineage(file: path.relative, history: history)
        if global.json {
            Console.out(lineage.json.serialized())
        } else {
            Console.out(lineage.render())
        }
    }
}
