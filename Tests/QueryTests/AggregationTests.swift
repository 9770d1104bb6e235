import Foundation
import Lake
@testable import Query
import Testing
import TestSupport

/// The aggregation engine, checked against values computed by hand from small fixtures.
@Suite struct AggregationTests {
    /// Seven products. Group a: lines 1, 2, 4, 6 (price 10, 20.5, missing, 30; rating 4.0, null,
    /// missing, 2.5). Group b: lines 3, 5 (price 5 and the text "n/a"). Group c and the field
    /// `discount` first appear on the last line.
    static let products = """
    {"category":"a","vendor":"x","price":10,"rating":4.0,"name":"Red shoe","tags":["new"]}
    {"category":"a","vendor":"y","price":20.5,"rating":null,"name":"Blue shoe"}
    {"category":"b","vendor":"x","price":5,"rating":3.0,"name":"Pan"}
    {"category":"a","vendor":"x","name":"Green shoe"}
    {"category":"b","vendor":"z","price":"n/a","rating":5,"name":"Pot"}
    {"category":"a","vendor":"y","price":30,"rating":2.5,"name":"Red boot"}
    {"category":"c","vendor":"x","price":1,"rating":2,"discount":0.5,"name":"Lid"}

    """

    /// What a rejects limit throws, in these tests.
    struct TooManyRejects: Error, CustomStringConvertible { let description: String }

    struct Result {
        let columns: [String]
        let rows: [[JSONValue]]
        let stats: AggregationStats
        let rejects: [RejectedRecord]

        /// The rows as column → value, for readable checks.
        var records: [[String: JSONValue]] {
            rows.map { Dictionary(uniqueKeysWithValues: zip(columns, $0).map { ($0, $1) }) }
        }
    }

    /// Aggregates `files` (name → text, read in name order) as `settings` say.
    static func run(_ settings: AggregationSettings, files: [String: String] = ["p.jsonl": products],
                    policy: MalformedPolicy = .fail, parseThreads: Int = 1, chunkBytes: Int = 1 << 20,
                    maxRejects: Int = .max) throws -> Result {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let plan = try AggregationPlan.parse(settings)
        let aggregation = Aggregation(plan)
        var rejects: [RejectedRecord] = []
        for name in files.keys.sorted() {
            let path = try folder.write(name, files[name]!, gzip: name.hasSuffix(".gz"))
            let reader = try RecordReader(path: path, displayPath: name, policy: policy, inferTypes: true,
                                          parseThreads: parseThreads, parseChunkBytes: chunkBytes) { rejected in
                rejects.append(rejected)
                if rejects.count >= maxRejects { throw TooManyRejects(description: "more than \(maxRejects - 1) rejects") }
            }
            try aggregation.consume(reader)
        }
        let rows = aggregation.finish()
        return Result(columns: plan.columns, rows: rows, stats: aggregation.stats, rejects: rejects)
    }

    // MARK: Measures

    @Test func everyMeasureByCategory() throws {
        let result = try Self.run(AggregationSettings(groupBy: ["category"], measures: [
            ("n", "count()"), ("priced", "count(price)"), ("vendors", "count_distinct(vendor)"), ("total", "sum(price)"),
            ("avg_price", "avg(price)"), ("min_price", "min(price)"), ("max_price", "max(price)"),
            ("median_price", "median(price)"), ("p90_price", "p90(price)"), ("avg_rating", "avg(rating)"),
            ("first_name", "first(name)"), ("last_name", "last(name)"), ("discount", "sum(discount)"),
        ]))
        #expect(result.columns == ["category", "n", "priced", "vendors", "total", "avg_price", "min_price", "max_price",
                                   "median_price", "p90_price", "avg_rating", "first_name", "last_name", "discount",
                                   "price_nulls", "vendor_nulls", "rating_nulls", "name_nulls", "discount_nulls"])
        let a: [JSONValue] = ["a", 4, 3, 2, 60.5, .double(60.5 / 3), 10, 30, 20.5, .double(20.5 + 9.5 * 0.8), 3.25,
                              "Red shoe", "Red boot", nil, 1, 0, 2, 0, 4]
        // "n/a" is not a number: left out of sum/avg/quantiles (and counted), but min/max order strings after numbers.
        let b: [JSONValue] = ["b", 2, 2, 2, 5, 5.0, 5, "n/a", 5.0, 5.0, 4.0, "Pan", "Pot", nil, 0, 0, 0, 0, 2]
        let c: [JSONValue] = ["c", 1, 1, 1, 1, 1.0, 1, 1, 1.0, 1.0, 2.0, "Lid", "Lid", 0.5, 0, 0, 0, 0, 0]
        #expect(result.rows.count == 3)
        #expect(result.rows[0] == a)
        #expect(result.rows[1] == b)
        #expect(result.rows[2] == c)
        #expect(result.stats.recordsIn == 7)
        #expect(result.stats.nonNumeric == 1)
        #expect(result.stats.groups == 3)
        #expect(result.stats.rowsOut == 3)
    }

    @Test func oneGroupWithoutGroupBy() throws {
        let result = try Self.run(AggregationSettings(measures: [
            ("n", "count()"), ("all", "count(*)"), ("avg_price", "avg(price)"), ("max_rating", "max(rating)"),
        ]))
        // Prices 10, 20.5, 5, 30, 1 (one missing, one "n/a"): 66.5 / 5.
        #expect(result.records == [["n": 7, "all": 7, "avg_price": 13.3, "max_rating": 5, "price_nulls": 1, "rating_nulls": 2]])
    }

    @Test func emptyInputGivesOneRowWithoutGroupByAndNoRowsWithIt() throws {
        let whole = try Self.run(AggregationSettings(measures: [("n", "count()"), ("total", "sum(price)"), ("avg_price", "avg(price)")]),
                                 files: ["e.jsonl": ""])
        // Nothing summed is null, never zero; the count of nothing is 0.
        #expect(whole.records == [["n": 0, "total": nil, "avg_price": nil, "price_nulls": 0]])

        let grouped = try Self.run(AggregationSettings(groupBy: ["category"], measures: [("n", "count()")]),
                                   files: ["e.jsonl": "\n\n"])
        #expect(grouped.rows.isEmpty)
        #expect(grouped.stats.recordsIn == 0)
    }

    @Test func manyGroups() throws {
        // 3,000 records, value i in group i % 1000: each group g holds g, g + 1000, g + 2000.
        var text = ""
        for i in 0..<3000 { text += "{\"g\":\(i % 1000),\"v\":\(i)}\n" }
        let result = try Self.run(AggregationSettings(groupBy: ["g"], measures: [
            ("n", "count()"), ("total", "sum(v)"), ("lowest", "min(v)"), ("mid", "median(v)"),
        ], nullCounts: false), files: ["m.jsonl": text])
        #expect(result.rows.count == 1000)
        for (g, row) in result.rows.enumerated() {
            let g = Int64(g)
            #expect(row == [.int(g), 3, .int(3 * g + 3000), .int(g), .double(Double(g + 1000))])
        }
    }

    @Test func groupByTwoFieldsAndANestedField() throws {
        let text = """
        {"c":"a","v":"x","s":{"label":"pos"}}
        {"c":"a","v":"x","s":{"label":"neg"}}
        {"c":"a","v":"y","s":{}}
        {"c":"b","v":"x"}
        {"c":"a","v":"x","s":{"label":"pos"}}

        """
        let result = try Self.run(AggregationSettings(groupBy: ["c", "v"], measures: [("n", "count()"), ("labels", "count_distinct(s.label)")]),
                                  files: ["n.jsonl": text])
        #expect(result.columns == ["c", "v", "n", "labels", "s.label_nulls"])
        #expect(result.rows == [["a", "x", 3, 2, 0], ["a", "y", 1, 0, 1], ["b", "x", 1, 0, 1]])
    }

    @Test func mixedTypesInGroupKeysAndNumbers() throws {
        let text = """
        {"k":1,"v":1}
        {"k":"1","v":2.5}
        {"k":null,"v":true}
        {"v":-4}
        {"k":1,"v":9007199254740993}

        """
        let result = try Self.run(AggregationSettings(groupBy: ["k"], measures: [("n", "count()"), ("total", "sum(v)")]),
                                  files: ["t.jsonl": text])
        // Numbers before strings; missing and null keys are one null group, last. Integer sums stay exact.
        #expect(result.rows == [[1, 2, .int(9007199254740994), 0], ["1", 1, 2.5, 0], [nil, 2, -4, 0]])
        #expect(result.stats.nonNumeric == 1)  // true is not a number
    }

    // MARK: Percentiles

    @Test(arguments: [
        ("p0(v)", 1.0), ("p50(v)", 5.5), ("median(v)", 5.5), ("p90(v)", 9.1), ("p100(v)", 10.0),
        ("percentile(v, 0.25)", 3.25), ("p99(v)", 9.91),
    ])
    func percentiles(measure: String, expected: Double) throws {
        // 1…10 in a scrambled order: linear interpolation between closest ranks, as DuckDB's quantile_cont.
        let text = [7, 3, 10, 1, 5, 9, 2, 8, 4, 6].map { "{\"v\":\($0)}\n" }.joined()
        let result = try Self.run(AggregationSettings(measures: [("q", measure)]), files: ["q.jsonl": text])
        let value = try #require(result.rows.first?.first?.doubleValue)
        #expect(abs(value - expected) < 1e-12, "\(measure) = \(value), expected \(expected)")
    }

    /// Exact quantiles by selection give exactly what sorting every value gives, with repeated
    /// values, sorted and reversed input, and several quantiles asked of one list in turn.
    @Test func exactQuantilesBySelectionEqualThoseBySorting() {
        var rng = SystemRandomNumberGenerator()
        for n in [1, 2, 3, 5, 17, 100, 1000, 4097] {
            for shape in ["random", "few distinct", "sorted", "reversed", "all equal"] {
                var values: [Double] = (0..<n).map { _ in Double(Int.random(in: 0..<100_000, using: &rng)) / 100 }
                switch shape {
                case "few distinct": values = values.map { ($0 * 3).rounded(.down).truncatingRemainder(dividingBy: 4) }
                case "sorted": values.sort()
                case "reversed": values.sort(by: >)
                case "all equal": values = Array(repeating: 2.5, count: n)
                default: break
                }
                let sorted = values.sorted()
                let list = ValueList()
                for v in values { list.add(v) }
                for q in [0.9, 0.0, 0.5, 1.0, 0.25, 0.999, 0.1] {
                    let position = q * Double(n - 1)
                    let lower = Int(position.rounded(.down)), upper = min(lower + 1, n - 1)
                    let fraction = position - Double(lower)
                    var expected: Double = sorted[lower]
                    if fraction != 0 && lower != upper { expected += (sorted[upper] - sorted[lower]) * fraction }
                    let got = list.quantile(q)
                    #expect(got == expected, "n=\(n) \(shape) q=\(q): \(got ?? .nan) vs \(expected)")
                }
            }
        }
        #expect(ValueList().quantile(0.5) == nil)
    }

    @Test(arguments: [0.0, 0.1, 0.5, 0.9, 0.99, 1.0])
    func sketchQuantilesStayWithinTheirRelativeError(q: Double) throws {
        // 1…10,000 in a scrambled order; the sketch answers the value of rank ⌊q·(n−1)⌋ within 0.5%.
        let values = (0..<10_000).map { ($0 * 7_919) % 10_000 + 1 }
        let text = values.map { "{\"v\":\($0)}\n" }.joined()
        let result = try Self.run(AggregationSettings(measures: [("q", "percentile(v, \(q))")], quantiles: .sketch),
                                  files: ["s.jsonl": text])
        let estimate = try #require(result.rows.first?.first?.doubleValue)
        let exact = (q * 9_999).rounded(.down) + 1
        #expect(abs(estimate - exact) / exact <= QuantileSketch.relativeAccuracy + 1e-12, "q=\(q): \(estimate) vs \(exact)")
    }

    @Test func sketchHandlesNegativesAndZerosAndStaysSmall() {
        let sketch = QuantileSketch()
        for v in [-100.0, -10, 0, 0, 10, 100] { sketch.add(v) }
        #expect(sketch.quantile(0.5) == 0)
        #expect(abs(sketch.quantile(0)! + 100) <= 100 * QuantileSketch.relativeAccuracy)
        #expect(abs(sketch.quantile(0.2)! + 10) <= 10 * QuantileSketch.relativeAccuracy)
        #expect(abs(sketch.quantile(1)! - 100) <= 100 * QuantileSketch.relativeAccuracy)
        #expect(QuantileSketch().quantile(0.5) == nil)

        // A million values from 0.01 to 1,000,000: memory is the range's buckets, not the count.
        let big = QuantileSketch()
        var x = 0.01
        for _ in 0..<1_000_000 { big.add(x); x = x * 1.000_018_4 }
        #expect(big.count == 1_000_000)
        #expect(big.bucketCount < 2_000, "\(big.bucketCount)")
    }

    // MARK: where, having, order_by, limit

    @Test(arguments: [
        ("price > 9", 3),
        ("price >= 10 and category = 'a'", 3),
        ("category in ('b', 'c')", 3),
        ("category not in ('b', 'c')", 4),
        ("rating is null", 2),
        ("rating is not null", 5),
        ("name contains 'shoe'", 3),
        ("tags contains 'new'", 1),
        ("not (price > 9)", 2),          // missing price and "n/a" are unknown, so neither passes
        ("price > 9 or vendor = 'z'", 4),
        ("price != 10", 5),              // "n/a" differs from 10; a missing price is unknown
        ("price = 20.5", 1),
        ("`category` = \"a\" AND NOT vendor = 'y'", 2),
        ("discount is not null", 1),
        ("price < 'x'", 1),              // only "n/a" < "x": ordering a number against a string is unknown
    ])
    func whereFilters(expression: String, expected: Int) throws {
        let result = try Self.run(AggregationSettings(measures: [("n", "count()")], filter: expression))
        #expect(result.rows == [[.int(Int64(expected))]], "where \(expression)")
        #expect(result.stats.filteredOut == 7 - expected)
    }

    @Test(arguments: [
        ("n >= 2", ["n desc"], nil, ["a", "b"]) as (String?, [String], Int?, [String]),
        (nil, ["category desc"], nil, ["c", "b", "a"]),
        (nil, ["n desc"], 1, ["a"]),
        (nil, ["avg_rating"], nil, ["c", "a", "b"]),
        ("avg_rating > 3 and n < 4", [], nil, ["b"]),
        (nil, [], 0, []),
        (nil, ["total desc"], nil, ["a", "b", "c"]),
    ])
    func havingOrderAndLimit(having: String?, orderBy: [String], limit: Int?, expected: [String]) throws {
        let result = try Self.run(AggregationSettings(groupBy: ["category"], measures: [
            ("n", "count()"), ("total", "sum(price)"), ("avg_rating", "avg(rating)"),
        ], having: having, orderBy: orderBy, limit: limit))
        #expect(result.rows.map { $0[0] } == expected.map(JSONValue.string))
    }

    @Test func ordersNullsLastInBothDirections() throws {
        let text = "{\"k\":\"a\",\"v\":2}\n{\"k\":\"b\"}\n{\"k\":\"c\",\"v\":1}\n"
        for direction in ["asc", "desc"] {
            let result = try Self.run(AggregationSettings(groupBy: ["k"], measures: [("s", "sum(v)")], orderBy: ["s \(direction)"]),
                                      files: ["o.jsonl": text])
            #expect(result.rows.map { $0[0] } == (direction == "asc" ? ["c", "a", "b"] : ["a", "c", "b"]))
        }
    }

    // MARK: Malformed input

    static let malformed = """
    {"category":"a","price":1}
    {"category":"a","price":2}
    {"category":"a","price":
    {"category":"b","price":3}
    [1, 2]
    {"category":"b","price":4}

    """

    @Test func malformedLinesAreRejectedWithTheirLineNumbers() throws {
        let result = try Self.run(AggregationSettings(groupBy: ["category"], measures: [("n", "count()"), ("total", "sum(price)")]),
                                  files: ["bad.jsonl": Self.malformed], policy: .skip)
        #expect(result.rejects.map(\.line) == [3, 5])
        #expect(result.rejects.map(\.file) == ["bad.jsonl", "bad.jsonl"])
        #expect(result.rejects[0].reason.hasPrefix("invalid JSON"))
        #expect(result.rejects[1].reason == "expected a JSON object")
        #expect(result.rejects[0].raw == "{\"category\":\"a\",\"price\":")
        #expect(result.rows == [["a", 2, 3, 0], ["b", 2, 7, 0]])
        #expect(result.stats.rejected == 2)
        #expect(result.stats.recordsIn == 4)
    }

    @Test func malformedLineFailsTheStageByDefault() throws {
        let error = #expect(throws: LakeError.self) {
            try Self.run(AggregationSettings(measures: [("n", "count()")]), files: ["bad.jsonl": Self.malformed])
        }
        #expect(error?.description.hasPrefix("bad.jsonl: line 3: invalid JSON") == true, "\(String(describing: error))")
    }

    // MARK: Parse threads

    /// Several files (plain and gzip, CSV among them) of pseudo-random records with rejects, nulls,
    /// text among numbers and decimals whose float sums depend on the order of addition.
    static let spread: [String: String] = {
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: UInt64) -> UInt64 {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
            return seed % n
        }
        var files: [String: String] = [:]
        for (f, name) in ["a.jsonl", "b.jsonl.gz", "c.ndjson", "d.jsonl.gz"].enumerated() {
            var text = ""
            for i in 0..<(4_000 + f * 1_500) {
                let cents = next(100_000)
                let price = next(50) == 0 ? "null" : next(97) == 0 ? "\"n/a\"" : "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
                let rating = next(20) == 0 ? "" : ",\"rating\":\(1 + next(40)) "
                switch next(400) {
                case 0: text += "{\"category\":\"broken\n"
                case 1: text += "[\(i)]\n"
                case 2: text += "\n"
                default:
                    text += "{\"category\":\"c\(next(7))\",\"vendor\":\"v\(next(60))\",\"price\":\(price)\(rating),\"name\":\"p\(f)-\(i)\"}\n"
                }
            }
            files[name] = text
        }
        files["e.csv"] = "category,vendor,price,rating,name\nc1,v2,3.5,4,x\nc1,v3,,2,y\nc9,v1,1e2,,z\n"
        return files
    }()

    static let spreadSettings = AggregationSettings(groupBy: ["category", "vendor"], measures: [
        ("n", "count()"), ("priced", "count(price)"), ("total", "sum(price)"), ("avg_price", "avg(price)"),
        ("min_price", "min(price)"), ("max_price", "max(price)"), ("median", "median(price)"), ("p90", "p90(price)"),
        ("avg_rating", "avg(rating)"), ("first_name", "first(name)"), ("last_name", "last(name)"),
        ("names", "count_distinct(name)"),
    ], filter: "name != 'p1-7'")

    static func serialized(_ result: Result) -> [String] {
        result.rows.map { row in row.map { $0.serialized() }.joined(separator: ",") }
            + result.rejects.map { "\($0.file):\($0.line): \($0.reason) [\($0.raw)]" }
            + ["in \(result.stats.recordsIn) rejected \(result.stats.rejected) filtered \(result.stats.filteredOut) "
               + "groups \(result.stats.groups) non-numeric \(result.stats.nonNumeric) first \(result.stats.firstNonNumeric ?? "-")"]
    }

    @Test(arguments: [2, 3, 8])
    func parseThreadsGiveTheSameBytesAsOne(threads: Int) throws {
        let one = try Self.run(Self.spreadSettings, files: Self.spread, policy: .skip)
        #expect(one.rows.count > 300)
        #expect(one.stats.rejected > 20 && one.stats.nonNumeric > 20)
        for chunk in [997, 1 << 20] {
            let many = try Self.run(Self.spreadSettings, files: Self.spread, policy: .skip, parseThreads: threads, chunkBytes: chunk)
            #expect(Self.serialized(many) == Self.serialized(one), "\(threads) threads, \(chunk)-byte chunks")
        }
    }

    @Test func parseThreadsFailAndStopAtTheSameRejectAsOne() throws {
        for (policy, maxRejects) in [(MalformedPolicy.fail, Int.max), (.skip, 7)] {
            func outcome(_ threads: Int) -> String {
                do {
                    return Self.serialized(try Self.run(Self.spreadSettings, files: Self.spread, policy: policy,
                                                        parseThreads: threads, chunkBytes: 1500, maxRejects: maxRejects))
                        .joined(separator: "\n")
                } catch {
                    return "\(error)"
                }
            }
            let one = outcome(1)
            #expect(one.contains(policy == .fail ? "line " : "more than 6 rejects"), "\(one)")
            #expect(outcome(2) == one)
            #expect(outcome(3) == one)
        }
    }

    @Test func csvInputWithEmptyCellsAsNullsAndARowOfTheWrongWidth() throws {
        let csv = "category,price,rating\na,10,4\na,,3\nb,2.5\nb,7,\n"
        let result = try Self.run(AggregationSettings(groupBy: ["category"], measures: [
            ("n", "count()"), ("avg_price", "avg(price)"), ("avg_rating", "avg(rating)"),
        ]), files: ["p.csv": csv], policy: .skip)
        #expect(result.rejects.map(\.line) == [4])
        #expect(result.rows == [["a", 2, 10.0, 3.5, 1, 0], ["b", 1, 7.0, nil, 0, 1]])
    }
}
