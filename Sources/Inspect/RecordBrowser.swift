import Foundation
import Lake

/// Reads the records of one or more JSONL/CSV files (gzip or not) in order, keeping those a
/// predicate accepts, up to a limit: what `lake show` prints.
public struct RecordBrowser {
    public let files: [LakePath]
    /// nil keeps every record.
    public let predicate: ((JSONObject) -> Bool)?
    public let limit: Int?
    public let policy: MalformedPolicy
    public let onReject: (RejectedRecord) -> Void

    public init(files: [LakePath], predicate: ((JSONObject) -> Bool)? = nil, limit: Int? = nil,
                policy: MalformedPolicy = .fail, onReject: @escaping (RejectedRecord) -> Void = { _ in }) {
        self.files = files
        self.predicate = predicate
        self.limit = limit
        self.policy = policy
        self.onReject = onReject
    }

    /// Calls `body` with each kept record; stops early at the limit. Returns how many were kept.
    /// CSV cells are typed (numbers, booleans, empty as null) so that `--where price > 10` works.
    @discardableResult
    public func forEach(_ body: (JSONObject) throws -> Void) throws -> Int {
        try forEach(onReject: onReject, body)
    }

    private func forEach(onReject: @escaping (RejectedRecord) throws -> Void, _ body: (JSONObject) throws -> Void) throws -> Int {
        var kept = 0
        for file in files {
            if let limit, kept >= limit { break }
            // Gzip is inflated on a thread of its own, ahead of the parse (as `query`'s scan does).
            let reader = try RecordReader(path: file.absolute, displayPath: file.relative, policy: policy, inferTypes: true,
                                          readAhead: true, onReject: onReject)
            while let record = try reader.next() {
                if let predicate, !predicate(record) { continue }
                try body(record)
                kept += 1
                if let limit, kept >= limit { break }
            }
        }
        return kept
    }

    /// The union of the kept records' keys in first-seen order (a pass of its own, so that output
    /// columns are known before the first row is printed without holding the records).
    public func columns() throws -> [String] {
        var seen = Set<String>()
        var columns: [String] = []
        try forEach(onReject: { _ in }) { record in
            for key in record.keys where seen.insert(key).inserted { columns.append(key) }
        }
        return columns
    }

    /// The kept records' columns (as `columns()`) and, when at most `holding` records are kept,
    /// the records themselves, so that they are printed without reading the files again; nil past
    /// that. The rejects go to `onReject` only with the records (a second pass reports them otherwise).
    public func columnsAndRecords(holding: Int) throws -> (columns: [String], records: [JSONObject]?) {
        var seen = Set<String>()
        var columns: [String] = []
        var held: [JSONObject]? = []
        var rejects: [RejectedRecord] = []
        try forEach(onReject: { bad in if held != nil { rejects.append(bad) } }) { record in
            for key in record.keys where seen.insert(key).inserted { columns.append(key) }
            guard held != nil else { return }
            if held!.count < holding {
                held!.append(record)
            } else {
                held = nil
                rejects = []
            }
        }
        if held != nil { rejects.forEach(onReject) }
        return (columns, held)
    }
}

/// One line per WARC record: type, URL, HTTP status, content length and date.
public struct WARCListing {
    public struct Entry: Sendable, Equatable {
        public let type: String
        public let url: String
        public let status: Int?
        /// Bytes of the record's block (`Content-Length`).
        public let length: Int
        public let date: String
        public let offset: Int64?

        public var asRecord: JSONObject {
            JSONObject([("type", .string(type)), ("url", .string(url)), ("status", status.map { .int(Int64($0)) } ?? .null),
                        ("length", .int(Int64(length))), ("date", .string(date)), ("offset", offset.map { .int($0) } ?? .null)])
        }
    }

    public static let columns = ["type", "url", "status", "length", "date", "offset"]

    /// `.warc` or `.warc.gz`.
    public static func isWARC(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".warc") || lower.hasSuffix(".warc.gz")
    }

    /// The records of a WARC file that `predicate` (over `asRecord`) keeps, up to `limit`.
    /// Returns how many were kept.
    @discardableResult
    public static func entries(of path: String, predicate: ((JSONObject) -> Bool)? = nil, limit: Int? = nil,
                               _ body: (Entry) throws -> Void) throws -> Int {
        let reader = try WARCReader(path: path)
        var n = 0
        while let limit = Optional(limit ?? .max), n < limit, let record = try reader.next() {
            let status = record.type == .response ? record.httpMessage()?.statusCode : nil
            let entry = Entry(type: record.headers["WARC-Type"] ?? "?", url: record.targetURI ?? "", status: status,
                              length: record.block.count, date: record.date ?? "", offset: record.offset)
            if let predicate, !predicate(entry.asRecord) { continue }
            try body(entry)
            n += 1
        }
        return n
    }
}
