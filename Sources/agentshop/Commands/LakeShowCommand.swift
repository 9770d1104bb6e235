import ArgumentParser
import Foundation
import Inspect
import Lake
import Query

struct LakeShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the records of a dataset (JSONL or CSV, gzip or not), or one line per record of a WARC file.",
        discussion: """
        --where takes the aggregate stage's expressions (price > 10 and category in ('a', 'b'), \
        vendor is null, name contains 'shoe', a.b for nested fields); CSV cells are typed first. A WARC \
        file lists each record's type, URL, HTTP status, length, date and offset; --where filters \
        those (status >= 400). The table fits the terminal (or $COLUMNS); cells too wide are cut with …. \
        A table shows the first 20 records unless --head says otherwise (--head 0: all); other formats \
        print every record.

        Examples:
          agentshop lake show demo:products --head 5
          agentshop lake show datalake/processed_data/exports/products.csv --where 'price > 20'
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A lake file, glob or PIPELINE:STAGE.", valueName: "file|dataset"))
    var dataset: String

    @Option(help: ArgumentHelp("Print at most N records (0: all).", valueName: "n"))
    var head: Int?

    @Option(name: .customLong("where"), help: ArgumentHelp("Keep only records for which this expression is true.", valueName: "expr"))
    var filter: String?

    @Option(help: "table, csv, json (one array) or jsonl (default: table on a terminal, else csv).")
    var format: RecordFormat?

    @Option(name: .customLong("on-error"), help: ArgumentHelp("fail: stop at the first malformed record; skip: report it on stderr and go on.", valueName: "fail|skip"))
    var onError: String = "fail"

    /// Kept records printed from the first pass at most (a table shows 20 by default).
    static let heldRecords = 10_000

    func validate() throws {
        guard MalformedPolicy(rawValue: onError) != nil else { throw ValidationError("--on-error takes fail or skip, found '\(onError)'") }
        if let head, head < 0 { throw ValidationError("--head takes 0 or more, found \(head)") }
    }

    func run() async throws {
        let lake = try global.openLake()
        let files = try LakeCommand.resolve(dataset, in: lake)
        let format = format ?? (global.json ? .json : RecordFormat.automatic)
        let limit: Int? = head.map { $0 == 0 ? nil : $0 } ?? (format == .table ? 20 : nil)

        var predicate: ((JSONObject) -> Bool)?
        if let filter {
            let expression: FilterExpression
            do {
                expression = try FilterExpression.parse(filter)
            } catch {
                Console.error("--where: \(error)")
                throw ExitStatus.invalidInput
            }
            let fields = expression.fields
            predicate = { record in expression.evaluate { fields[$0].value(in: record) } == true }
        }

        let warcs = files.filter { WARCListing.isWARC($0.relative) }
        let records = files.filter { RecordFileType(path: $0.relative) != nil }
        if let other = files.first(where: { !WARCListing.isWARC($0.relative) && RecordFileType(path: $0.relative) == nil }) {
            Console.error("\(other.relative): not a record file (.jsonl, .ndjson, .csv, optionally .gz) or WARC (.warc, .warc.gz)")
            throw ExitStatus.invalidInput
        }
        if !warcs.isEmpty && !records.isEmpty {
            Console.error("\(dataset) mixes WARC and record files; show them one kind at a time")
            throw ExitStatus.invalidInput
        }
        let policy = MalformedPolicy(rawValue: onError)!
        var shown = 0
        do {
            if !warcs.isEmpty {
                let printer = try RecordPrinter(format: format, columns: WARCListing.columns, sink: StandardOutputSink())
                for file in warcs {
                    let remaining = limit.map { $0 - shown }
                    if let remaining, remaining <= 0 { break }
                    shown += try WARCListing.entries(of: file.absolute, predicate: predicate, limit: remaining) { try printer.record($0.asRecord) }
                }
                try printer.finish()
            } else {
                let browser = RecordBrowser(files: records, predicate: predicate, limit: limit, policy: policy) { bad in
                    Console.error("\(bad.file): line \(bad.line): \(bad.reason) (skipped)")
                }
                if format == .json || format == .jsonl {
                    let printer = try RecordPrinter(format: format, columns: [], sink: StandardOutputSink())
                    shown = try browser.forEach { try printer.record($0) }
                    try printer.finish()
                } else {
                    // The columns are known before the first row: one pass finds them and, when the kept
                    // records are few (a --head, a narrow --where), holds them; otherwise a second pass
                    // prints (the first stays quiet then, the second reports what it skips).
                    let (columns, held) = try browser.columnsAndRecords(holding: Self.heldRecords)
                    let printer = try RecordPrinter(format: format, columns: columns, sink: StandardOutputSink())
                    if let held {
                        for record in held { try printer.record(record) }
                        shown = held.count
                    } else {
                        shown = try browser.forEach { try printer.record($0) }
                    }
                    try printer.finish()
                }
            }
        } catch {
            throw LakeCommand.fail(error)
        }
        if format == .table && !global.quiet {
            Console.error("(\(shown) record\(shown == 1 ? "" : "s")\(limit == shown ? "; --head N or --head 0 for more" : ""))")
        }
    }
}
