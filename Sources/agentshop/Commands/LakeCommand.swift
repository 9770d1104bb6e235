import ArgumentParser
import Foundation
import Inspect
import Lake
import Pipeline

/// `agentshop lake …`: what an analyst would otherwise do with zcat, jq and DuckDB.
struct LakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lake",
        abstract: "Look into the lake: list, show, profile, trace, compare and clean up datasets.",
        discussion: """
        FILE and DATASET are lake paths or globs (scraped_data/products/*/products.jsonl.gz), or \
        PIPELINE:STAGE for the files that stage wrote in its latest successful run.

        Examples:
          agentshop lake ls
          agentshop lake show demo:products --head 5
        """,
        subcommands: [LakeLsCommand.self, LakeShowCommand.self, LakeSchemaCommand.self, LakeLineageCommand.self,
                      LakeDiffCommand.self, LakeGCCommand.self]
    )

    /// The files a dataset argument names; exits 2 with the reason when there are none.
    static func resolve(_ dataset: String, in lake: Lake) throws -> [LakePath] {
        do {
            return try DatasetReference.resolve(GlobalOptions.lakeRelative(dataset, lake: lake), in: lake)
        } catch {
            Console.error("\(error)")
            throw ExitStatus.invalidInput
        }
    }

    /// `2026-11-25 14:02` in UTC.
    static func time(_ date: Date) -> String {
        String(Timestamp.iso(date).prefix(16)).replacingOccurrences(of: "T", with: " ")
    }

    /// Maps a failure while reading lake data to an exit code, printing it.
    static func fail(_ error: Error) -> ExitCode {
        if let code = error as? ExitCode { return code }
        Console.error("\(error)")
        return error is LakeError || error is LakeDiff.DuplicateKey || error is LakeDiff.MissingKey
            || error is DatasetReference.NotFound ? ExitStatus.invalidInput : ExitStatus.internalError
    }
}
