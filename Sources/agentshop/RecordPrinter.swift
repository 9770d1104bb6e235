import ArgumentParser
import Foundation
import Lake

/// How commands that print records (`query`, `lake show`) print them.
enum RecordFormat: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json, jsonl

    /// A table on a terminal, CSV otherwise.
    static var automatic: RecordFormat { isatty(STDOUT_FILENO) == 1 ? .table : .csv }
}

/// Prints rows as an aligned table, CSV, one JSON array, or JSON Lines: one renderer for every
/// command. Table rows are held until `finish()` (to size the columns); the other formats stream.
final class RecordPrinter {
    let format: RecordFormat
    let columns: [String]
    private let sink: ByteSink
    private var tableRows: [[String]] = []
    private var line: [UInt8] = []
    private(set) var written = 0

    init(format: RecordFormat, columns: [String], sink: ByteSink) throws {
        self.format = format
        self.columns = columns
        self.sink = sink
        switch format {
        case .csv:
            CSVEncoding.appendRow(columns, to: &line)
            try sink.write(line)
        case .json: try sink.write("[")
        case .table: tableRows.append(columns)
        case .jsonl: break
        }
    }

    /// One row, a value per column.
    func row(_ values: [JSONValue]) throws {
        line.removeAll(keepingCapacity: true)
        switch format {
        case .csv:
            CSVEncoding.appendRow(values.map(\.plainText), to: &line)
        case .jsonl, .json:
            if format == .json { line.append(contentsOf: (written == 0 ? "\n" : ",\n").utf8) }
            line.append(contentsOf: JSONValue.object(JSONObject(Array(zip(columns, values)))).serialized().utf8)
            if format == .jsonl { line.append(0x0A) }
        case .table:
            tableRows.append(values.map { $0.isNull ? "NULL" : $0.plainText })
        }
        if !line.isEmpty { try sink.write(line) }
        written += 1
    }

    /// A record: as it is in JSON and JSON Lines, else its values for `columns` (missing keys empty).
    func record(_ record: JSONObject) throws {
        guard format == .json || format == .jsonl else { return try row(columns.map { record[$0] ?? .null }) }
        line.removeAll(keepingCapacity: true)
        if format == .json { line.append(contentsOf: (written == 0 ? "\n" : ",\n").utf8) }
        line.append(contentsOf: JSONValue.object(record).serialized().utf8)
        if format == .jsonl { line.append(0x0A) }
        try sink.write(line)
        written += 1
    }

    func finish() throws {
        switch format {
        case .json: try sink.write(written == 0 ? "]\n" : "\n]\n")
        case .table: try sink.write(Self.table(tableRows, maxWidth: Self.terminalWidth) + "\n")
        default: break
        }
        try sink.finish()
    }

    /// The width tables must fit: `$COLUMNS`, else the terminal's, else unlimited (a pipe).
    static var terminalWidth: Int? {
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let n = Int(text), n > 0 { return n }
        var size = winsize()
        if isatty(STDOUT_FILENO) == 1, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return nil
    }

    /// A header row, a rule of dashes under each column, then the rows, padded to the widest cell.
    /// Line breaks and tabs in cells become spaces. When `maxWidth` is given, the widest columns
    /// are narrowed (never below 6 characters) and their cells cut with `…` until a line fits.
    /// The one table renderer: every command's table goes through here (Console.table without the rule).
    static func table(_ rows: [[String]], maxWidth: Int?, rule: Bool = true) -> String {
        guard let header = rows.first else { return "" }
        let clean = rows.map { row in row.map { cell in
            cell.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\t" })
                ? String(cell.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 }) : cell
        } }
        var widths = header.indices.map { i in clean.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        if let maxWidth {
            let gaps = 2 * max(0, widths.count - 1)
            // The first column names the row (a dataset, a run, a stage): the others narrow first, widest
            // first, down to their header's width; only then is every column, widest first, narrowed to 6.
            let floors = widths.indices.map { min(widths[$0], max(6, header[$0].count)) }
            func narrow(_ columns: [Int], floor: (Int) -> Int) {
                while widths.reduce(0, +) + gaps > maxWidth,
                      let widest = columns.filter({ widths[$0] > floor($0) }).max(by: { widths[$0] < widths[$1] }) {
                    widths[widest] -= 1
                }
            }
            narrow(Array(widths.indices.dropFirst()), floor: { floors[$0] })
            narrow(Array(widths.indices), floor: { _ in 6 })
        }
        func fit(_ cell: String, _ width: Int) -> String {
            cell.count > width ? String(cell.prefix(max(0, width - 1))) + "…" : cell
        }
        func render(_ row: [String]) -> String {
            widths.indices.map { i -> String in
                let cell = fit(i < row.count ? row[i] : "", widths[i])
                return i == widths.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var lines = [render(clean[0])]
        if rule { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        lines += clean.dropFirst().map(render)
        return lines.joined(separator: "\n")
    }
}
