import ArgumentParser
import Foundation
import Inspect
import Lake

struct LakeLsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List datasets (or, given a PATH, its files) with size, records, partitions, and the run and stage that wrote them.",
        discussion: """
        Without PATH: one line per dataset, a dataset being the files whose paths differ only in \
        Hive-style partitions (dt=2026-11-25); its name is a glob that lake show, query and export \
        read. With PATH (a folder, file, glob or PIPELINE:STAGE): one line per file. Record counts \
        come from the manifest of the run that wrote a file, else files up to 32 MB are counted.

        Examples:
          agentshop lake ls
          agentshop lake ls scraped_data/products
          agentshop lake ls demo:products --json
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A folder, file, glob or PIPELINE:STAGE (default: the whole lake, by dataset).", valueName: "path"))
    var path: String?

    @Flag(help: "List files, not datasets, even without PATH.")
    var files = false

    func run() async throws {
        let lake = try global.openLake()
        let history = LakeHistory(lake: lake)
        let paths: [String]
        do { paths = try LakeListing.files(lake, matching: path.map { GlobalOptions.lakeRelative($0, lake: lake) }) } catch { throw LakeCommand.fail(error) }
        let infos = LakeListing.describe(paths, in: lake, history: history)
        let byFile = files || path != nil
        if global.json {
            if byFile {
                Console.json(infos.map { FileJSON($0) })
            } else {
                Console.json(LakeListing.datasets(infos).map { DatasetJSON($0) })
            }
            return
        }
        if infos.isEmpty { Console.out("no files"); return }
        var rows: [[String]]
        if byFile {
            rows = [["FILE", "SIZE", "RECORDS", "PARTITION", "WRITTEN BY", "RUN", "MODIFIED"]]
            for f in infos {
                rows.append([f.path, ByteSize.text(f.bytes), f.records.map(String.init) ?? "?", f.partition,
                             f.writer?.name ?? "", f.writer?.runID ?? "", LakeCommand.time(f.modified)])
            }
        } else {
            rows = [["DATASET", "FILES", "PARTITIONS", "SIZE", "RECORDS", "WRITTEN BY", "RUN", "MODIFIED"]]
            for d in LakeListing.datasets(infos) {
                rows.append([d.dataset, "\(d.files)", "\(d.partitions)", ByteSize.text(d.bytes), d.records.map(String.init) ?? "?",
                             d.writer?.name ?? "", d.writer?.runID ?? "", LakeCommand.time(d.modified)])
            }
        }
        Console.out(RecordPrinter.table(rows, maxWidth: RecordPrinter.terminalWidth))
    }

    struct FileJSON: Encodable {
        let path: String, bytes: Int64, records: Int?, partition: String, dataset: String, modified: String
        let pipeline: String?, stage: String?, runID: String?
        init(_ f: LakeFileInfo) {
            path = f.path; bytes = f.bytes; records = f.records; partition = f.partition; dataset = f.dataset
            modified = Timestamp.iso(f.modified); pipeline = f.writer?.pipeline; stage = f.writer?.stage.name; runID = f.writer?.runID
        }

        enum CodingKeys: String, CodingKey { case path, bytes, records, partition, dataset, modified, pipeline, stage, runID = "run_id" }
    }

    struct DatasetJSON: Encodable {
        let dataset: String, files: Int, partitions: Int, bytes: Int64, records: Int?, modified: String
        let pipeline: String?, stage: String?, runID: String?
        init(_ d: LakeDatasetInfo) {
            dataset = d.dataset; files = d.files; partitions = d.partitions; bytes = d.bytes; records = d.records
            modified = Timestamp.iso(d.modified); pipeline = d.writer?.pipeline; stage = d.writer?.stage.name; runID = d.writer?.runID
        }

        enum CodingKeys: String, CodingKey { case dataset, files, partitions, bytes, records, modified, pipeline, stage, runID = "run_id" }
    }
}
