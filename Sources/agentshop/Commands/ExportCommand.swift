import ArgumentParser
import Foundation
import Lake
import Pipeline

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a dataset as CSV, JSON or JSON Lines, to a file (atomically) or to stdout.",
        discussion: """
        DATASET is a lake path or glob (processed_data/aggregations/by_category/*.csv), or
        PIPELINE:STAGE for the files that stage wrote in its latest successful run. Several files
        are concatenated in name order. CSV output has the union of the records' keys as columns,
        in first-seen order; CSV input cells keep their text in CSV output and are typed
        (numbers, booleans, empty as null) in JSON output. An --out name ending in .gz is gzipped.

        In CSV, null is an empty cell like an empty string (--null-value '\\N' tells them apart),
        and --excel-safe guards text cells that spreadsheets would run as formulas.

        Examples:
          agentshop export demo:products --out processed_data/exports/products.csv
          agentshop export 'scraped_data/reviews/*/reviews.jsonl.gz' --format jsonl
          agentshop export demo:aggregate --out by_category.csv --excel-safe
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case csv, json, jsonl
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A lake path or glob, or PIPELINE:STAGE.", valueName: "dataset"))
    var dataset: String

    @Option(help: "csv, json (one array) or jsonl (default: from the --out name, else jsonl).")
    var format: Format?

    @Option(help: ArgumentHelp("Write here (atomically) instead of stdout.", valueName: "file"))
    var out: String?

    @Option(name: .customLong("on-error"), help: ArgumentHelp("fail: stop at the first malformed record; skip: report it on stderr and go on.", valueName: "fail|skip"))
    var onError: String = "fail"

    @Option(name: .customLong("null-value"), help: ArgumentHelp("CSV: the text for null (default: an empty cell, the same as an empty string).", valueName: "text"))
    var nullValue: String = ""

    @Flag(name: .customLong("excel-safe"), help: "CSV: put ' before text cells starting with =, +, -, @, tab or CR, which spreadsheets run as formulas.")
    var excelSafe = false

    func validate() throws {
        if (format ?? out.flatMap(Self.format(ofName:)) ?? .jsonl) != .csv && (!nullValue.isEmpty || excelSafe) {
            throw ValidationError("--null-value and --excel-safe apply to CSV output only")
        }
        guard MalformedPolicy(rawValue: onError) != nil else { throw ValidationError("--on-error takes fail or skip, found '\(onError)'") }
        if format == nil, let out, Self.format(ofName: out) == nil {
            throw ValidationError("cannot tell the format from '\(out)': pass --format csv|json|jsonl")
        }
    }

    static func format(ofName name: String) -> Format? {
        var lower = name.lowercased()
        if lower.hasSuffix(".gz") { lower.removeLast(3) }
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonl }
        if lower.hasSuffix(".json") { return .json }
        return nil
    }

    func run() async throws {
        let lake = try global.openLake()
        let format = format ?? out.flatMap(Self.format(ofName:)) ?? .jsonl
        let policy = MalformedPolicy(rawValue: onError)!
        let files: [LakePath]
        do {
            files = try DatasetReference.resolve(dataset, in: lake)
        } catch {
            Console.error("\(error)")
            throw ExitStatus.invalidInput
        }
        for file in files where RecordFileType(path: file.relative) == nil {
            Console.error("\(file.relative): not a record file (expected .jsonl, .ndjson or .csv, optionally .gz)")
            throw ExitStatus.invalidInput
        }

        var rejected = 0
        func reader(_ file: LakePath, infer: Bool) throws -> RecordReader {
            try RecordReader(path: file.absolute, displayPath: file.relative, policy: policy, inferTypes: infer) { bad in
                rejected += 1
                Console.error("\(bad.file): line \(bad.line): \(bad.reason) (skipped)")
            }
        }

        let atomic: AtomicFile?
        let sink: ByteSink
        do {
            if let out {
                let file = try AtomicFile(path: out.hasPrefix("/") ? out : FileManager.default.currentDirectoryPath + "/" + out)
                atomic = file
                sink = out.lowercased().hasSuffix(".gz") ? try GzipWriter(file.output, label: out) : file.output
            } else {
                atomic = nil
                sink = StandardOutputSink()
            }
        } catch {
            Console.error("\(error)")
            throw ExitStatus.invalidInput
        }

        var written = 0
        do {
            // CSV keeps cells as text; JSON gets numbers and booleans.
            let infer = format != .csv
            var columns: [String] = []
            if format == .csv {
                columns = try RecordReader.keyUnion(of: files) { try reader($0, infer: false) }
                rejected = 0  // the second pass reports them again
                var line: [UInt8] = []
                CSVEncoding.appendRow(columns, to: &line)
                try sink.write(line)
            }
            if format == .json { try sink.write("[") }
            let cells = CSVCellOptions(nullValue: nullValue, excelSafe: excelSafe)
            var line: [UInt8] = []
            for file in files {
                let input = try reader(file, infer: infer)
                while let record = try input.next() {
                    line.removeAll(keepingCapacity: true)
                    switch format {
                    case .csv:
                        CSVEncoding.appendRow(columns.map { cells.cell(record[$0]) }, to: &line)
                    case .jsonl:
                        line.append(contentsOf: JSONValue.object(record).serialized().utf8)
                        line.append(0x0A)
                    case .json:
                        line.append(contentsOf: (written == 0 ? "\n" : ",\n").utf8)
                        line.append(contentsOf: JSONValue.object(record).serialized().utf8)
                    }
                    try sink.write(line)
                    written += 1
                }
            }
            if format == .json { try sink.write(written == 0 ? "]\n" : "\n]\n") }
            try sink.finish()
            try atomic?.commit()
        } catch {
            atomic?.abandon()
            Console.error("\(error)")
            throw (error is LakeError) ? ExitStatus.invalidInput : ExitStatus.internalError
        }

        let summary = "exported \(written) record\(written == 1 ? "" : "s") from \(files.count) file\(files.count == 1 ? "" : "s")"
            + (out.map { " to \($0)" } ?? "") + (rejected > 0 ? "; skipped \(rejected) malformed" : "")
        if global.json && out != nil {
            Console.json(ExportSummary(records: written, files: files.map(\.relative), out: out, format: format.rawValue, skipped: rejected))
        } else if !global.quiet && out != nil {
            Console.error(summary)
        }
    }

    struct ExportSummary: Encodable {
        let records: Int
        let files: [String]
        let out: String?
        let format: String
        let skipped: Int
    }
}

/// Buffered writes to standard output.
final class StandardOutputSink: ByteSink {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func finish() throws { try flush() }

    private func flush() throws {
        try buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(STDOUT_FILENO, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ExitStatus.internalError
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
