import ArgumentParser
import Foundation
import Lake
import Pipeline
import Stages
import Store

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run SQLite SQL over lake datasets and the store.",
        discussion: """
        A quoted dataset right after FROM or JOIN is loaded as a table: a lake path or glob
        (FROM 'processed_data/aggregations/by_category/*.csv'), or 'PIPELINE:STAGE' for the files
        that stage wrote in its latest successful run. Its columns are the union of the keys of
        all its records, typed by widening (integer, real, text; objects and arrays as JSON text).
        The table is named after the file (reviews for reviews.jsonl.gz), the glob's folder, or the
        stage; alias it with AS. The store, when there is one, is attached read-only as `store`
        (SELECT * FROM store.products). Output: an aligned table on a terminal, CSV otherwise,
        or --format csv|json|jsonl|table.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json, jsonl
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The SQLite query.", valueName: "sql"))
    var sql: String

    @Option(help: "table, csv, json (one array) or jsonl (default: table on a terminal, else csv).")
    var format: Format?

    @Flag(help: "Print each referenced dataset's table name, rows and inferred columns instead of running the query.")
    var schema = false

    @Option(name: .customLong("on-error"), help: ArgumentHelp("fail: stop at the first malformed record; skip: report it on stderr and go on.", valueName: "fail|skip"))
    var onError: String = "fail"

    func validate() throws {
        guard MalformedPolicy(rawValue: onError) != nil else { throw ValidationError("--on-error takes fail or skip, found '\(onError)'") }
    }

    func run() async throws {
        let lake = try global.openLake()
        let query = LakeQuery(sql)
        let loader: SQLiteLoader
        let tables: [LoadedTable]
        do {
            loader = try SQLiteLoader()
            tables = try query.load(into: loader, lake: lake, policy: MalformedPolicy(rawValue: onError)!) { bad in
                Console.error("\(bad.file): line \(bad.line): \(bad.reason) (skipped)")
            }
        } catch {
            Console.error("\(error)")
            throw (error is StageError || error is LakeError || error is DatasetReference.NotFound) ? ExitStatus.invalidInput : ExitStatus.internalError
        }

        if schema {
            if query.datasets.isEmpty { Console.error("the query names no lake dataset (quote one after FROM or JOIN)") }
            for (dataset, table) in zip(query.datasets, tables) {
                Console.out("\(table.name): \(dataset.reference) (\(table.rows) row\(table.rows == 1 ? "" : "s"), \(table.files.count) file\(table.files.count == 1 ? "" : "s"))")
                Console.out(Console.table(table.columns.map { ["  " + $0.name, $0.type.rawValue] }))
            }
            return
        }

        let format = format ?? (isatty(STDOUT_FILENO) == 1 ? .table : .csv)
        let sink = StandardOutputSink()
        var columns: [String] = []
        var tableRows: [[String]] = []
        var written = 0
        var line: [UInt8] = []
        do {
            try loader.query(query.sql, columns: { names in
                columns = names
                switch format {
                case .csv:
                    CSVEncoding.appendRow(names, to: &line)
                    try sink.write(line)
                case .json: try sink.write("[")
                case .table: tableRows.append(names)
                case .jsonl: break
                }
            }, row: { row in
                line.removeAll(keepingCapacity: true)
                switch format {
                case .csv:
                    CSVEncoding.appendRow(row.map { SQLiteLoader.jsonValue($0).plainText }, to: &line)
                case .jsonl, .json:
                    if format == .json { line.append(contentsOf: (written == 0 ? "\n" : ",\n").utf8) }
                    let record = JSONObject(zip(columns, row).map { ($0, SQLiteLoader.jsonValue($1)) })
                    line.append(contentsOf: JSONValue.object(record).serialized().utf8)
                    if format == .jsonl { line.append(0x0A) }
                case .table:
                    tableRows.append(row.map { $0.isNull ? "NULL" : SQLiteLoader.jsonValue($0).plainText })
                }
                if !line.isEmpty { try sink.write(line) }
                written += 1
            })
            switch format {
            case .json: try sink.write(written == 0 ? "]\n" : "\n]\n")
            case .table:
                let rule = tableRows[0].map { _ in "" }
                var text = Console.table([tableRows[0], rule] + tableRows.dropFirst())
                // The rule row is blank cells; draw it with dashes under each column.
                let widths = tableRows[0].indices.map { i in tableRows.map { $0[i].count }.max() ?? 0 }
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                if lines.count > 1 { lines[1] = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") }
                text = lines.joined(separator: "\n")
                try sink.write(text + "\n")
                if !global.quiet { Console.error("(\(written) row\(written == 1 ? "" : "s"))") }
            default: break
            }
            try sink.finish()
        } catch {
            Console.error("\(error)")
            throw error is StageError ? ExitStatus.invalidInput : ExitStatus.internalError
        }
    }
}
