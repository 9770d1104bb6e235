import Foundation

/// The record formats the lake reads and writes, chosen by file name.
public struct RecordFileType: Sendable, Equatable, CustomStringConvertible {
    public enum Format: String, Sendable { case jsonl, csv }
    public var format: Format
    public var gzip: Bool

    public init(format: Format, gzip: Bool) {
        self.format = format
        self.gzip = gzip
    }

    /// `.jsonl`, `.ndjson`, `.csv`, each optionally followed by `.gz`.
    public init?(path: String) {
        var name = path.lowercased()
        gzip = name.hasSuffix(".gz")
        if gzip { name.removeLast(3) }
        if name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") { format = .jsonl }
        else if name.hasSuffix(".csv") { format = .csv }
        else { return nil }
    }

    public var description: String { format.rawValue + (gzip ? ".gz" : "") }

    static func unknown(_ path: String) -> LakeError {
        LakeError(.unsupportedFormat, "unknown record format (expected .jsonl, .ndjson or .csv, optionally .gz)", path: path)
    }
}

/// What a reader does with a line it cannot parse.
public enum MalformedPolicy: String, Sendable, CaseIterable {
    /// Stop with an error naming file and line.
    case fail
    /// Write the line to the rejects file with the reason, and go on.
    case skip
}

/// Opens a file for reading, through gzip when its name ends in `.gz`.
public func openByteSource(path: String, gzip: Bool, label: String? = nil) throws -> ByteSource {
    let file = try FileInput(path: path)
    return gzip ? try GzipReader(file, label: label ?? path) : file
}

/// Streams JSON objects out of a JSONL or CSV file (gzip or not), applying a malformed-line policy.
///
/// CSV rows become objects keyed by the header row; with `inferTypes` empty cells become null
/// and numbers and booleans become JSON numbers and booleans.
public final class RecordReader {
    /// The path shown in messages (lake-relative where possible).
    public let displayPath: String
    public let type: RecordFileType
    public let policy: MalformedPolicy
    private let onReject: (RejectedRecord) throws -> Void
    private var lines: LineReader?
    private var csv: CSVReader?
    private var header: [String] = []
    private let inferTypes: Bool
    public private(set) var recordCount = 0
    public private(set) var rejectedCount = 0
    /// 1-based line of the record last returned.
    public private(set) var line = 0

    /// The longest JSONL line or CSV row read (a CSV field: at most 16 MiB); a longer one is a
    /// malformed record, found without reading past the limit.
    public static let defaultMaxRecordBytes = 64 << 20

    /// - Parameters:
    ///   - readAhead: gunzip on a thread of its own, ahead of the parse.
    ///   - parseThreads: with more than one, `next(projecting:into:)` over JSONL reads on one thread
    ///     and parses on this many (see `ProjectedScan`); the records, rejects, line numbers and
    ///     errors come out exactly as with one. Such a reader is for `next(projecting:into:)` only.
    ///   - parseChunkBytes: bytes of input per parsed chunk, with `parseThreads`.
    ///   - sharing: for `next(projecting:into:)` over JSONL, the run's shared scans and the reader's
    ///     name there (its stage): the file is read once for every reader expected to read it at the
    ///     same time, each getting what a scan of its own would give.
    public init(path: String, displayPath: String? = nil, type: RecordFileType? = nil, policy: MalformedPolicy = .fail,
                inferTypes: Bool = false, maxRecordBytes: Int = RecordReader.defaultMaxRecordBytes, readAhead: Bool = false,
                parseThreads: Int = 1, parseChunkBytes: Int = 1 << 20, sharing: (scans: SharedScans, reader: String)? = nil,
                onReject: @escaping (RejectedRecord) throws -> Void = { _ in }) throws {
        self.displayPath = displayPath ?? path
        guard let type = type ?? RecordFileType(path: path) else {
            throw RecordFileType.unknown(displayPath ?? path)
        }
        self.type = type
        self.policy = policy
        self.onReject = onReject
        self.inferTypes = inferTypes
        var source = try openByteSource(path: path, gzip: type.gzip, label: self.displayPath)
        if (parseThreads > 1 || sharing != nil) && type.format == .jsonl {
            // The scan's reader thread gunzips: no read-ahead thread in front of it.
            scanSource = (source, max(1, parseThreads), parseChunkBytes, maxRecordBytes, path, sharing)
            return
        }
        // `readAhead`: gunzip on a thread of its own, ahead of the parse (two cores, as `zcat | tool`).
        if readAhead && type.gzip { source = ReadAheadSource(source) }
        switch type.format {
        case .jsonl: lines = LineReader(source, maxLineLength: maxRecordBytes)
        case .csv:
            let reader = CSVReader(source, maxFieldLength: min(16 << 20, maxRecordBytes), maxRowLength: maxRecordBytes)
            csv = reader
            do {
                header = try reader.nextRow() ?? []
            } catch let bad as CSVReader.Malformed {
                throw LakeError(.malformedRecord, "line \(bad.line): header row: \(bad.reason)", path: self.displayPath)
            }
            if Set(header).count != header.count {
                throw LakeError(.malformedRecord, "line 1: header row repeats a column name", path: self.displayPath)
            }
        }
    }

    /// The CSV header, or an empty array for JSONL.
    public var columns: [String] { header }

    /// The next record, or nil at the end.
    public func next() throws -> JSONObject? {
        try checkNotScanning()
        return try applyingPolicy { try lines != nil ? nextJSON() : nextCSV() }
    }

    /// With `parseThreads`: the source and settings until the scan starts, then the scan.
    private var scanSource: (source: ByteSource, threads: Int, chunkBytes: Int, maxRecordBytes: Int, path: String,
                             sharing: (scans: SharedScans, reader: String)?)?
    private var scan: ProjectedScan.Cursor?

    private func checkNotScanning() throws {
        if scanSource != nil || scan != nil {
            throw LakeError(.malformedRecord, "a reader with parse threads reads projected records only", path: displayPath)
        }
    }

    /// Reads until a record comes back or the input ends; a malformed record throws (`fail`) or
    /// goes to `onReject` and reading goes on (`skip`).
    private func applyingPolicy<T>(_ read: () throws -> T?) throws -> T? {
        while true {
            do {
                let record = try read()
                if record != nil { recordCount += 1 }
                return record
            } catch let rejected as RejectedRecord {
                rejectedCount += 1
                if policy == .fail {
                    throw LakeError(.malformedRecord, "line \(rejected.line): \(rejected.reason)", path: displayPath)
                }
                try onReject(rejected)
            }
        }
    }

    /// The next record's projected top-level fields into `values` (one per projection key, null
    /// when absent); false at the end. Malformed records follow the policy exactly as in `next()`.
    /// The other fields are checked but not built, which makes wide records much cheaper to read.
    /// Use one projection per reader.
    public func next(projecting projection: FieldProjection, into values: inout [JSONValue]) throws -> Bool {
        if values.count != projection.keys.count { values = Array(repeating: .null, count: projection.keys.count) }
        if let pending = scanSource {
            scanSource = nil
            if let sharing = pending.sharing {
                scan = try sharing.scans.cursor(path: pending.path, reader: sharing.reader, source: pending.source,
                                                projection: projection, displayPath: displayPath,
                                                maxLineLength: pending.maxRecordBytes, parsers: pending.threads,
                                                chunkBytes: pending.chunkBytes)
            } else {
                scan = ProjectedScan.Cursor(pending.source, projection: projection, displayPath: displayPath,
                                            maxLineLength: pending.maxRecordBytes, parsers: pending.threads,
                                            chunkBytes: pending.chunkBytes)
            }
        }
        if let scan {
            let found = try applyingPolicy { () -> Bool? in
                try values.withUnsafeMutableBufferPointer { try scan.next(into: $0, line: &line) } ? true : nil
            }
            return found != nil
        }
        let found = try applyingPolicy { () -> Bool? in
            let found = try values.withUnsafeMutableBufferPointer { buffer in
                try lines != nil ? nextProjectedJSON(projection, buffer) : nextProjectedCSV(projection, buffer)
            }
            return found ? true : nil
        }
        return found != nil
    }

    /// The next JSONL record's top-level keys and the kinds of their values, without building
    /// them: `visit` gets each entry's key (UTF-8) and kind, in order, once the whole record has
    /// been checked; false at the end. Malformed records follow the policy exactly as in `next()`.
    /// Much cheaper than `next()` for schema inference. JSONL only: a CSV reader throws.
    public func nextKinds(_ visit: (UnsafeRawBufferPointer, JSONKind) throws -> Void) throws -> Bool {
        try checkNotScanning()
        guard let reader = lines else {
            throw LakeError(.malformedRecord, "nextKinds reads JSONL only", path: displayPath)
        }
        let found = try applyingPolicy { () -> Bool? in
            while true {
                let result: ProjectedLine? = try overLongLinesRejected(reader) { try reader.withNextLine { line in
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .blank }
                    var bytes = line
                    if reader.lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) {  // a UTF-8 byte order mark
                        bytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
                    }
                    scannedKinds.removeAll(keepingCapacity: true)
                    do {
                        guard try JSONParser.scanKinds(bytes, into: &scannedKinds) else {
                            return .rejected(reject("expected a JSON object", bytes))
                        }
                    } catch {
                        return .rejected(reject("invalid JSON: \(error)", bytes))
                    }
                    for entry in scannedKinds {
                        if var key = entry.escaped {
                            try key.withUTF8 { try visit(UnsafeRawBufferPointer($0), entry.kind) }
                        } else {
                            try visit(UnsafeRawBufferPointer(rebasing: bytes[entry.range]), entry.kind)
                        }
                    }
                    return .record
                } }
                guard let result else { return nil }
                line = reader.lineNumber
                switch result {
                case .record: return true
                case .blank: continue
                case .rejected(let rejected): throw rejected
                }
            }
        }
        return found != nil
    }

    private var scannedKinds: [JSONKeyKind] = []

    private enum ProjectedLine { case record, blank, rejected(RejectedRecord) }

    private func nextProjectedJSON(_ projection: FieldProjection, _ values: UnsafeMutableBufferPointer<JSONValue>) throws -> Bool {
        guard let reader = lines else { return false }
        while true {
            let result: ProjectedLine? = try overLongLinesRejected(reader) { try reader.withNextLine { bytes in
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .blank }
                var bytes = bytes
                if reader.lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) {  // a UTF-8 byte order mark
                    bytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
                }
                do {
                    guard try JSONParser.parseProjected(bytes, projection, into: values) else {
                        return .rejected(reject("expected a JSON object", bytes))
                    }
                    return .record
                } catch {
                    return .rejected(reject("invalid JSON: \(error)", bytes))
                }
            } }
            guard let result else { return false }
            line = reader.lineNumber
            switch result {
            case .record: return true
            case .blank: continue
            case .rejected(let rejected): throw rejected
            }
        }
    }

    private var projectedColumns: [Int?]?

    private func nextProjectedCSV(_ projection: FieldProjection, _ values: UnsafeMutableBufferPointer<JSONValue>) throws -> Bool {
        let columns = projectedColumns ?? projection.keys.map { header.firstIndex(of: $0) }
        projectedColumns = columns
        guard let row = try nextCSVRow() else { return false }
        for (slot, column) in columns.enumerated() {
            guard let column else { values[slot] = .null; continue }
            values[slot] = inferTypes ? Self.infer(row[column]) : .string(row[column])
        }
        return true
    }

    private func nextJSON() throws -> JSONObject? {
        guard let reader = lines else { return nil }
        while true {
            let result: Result<JSONObject?, RejectedRecord>? = try overLongLinesRejected(reader) { try reader.withNextLine { bytes in
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .success(nil) }  // blank line
                var bytes = bytes
                if reader.lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) {  // UTF-8 BOM
                    bytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
                }
                do {
                    let value = try JSONParser.parse(bytes)
                    guard case .object(let object) = value else {
                        return .failure(reject("expected a JSON object", bytes))
                    }
                    return .success(object)
                } catch {
                    return .failure(reject("invalid JSON: \(error)", bytes))
                }
            } }
            guard let result else { return nil }
            line = reader.lineNumber
            switch result {
            case .success(let object?): return object
            case .success(nil): continue
            case .failure(let rejected): throw rejected
            }
        }
    }

    /// A line over the reader's limit is a malformed record like any other (rejected or fatal by
    /// the policy, naming file and line); the reader has stopped at the limit and passes over the
    /// rest of the line when asked for the next one.
    private func overLongLinesRejected<T>(_ reader: LineReader, _ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch let error as LakeError where error.code == .malformedRecord {
            line = reader.lineNumber
            throw RejectedRecord(file: displayPath, line: reader.lineNumber,
                                 reason: "the line is longer than \(reader.maxLineLength) bytes", raw: "")
        }
    }

    private func reject(_ reason: String, _ bytes: UnsafeRawBufferPointer) -> RejectedRecord {
        // LineReader has already counted the line it handed us.
        RejectedRecord(file: displayPath, line: lines?.lineNumber ?? 0, reason: reason,
                       raw: String(decoding: bytes.prefix(64 * 1024), as: UTF8.self))
    }

    private func nextCSV() throws -> JSONObject? {
        guard let row = try nextCSVRow() else { return nil }
        var object = JSONObject()
        for (key, cell) in zip(header, row) {
            object.appendUnchecked(key, inferTypes ? Self.infer(cell) : .string(cell))
        }
        return object
    }

    /// The next row with as many fields as the header; blank lines skipped.
    private func nextCSVRow() throws -> [String]? {
        guard let reader = csv else { return nil }
        while true {
            let row: [String]
            do {
                guard let next = try reader.nextRow() else { return nil }
                row = next
            } catch let bad as CSVReader.Malformed {
                throw RejectedRecord(file: displayPath, line: bad.line, reason: bad.reason, raw: bad.raw)
            }
            line = reader.rowLine
            if row.count == 1 && row[0].isEmpty && reader.rowWasBlankLine { continue }  // a blank line, not ""
            guard row.count == header.count else {
                throw RejectedRecord(file: displayPath, line: line,
                                     reason: "expected \(header.count) fields, found \(row.count)",
                                     raw: String(decoding: { var o: [UInt8] = []; CSVEncoding.appendRow(row, to: &o); return o }(), as: UTF8.self))
            }
            return row
        }
    }

    /// Types for a CSV cell: empty → null, integers, decimals, true/false; anything else stays text.
    /// Numbers with leading zeros ("007", ZIP codes) stay text so that nothing is lost.
    public static func infer(_ cell: String) -> JSONValue {
        if cell.isEmpty { return .null }
        if cell == "true" { return .bool(true) }
        if cell == "false" { return .bool(false) }
        let utf8 = cell.utf8
        let first = utf8.first!
        guard first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39) else { return .string(cell) }
        let digits = first == UInt8(ascii: "-") ? utf8.dropFirst() : utf8[...]
        if digits.count > 1 && digits.first == UInt8(ascii: "0") && digits.dropFirst().first != UInt8(ascii: ".") {
            return .string(cell)
        }
        if let i = Int64(cell) { return .int(i) }
        // An integer too long for Int64 (an id, a barcode) stays text rather than losing digits.
        if digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return .string(cell) }
        if utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
            || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") || $0 == UInt8(ascii: "+") }),
           let d = Double(cell), d.isFinite {
            return .double(d)
        }
        return .string(cell)
    }
}

extension RejectedRecord: Error {}

/// Writes JSON objects as JSONL or CSV (gzip or not) to a file that appears only on `commit()`.
public final class RecordWriter {
    public let path: String
    public let type: RecordFileType
    private let file: AtomicFile
    private let sink: ByteSink
    private var csvColumns: [String]?
    private var line: [UInt8] = []
    public private(set) var recordCount = 0
    /// How values become CSV cells (null text, the spreadsheet formula guard).
    public var csvCells = CSVCellOptions()

    /// - Parameter columns: the CSV header; required for CSV, ignored for JSONL.
    public init(path: String, type: RecordFileType? = nil, columns: [String]? = nil, gzipLevel: Int32 = 6) throws {
        guard let type = type ?? RecordFileType(path: path) else {
            throw RecordFileType.unknown(path)
        }
        self.path = path
        self.type = type
        file = try AtomicFile(path: path)
        sink = type.gzip ? try GzipWriter(file.output, level: gzipLevel, label: path) : file.output
        if type.format == .csv {
            guard let columns else { preconditionFailure("a CSV RecordWriter needs its columns") }
            csvColumns = columns
            CSVEncoding.appendRow(columns, to: &line)
            try sink.write(line)
            line.removeAll(keepingCapacity: true)
        }
        line.reserveCapacity(4096)
    }

    public func write(_ record: JSONObject) throws {
        line.removeAll(keepingCapacity: true)
        if let columns = csvColumns {
            for key in record.keys where !columns.contains(key) {
                throw LakeError(.malformedRecord, "field '\(key)' is not among the CSV columns", path: path)
            }
            CSVEncoding.appendRow(columns.map { csvCells.cell(record[$0]) }, to: &line)
        } else {
            JSONWriter.append(.object(record), to: &line)
            line.append(0x0A)
        }
        try sink.write(line)
        recordCount += 1
    }

    /// Writes raw bytes (a pre-serialised JSON line, for example).
    public func writeRaw(_ bytes: UnsafeRawBufferPointer) throws { try sink.write(bytes) }

    /// Finishes compression and makes the file appear under its final name.
    public func commit() throws {
        try sink.finish()
        try file.commit()
    }

    /// Drops the file; the final name is untouched.
    public func abandon() { file.abandon() }

    /// Runs `body` (which writes through this writer), then publishes the file (`commit()`); when
    /// `body` throws, the file is abandoned and the final name is untouched. Like GRDB's
    /// `inTransaction`: no stage writes the commit/abandon dance.
    ///
    /// ```swift
    /// let writer = try RecordWriter(path: out)
    /// try writer.publish {
    ///     for record in records { try writer.write(record) }
    /// }
    /// ```
    public func publish<T>(_ body: () throws -> T) throws -> T {
        let result: T
        do { result = try body() } catch { abandon(); throw error }
        try commit()
        return result
    }

    /// Runs `body`, then publishes the file; abandons it when `body` throws.
    public func publish<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws -> T {
        let result: T
        do { result = try await body() } catch { abandon(); throw error }
        try commit()
        return result
    }
}
