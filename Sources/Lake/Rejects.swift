import Foundation

/// A record that could not be read, and where it was.
public struct RejectedRecord: Sendable {
    public var file: String
    public var line: Int
    public var reason: String
    public var raw: String

    public init(file: String, line: Int, reason: String, raw: String) {
        self.file = file
        self.line = line
        self.reason = reason
        self.raw = raw
    }

    /// This reject as a line of a rejects file (see `RejectsFile`); `stage` null when not given.
    public func asRecord(stage: String? = nil) -> JSONObject {
        RejectsFile.entry(stage: stage, file: file, line: line, url: nil, fetchedAt: nil, reason: reason, raw: raw)
    }
}

/// A fetched page that could not be parsed (or a record of it that lacks a required field).
public struct RejectedPage: Sendable {
    public var url: String
    /// The file the page was read from (a WARC file or an HTML file).
    public var file: String
    public var fetchedAt: String
    public var reason: String

    public init(url: String, file: String, fetchedAt: String, reason: String) {
        self.url = url
        self.file = file
        self.fetchedAt = fetchedAt
        self.reason = reason
    }

    /// This reject as a line of a rejects file (see `RejectsFile`).
    public func asRecord(stage: String? = nil) -> JSONObject {
        RejectsFile.entry(stage: stage, file: file, line: nil, url: url, fetchedAt: fetchedAt, reason: reason, raw: nil)
    }
}

/// The rejects file of a stage run (`raw_data/logs/<pipeline>/<run>.<stage>.rejects.jsonl`): created
/// on the first reject, published by `commit()` (or inside `publish`), dropped by `abandon()`.
///
/// Every line has the same keys, in this order, null where they do not apply (docs/lake.md,
/// "Rejects files"): `stage`, `file`, `line` (1-based, records read from a line), `url` and
/// `fetched_at` (pages), `reason`, `raw` (the line as read, or the record as JSON).
public final class RejectsFile: @unchecked Sendable {
    public let path: LakePath
    /// The stage named in every line.
    public let stage: String
    private var writer: RecordWriter?
    /// Rejects added since the last `reset()`.
    public private(set) var count = 0

    public init(path: LakePath, stage: String) {
        self.path = path
        self.stage = stage
    }

    public func add(_ rejected: RejectedRecord) throws { try write(rejected.asRecord(stage: stage)) }

    public func add(_ rejected: RejectedPage) throws { try write(rejected.asRecord(stage: stage)) }

    private func write(_ entry: JSONObject) throws {
        if writer == nil { writer = try RecordWriter(path: path.absolute, type: RecordFileType(format: .jsonl, gzip: false)) }
        try writer!.write(entry)
        count += 1
    }

    /// Forgets what was added: for a stage that reads its inputs twice and meets the same rejects again.
    public func reset() {
        writer?.abandon()
        writer = nil
        count = 0
    }

    /// Publishes the file, when anything was rejected.
    public func commit() throws { try writer?.commit(); writer = nil }

    /// Drops the file; an earlier file under the name is untouched.
    public func abandon() { writer?.abandon(); writer = nil }

    /// Runs `body`, then publishes the file; abandons it when `body` throws.
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

    /// A line of a rejects file: the one format every stage writes.
    static func entry(stage: String?, file: String, line: Int?, url: String?, fetchedAt: String?, reason: String,
                      raw: String?) -> JSONObject {
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        return JSONObject([("stage", text(stage)), ("file", .string(file)), ("line", line.map { .int(Int64($0)) } ?? .null),
                           ("url", text(url)), ("fetched_at", text(fetchedAt)), ("reason", .string(reason)),
                           ("raw", text(raw))])
    }
}
