import Foundation
import Lake
@testable import Query
import Store
import TestSupport
import Testing

/// The fast paths of a streamed query (records parsed on a thread of their own in batches, gzip
/// read ahead, each file's columns remembered across queries) give the copying loader's answers.
@Suite struct ScanPathTests {
    /// `count` records of mixed shape: nulls, absent keys, an integer column that turns real, a
    /// column holding numbers and text, nested values, repeated keys.
    static func records(_ count: Int, seed: UInt64) -> String {
        var rng = SplitMix(seed)
        var lines: [String] = []
        let categories = ["\"a\"", "\"b\"", "\"c\"", "null", "\"\""]
        for i in 0..<count {
            var fields: [String] = ["\"id\":\(i)"]
            if rng.next() % 10 != 0 { fields.append("\"category\":\(categories[Int(rng.next() % 5)])") }
            switch rng.next() % 6 {
            case 0: fields.append("\"price\":null")
            case 1: break
            case 2: fields.append("\"price\":\(rng.next() % 1000)")
            default: fields.append("\"price\":\(Double(rng.next() % 100_000) / 100)")
            }
            if rng.next() % 4 == 0 { fields.append("\"mixed\":\"x\(rng.next() % 7)\"") } else { fields.append("\"mixed\":\(rng.next() % 7)") }
            if rng.next() % 20 == 0 { fields.append("\"nested\":{\"k\":[1,\(rng.next() % 3)]}") }
            if rng.next() % 50 == 0 { fields.append("\"id\":\(i + 1_000_000)") }  // a repeated key: the last one wins
            lines.append("{" + fields.joined(separator: ",") + "}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let queries = [
        "SELECT category, count(*) AS n, count(price) AS priced, avg(price) AS mean, min(price) AS low, max(price) AS high, sum(id) AS ids FROM t GROUP BY category ORDER BY category",
        "SELECT id, price, mixed, nested FROM t WHERE price >= 999 OR price <= 0 OR price IS NULL ORDER BY id",
        "SELECT * FROM t WHERE id = 0 OR id = 4095 OR id = 4096 OR id = 6999",
        "SELECT mixed, count(*) AS n, typeof(mixed) AS ty FROM t GROUP BY mixed ORDER BY mixed",
        "SELECT count(*) AS n FROM t",
        "SELECT id FROM t LIMIT 5",
        "SELECT id, category FROM t WHERE category = '' ORDER BY id DESC LIMIT 3",
    ]

    static func answer(_ sql: String, files: [LakePath], streamed: Bool, cache: SchemaCache? = nil) throws -> [[SQLValue]] {
        let loader = try SQLiteLoader()
        loader.schemaCache = cache
        let source = SQLTableSource(table: try SQLIdentifier("t"), files: files)
        if streamed { try loader.declare(source) } else { try loader.load(source) }
        var rows: [[SQLValue]] = []
        try loader.query(sql, columns: { _ in }, row: { rows.append($0) })
        return rows
    }

    /// Several batches, over a plain and a gzip file in a row (rowids and batches continue across files).
    @Test func batchedScansOverPlainAndGzipFilesAnswerAsTheCopyingLoader() throws {
        let folder = try TemporaryDirectory()
        try folder.write("d/1.jsonl", Self.records(4097, seed: 1))
        try folder.write("d/2.jsonl.gz", Self.records(2903, seed: 2), gzip: true)
        let lake = Lake(root: folder.path)
        let files = [try lake.resolve("d/1.jsonl"), try lake.resolve("d/2.jsonl.gz")]
        for sql in Self.queries {
            let loaded = try Self.answer(sql, files: files, streamed: false)
            let streamed = try Self.answer(sql, files: files, streamed: true)
            #expect(!loaded.isEmpty, "\(sql)")
            #expect(streamed == loaded, "\(sql)")
        }
    }

    @Test func aMalformedLineAfterSeveralBatchesStopsTheScanWithItsLine() throws {
        let folder = try TemporaryDirectory()
        let good = Self.records(5000, seed: 3)
        let path = try folder.write("m.jsonl", good)
        let file = try Lake(root: folder.path).resolve("m.jsonl")
        let loader = try SQLiteLoader()
        try loader.declare(SQLTableSource(table: try SQLIdentifier("m"), files: [file]))
        // The file changes after its columns were inferred: the scan meets the bad line itself.
        try (good + "{oops\n").write(toFile: path, atomically: true, encoding: .utf8)
        var seen = 0
        do {
            try loader.query("SELECT id FROM m", columns: { _ in }, row: { _ in seen += 1 })
            Issue.record("the scan passed over a malformed line under `fail`")
        } catch {
            #expect("\(error)".contains("line 5001"), "\(error)")
        }
        #expect(seen == 5000)
    }

    @Test func aSecondQueryTakesTheColumnsFromTheCacheWithoutReadingTheFile() throws {
        let folder = try TemporaryDirectory()
        let path = try folder.write("c.jsonl", "{\"a\":1,\"b\":\"x\"}\n{\"a\":2.5,\"c\":null}\n")
        let file = try Lake(root: folder.path).resolve("c.jsonl")
        let cachePath = folder.path + "/.agentshop/query/schemas.json"
        let first = try SQLiteLoader()
        first.schemaCache = SchemaCache(path: cachePath)
        let surveyed = try first.declare(SQLTableSource(table: try SQLIdentifier("c"), files: [file]))
        #expect(surveyed.columns == [SQLColumn(name: "a", type: .real), SQLColumn(name: "b", type: .text), SQLColumn(name: "c", type: .text)])
        #expect(FileManager.default.fileExists(atPath: cachePath))

        // The same bytes count, inode and modification time, other keys: a cache hit shows the
        // remembered columns, which proves the file was not read for them.
        var info = stat()
        #expect(stat(path, &info) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data("{\"z\":1,\"b\":\"x\"}\n".utf8))
        try handle.close()
        var times = [info.st_atim, info.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        let second = try SQLiteLoader()
        second.schemaCache = SchemaCache(path: cachePath)
        let cached = try second.declare(SQLTableSource(table: try SQLIdentifier("c"), files: [file]))
        #expect(cached.columns == surveyed.columns)
        #expect(cached.rows == 2)

        // A new modification time: surveyed again.
        times = [info.st_atim, timespec(tv_sec: info.st_mtim.tv_sec + 10, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        let third = try SQLiteLoader()
        third.schemaCache = SchemaCache(path: cachePath)
        let resurveyed = try third.declare(SQLTableSource(table: try SQLIdentifier("c"), files: [file]))
        #expect(resurveyed.columns.map(\.name) == ["z", "b", "a", "c"])
    }

    /// Columns merged over files from the cache and from surveys: the order and types of one survey over all.
    @Test func cachedAndSurveyedFilesMergeAsOneSurvey() throws {
        let folder = try TemporaryDirectory()
        try folder.write("p/1.jsonl", "{\"a\":1,\"n\":null}\n")
        try folder.write("p/2.csv", "b,a,n\nx,2.5,\n")
        try folder.write("p/3.jsonl.gz", "{\"c\":[1],\"a\":\"t\",\"n\":null}\n", gzip: true)
        let lake = Lake(root: folder.path)
        let files = try ["p/1.jsonl", "p/2.csv", "p/3.jsonl.gz"].map { try lake.resolve($0) }
        let plain = try SQLiteLoader().declare(SQLTableSource(table: try SQLIdentifier("p"), files: files))
        #expect(plain.columns.map(\.name) == ["a", "n", "b", "c"])
        let cachePath = folder.path + "/cache.json"
        // Warm the cache with the middle file only, then ask for all three.
        let warm = try SQLiteLoader()
        warm.schemaCache = SchemaCache(path: cachePath)
        try warm.declare(SQLTableSource(table: try SQLIdentifier("p"), files: [files[1]]))
        let mixed = try SQLiteLoader()
        mixed.schemaCache = SchemaCache(path: cachePath)
        let merged = try mixed.declare(SQLTableSource(table: try SQLIdentifier("p"), files: files))
        #expect(merged.columns == plain.columns)
        #expect(merged.rows == plain.rows)
        // All three from the cache now.
        let again = try SQLiteLoader()
        again.schemaCache = SchemaCache(path: cachePath)
        #expect(try again.declare(SQLTableSource(table: try SQLIdentifier("p"), files: files)).columns == plain.columns)
    }

    @Test func aFileWithRejectsIsNotRemembered() throws {
        let folder = try TemporaryDirectory()
        try folder.write("r.jsonl", "{\"a\":1}\nnot json\n")
        let file = try Lake(root: folder.path).resolve("r.jsonl")
        let cachePath = folder.path + "/cache.json"
        for _ in 0..<2 {
            let loader = try SQLiteLoader()
            loader.schemaCache = SchemaCache(path: cachePath)
            var rejects = 0
            let loaded = try loader.declare(SQLTableSource(table: try SQLIdentifier("r"), files: [file]), policy: .skip) { _ in rejects += 1 }
            #expect(loaded.rejected == 1 && rejects == 1, "each query reports the reject")
        }
    }
}

/// A small deterministic generator (SplitMix64), so that the random records are the same every run.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
