import Foundation
import Lake
import Pipeline

/// `aggregate`: group records and compute measures per group, in one streaming pass.
///
/// ```yaml
/// by_category:
///   aggregate:
///     from: enriched
///     group_by: [category]
///     where: "price > 0 and currency = 'USD'"
///     measures: { n: count(), avg_price: avg(price), p90_price: p90(price), avg_rating: avg(rating) }
///     having: "n >= 10"
///     order_by: [n desc]
///     limit: 100
///   out: processed_data/aggregations/by_category/dt={run_date}/part.csv
/// ```
///
/// Memory grows with the number of groups, not of records, except for `median`/`pNN`, which keep
/// each group's values (8 bytes per non-null value, shared by every quantile of one field), and
/// `count_distinct`, which keeps each group's distinct values.
public enum AggregateStage {
    public static let kind = StageKind(spec: spec) { config, context in
        guard config.expectMapping() else { return nil }
        let inputs = context.inputs(config.value("from", required: true))
        let policy = config.choice("on_error", MalformedPolicy.allCases.map(\.rawValue)).flatMap(MalformedPolicy.init) ?? .fail
        let inferTypes = config.bool("infer_types") ?? true
        let nullCounts = config.bool("null_counts") ?? true
        let quantiles = config.choice("quantiles", QuantileMethod.allCases.map(\.rawValue)).flatMap(QuantileMethod.init) ?? .exact
        var ok = inputs != nil

        // group_by: fields (dotted paths reach into nested objects).
        var groupBy: [FieldPath] = []
        if let value = config.value("group_by") {
            let items = value.isSequence ? value.asList() ?? [] : [value]
            for item in items {
                guard let text = item.asString() else { ok = false; continue }
                do throws(ExpressionError) {
                    var parser = ExpressionParser(text)
                    try parser.checkLexed()
                    let path = try parser.parseFieldPath()
                    guard parser.currentToken.kind == .end else {
                        throw ExpressionError("expected one field name, found \(parser.describeCurrent)", offset: parser.currentToken.offset)
                    }
                    if groupBy.contains(path) {
                        item.error("'\(path)' is grouped by twice")
                        ok = false
                    } else {
                        groupBy.append(path)
                    }
                } catch {
                    item.error(error.message, atOffset: error.offset)
                    ok = false
                }
            }
        }

        // measures: name -> call.
        var measures: [Measure] = []
        if let value = config.value("measures", required: true), let entries = value.entries() {
            if entries.isEmpty { value.error("give at least one measure, e.g. { n: count() }"); ok = false }
            for (name, item) in entries {
                guard let text = item.asString() else { ok = false; continue }
                do throws(ExpressionError) {
                    measures.append(try Measure.parse(name: name, text))
                } catch {
                    item.error(error.message, atOffset: error.offset)
                    ok = false
                }
            }
        } else {
            ok = false
        }

        // Output columns: group fields, measures, then one null count per measured field.
        let measuredFields = Self.unique(measures.compactMap(\.field))
        var columns = groupBy.map(\.description) + measures.map(\.name)
        if nullCounts { columns += measuredFields.map { "\($0)_nulls" } }
        var seen = Set<String>()
        for column in columns where !seen.insert(column).inserted {
            config.value("measures")?.error("two output columns are named '\(column)'; rename the measure")
            ok = false
        }

        var filter: FilterExpression?
        if let value = config.value("where"), let text = value.asString() {
            do throws(ExpressionError) { filter = try FilterExpression.parse(text) } catch {
                value.error(error.message, atOffset: error.offset)
                ok = false
            }
        }

        var having: FilterExpression?
        var havingColumns: [Int] = []
        if let value = config.value("having"), let text = value.asString() {
            do throws(ExpressionError) {
                var offsets: [Int] = []
                let parsed = try FilterExpression.parse(text, fieldOffsets: &offsets)
                for (k, field) in parsed.fields.enumerated() {
                    guard let index = columns.firstIndex(of: field.description) else {
                        let offset = offsets[k]
                        throw ExpressionError("'having' compares output columns; '\(field)' is not one (columns: \(columns.joined(separator: ", ")))",
                                              offset: offset)
                    }
                    havingColumns.append(index)
                }
                having = parsed
            } catch {
                value.error(error.message, atOffset: error.offset)
                ok = false
            }
        }

        var order: [(column: Int, descending: Bool)] = []
        if let value = config.value("order_by") {
            let items = value.isSequence ? value.asList() ?? [] : [value]
            for item in items {
                guard let text = item.asString() else { ok = false; continue }
                do throws(ExpressionError) {
                    let parsed = try OrderItem.parse(text)
                    guard let index = columns.firstIndex(of: parsed.column.description) else {
                        throw ExpressionError("no output column '\(parsed.column)' to order by (columns: \(columns.joined(separator: ", ")))",
                                              offset: parsed.columnOffset)
                    }
                    order.append((index, parsed.descending))
                } catch {
                    item.error(error.message, atOffset: error.offset)
                    ok = false
                }
            }
        }
        let limit = config.int("limit", min: 0)
        if config.value("limit") != nil && limit == nil { ok = false }
        guard ok, let inputs else { return nil }
        return Definition(inputs: inputs, plan: AggregationPlan(
            groupBy: groupBy, measures: measures, filter: filter, having: having, havingColumns: havingColumns,
            order: order.map { AggregationPlan.OrderKey(column: $0.column, descending: $0.descending) },
            limit: limit, nullCounts: nullCounts, quantiles: quantiles),
            policy: policy, inferTypes: inferTypes)
    }

    static func unique(_ fields: [FieldPath]) -> [FieldPath] {
        var out: [FieldPath] = []
        for field in fields where !out.contains(field) { out.append(field) }
        return out
    }

    struct Definition: StageDefinition {
        let inputs: [StageInput]
        let plan: AggregationPlan
        let policy: MalformedPolicy
        let inferTypes: Bool

        func run(_ context: StageContext) async throws -> StageReport {
            let (output, outputType) = try context.singleRecordOutput(kind: "aggregate")
            let files = context.allInputFiles
            let rejects = RejectsFile(path: context.rejectsPath, stage: context.stage)
            let aggregation = Aggregation(plan)
            do {
                for (index, file) in files.enumerated() {
                    guard let type = RecordFileType(path: file.relative) else {
                        throw StageError("cannot tell the format of \(file.relative): name it .csv, .jsonl or .ndjson (optionally .gz)")
                    }
                    let reader = try RecordReader(path: file.absolute, displayPath: file.relative, type: type, policy: policy,
                                                  inferTypes: inferTypes, onReject: rejects.add)
                    try aggregation.consume(reader)
                    context.progress(index + 1, of: files.count)
                }
                let rows = aggregation.finish()
                let writer = try context.recordWriter(path: output.absolute, type: outputType, columns: plan.columns)
                do {
                    for row in rows {
                        try writer.write(JSONObject(zip(plan.columns, row).map { ($0, $1) }))
                    }
                    try rejects.commit()
                    try writer.commit()
                } catch {
                    writer.abandon()
                    throw error
                }
            } catch {
                rejects.abandon()
                throw error
            }
            let stats = aggregation.stats
            if stats.rejected > 0 {
                context.logger.warning("records rejected", metadata: ["count": "\(stats.rejected)", "rejects": "\(context.rejectsPath.relative)"])
            }
            if let example = stats.firstNonNumeric {
                context.logger.warning("non-numeric values left out of numeric measures",
                                       metadata: ["count": "\(stats.nonNumeric)", "first": "\(example)"])
            }
            return StageReport(counts: ["files_in": files.count, "records_in": stats.recordsIn + stats.rejected,
                                        "rejected": stats.rejected, "filtered_out": stats.filteredOut,
                                        "groups": stats.groups, "records_out": stats.rowsOut,
                                        "non_numeric": stats.nonNumeric],
                               recordsPerOutput: [output.relative: stats.rowsOut])
        }
    }
}

// MARK: - Measures

/// One output column computed per group: `name: function(field)`.
struct Measure: Sendable, Equatable {
    enum Function: Sendable, Equatable {
        /// `count()`: records in the group.
        case count
        /// `count(f)`: records where `f` is not null.
        case countValues
        case countDistinct
        case sum, avg, min, max
        /// `median(f)`, `pNN(f)`, `percentile(f, q)`: exact, interpolated linearly between the two
        /// nearest values (as DuckDB's `quantile_cont` and pandas' `quantile` do).
        case quantile(Double)
        /// The first / last non-null value, in input order.
        case first, last
    }

    let name: String
    let function: Function
    let field: FieldPath?

    static let functionNames = ["count", "count_distinct", "sum", "avg", "mean", "min", "max", "median",
                                "pNN (p90, p99…)", "percentile", "first", "last"]

    static func parse(name: String, _ text: String) throws(ExpressionError) -> Measure {
        let call = try FunctionCall.parse(text)
        let lower = call.name.lowercased()
        func fieldArgument() throws(ExpressionError) -> FieldPath {
            guard let first = call.arguments.first else {
                throw ExpressionError("\(lower)() needs a field, as in \(lower)(price)", offset: call.closeOffset)
            }
            guard case .field(let path) = first.argument else {
                throw ExpressionError("\(lower)() takes a field name", offset: first.offset)
            }
            return path
        }
        func expectArguments(_ n: Int) throws(ExpressionError) {
            if call.arguments.count > n {
                throw ExpressionError("\(lower)() takes \(n == 1 ? "one field" : "\(n) arguments")", offset: call.arguments[n].offset)
            }
        }
        switch lower {
        case "count":
            if call.arguments.isEmpty || (call.arguments.count == 1 && call.arguments[0].argument == .star) {
                return Measure(name: name, function: .count, field: nil)
            }
            try expectArguments(1)
            return Measure(name: name, function: .countValues, field: try fieldArgument())
        case "count_distinct":
            try expectArguments(1)
            return Measure(name: name, function: .countDistinct, field: try fieldArgument())
        case "sum", "avg", "mean", "min", "max", "median", "first", "last":
            try expectArguments(1)
            let field = try fieldArgument()
            let function: Function = switch lower {
            case "sum": .sum
            case "avg", "mean": .avg
            case "min": .min
            case "max": .max
            case "median": .quantile(0.5)
            case "first": .first
            default: .last
            }
            return Measure(name: name, function: function, field: field)
        case "percentile", "quantile":
            try expectArguments(2)
            let field = try fieldArgument()
            guard call.arguments.count == 2, case .value(let v) = call.arguments[1].argument, let q = v.doubleValue else {
                throw ExpressionError("\(lower)() takes a field and a fraction, as in \(lower)(price, 0.95)",
                                      offset: call.arguments.count == 2 ? call.arguments[1].offset : call.closeOffset)
            }
            guard q >= 0 && q <= 1 else {
                throw ExpressionError("the fraction must be between 0 and 1, found \(q)", offset: call.arguments[1].offset)
            }
            return Measure(name: name, function: .quantile(q), field: field)
        default:
            if lower.hasPrefix("p"), let n = Int(lower.dropFirst()), lower.count <= 4, lower.dropFirst().allSatisfy(\.isNumber) {
                guard n <= 100 else { throw ExpressionError("percentiles go from p0 to p100, found \(call.name)", offset: call.nameOffset) }
                try expectArguments(1)
                return Measure(name: name, function: .quantile(Double(n) / 100), field: try fieldArgument())
            }
            throw ExpressionError("unknown function '\(call.name)'; known: \(functionNames.joined(separator: ", "))",
                                  offset: call.nameOffset)
        }
    }
}

// MARK: - The aggregation

/// What to compute: the stage's configuration, checked.
struct AggregationPlan: Sendable {
    struct OrderKey: Sendable { let column: Int; let descending: Bool }

    let groupBy: [FieldPath]
    let measures: [Measure]
    let filter: FilterExpression?
    let having: FilterExpression?
    /// For each field of `having`, its output column.
    let havingColumns: [Int]
    let order: [OrderKey]
    let limit: Int?
    let nullCounts: Bool
    var quantiles: QuantileMethod = .exact

    /// Fields measured (not counting `count()`), each once: one null count column each.
    var measuredFields: [FieldPath] { AggregateStage.unique(measures.compactMap(\.field)) }

    var columns: [String] {
        groupBy.map(\.description) + measures.map(\.name) + (nullCounts ? measuredFields.map { "\($0)_nulls" } : [])
    }
}

/// Counts for the stage report.
struct AggregationStats {
    var recordsIn = 0
    var rejected = 0
    var filteredOut = 0
    var groups = 0
    var rowsOut = 0
    var nonNumeric = 0
    var firstNonNumeric: String?
}

/// Groups records in one pass and computes each group's measures.
final class Aggregation {
    let plan: AggregationPlan
    private(set) var stats = AggregationStats()

    /// Every field read (group keys, measured fields, filter fields), each once.
    private let fields: [FieldPath]
    private let projection: FieldProjection
    /// For each field, its slot in the projection.
    private let fieldSlots: [Int]
    private let groupFieldIndex: [Int]
    private let measuredFieldIndex: [Int]
    /// For each measure, the index of its field in `measuredFields` (-1 for `count()`).
    private let measureFieldIndex: [Int]
    private let filterFieldIndex: [Int]
    private let filter: FilterExpression?
    private let quantileFields: [Int]
    /// For each measured field, whether a measure of it needs numbers (sum, avg, quantiles).
    private let numericField: [Bool]

    private var groups: [[JSONValue]: GroupState] = [:]
    /// Groups by one field: keyed by the value itself, which hashes faster than a one-element array.
    private var singleKeyGroups: [JSONValue: GroupState] = [:]
    private var top: [JSONValue] = []
    private var key: [JSONValue]

    init(_ plan: AggregationPlan) {
        self.plan = plan
        let measured = plan.measuredFields
        var fields = plan.groupBy
        for field in measured + (plan.filter?.fields ?? []) where !fields.contains(field) { fields.append(field) }
        self.fields = fields
        let projection = FieldProjection(keys: fields.map(\.topLevelKey))
        self.projection = projection
        fieldSlots = fields.map { projection.slot(of: $0.topLevelKey) }
        groupFieldIndex = plan.groupBy.map { fields.firstIndex(of: $0)! }
        measuredFieldIndex = measured.map { fields.firstIndex(of: $0)! }
        let measureFieldIndex = plan.measures.map { m in m.field.map { measured.firstIndex(of: $0)! } ?? -1 }
        self.measureFieldIndex = measureFieldIndex
        filter = plan.filter
        filterFieldIndex = (plan.filter?.fields ?? []).map { fields.firstIndex(of: $0)! }
        quantileFields = Array(Set(plan.measures.enumerated().compactMap { i, m -> Int? in
            if case .quantile = m.function { return measureFieldIndex[i] }
            return nil
        })).sorted()
        var numeric = Array(repeating: false, count: measured.count)
        for (i, m) in plan.measures.enumerated() {
            switch m.function {
            case .sum, .avg, .quantile: numeric[measureFieldIndex[i]] = true
            default: break
            }
        }
        numericField = numeric
        key = Array(repeating: .null, count: plan.groupBy.count)
    }

    /// Reads every record of `reader` into the groups.
    func consume(_ reader: RecordReader) throws {
        // The loop runs once per record: everything it touches is a local, so that the optimiser
        // sees no class property access (exclusivity checks) and no shared array (copy checks).
        let fields = self.fields, fieldSlots = self.fieldSlots, groupFieldIndex = self.groupFieldIndex
        let measuredFieldIndex = self.measuredFieldIndex, measureFieldIndex = self.measureFieldIndex
        let numericField = self.numericField, filterFieldIndex = self.filterFieldIndex, filter = self.filter
        let measureKinds = plan.measures.map { GroupState.Kind($0.function) }
        let projection = self.projection
        let nested = fields.map { $0.parts.count > 1 }
        let singleKey = groupFieldIndex.count == 1 ? groupFieldIndex[0] : -1
        var top = self.top, key = self.key
        let values = UnsafeMutableBufferPointer<JSONValue>.allocate(capacity: fields.count)
        values.initialize(repeating: .null)
        var groups = self.groups, singleKeyGroups = self.singleKeyGroups
        self.groups = [:]
        self.singleKeyGroups = [:]
        var filteredOut = 0
        defer {
            _ = values.deinitialize()
            values.deallocate()
            self.groups = groups
            self.singleKeyGroups = singleKeyGroups
            self.top = top
            stats.filteredOut += filteredOut
            stats.recordsIn += reader.recordCount
            stats.rejected += reader.rejectedCount
        }
        while try reader.next(projecting: projection, into: &top) {
            for i in fields.indices {
                values[i] = nested[i] ? fields[i].descend(from: top[fieldSlots[i]]) : top[fieldSlots[i]]
            }
            if let filter, filter.evaluate({ values[filterFieldIndex[$0]] }) != true {
                filteredOut += 1
                continue
            }
            let group: GroupState
            if singleKey >= 0 {
                let k = values[singleKey]
                if let found = singleKeyGroups[k] {
                    group = found
                } else {
                    group = makeGroup([k])
                    singleKeyGroups[k] = group
                }
            } else {
                for i in key.indices { key[i] = values[groupFieldIndex[i]] }
                if let found = groups[key] {
                    group = found
                } else {
                    group = makeGroup(key)
                    groups[key] = group
                }
            }
            group.rows += 1
            for f in measuredFieldIndex.indices {
                let value = values[measuredFieldIndex[f]]
                if value.isNull { group.nulls[f] += 1; continue }
                guard numericField[f] else { continue }
                if let d = value.doubleValue {
                    group.quantileValues[f]?.add(d)
                } else {
                    noteNonNumeric(value, reader)
                }
            }
            for m in measureKinds.indices {
                let kind = measureKinds[m]
                if kind == .none { continue }
                let value = values[measuredFieldIndex[measureFieldIndex[m]]]
                if value.isNull { continue }
                if kind == .sum { _ = group.sums[m].add(value) } else { _ = group.accumulators[m]!.add(value) }
            }
            if reader.recordCount & 0x3FFF == 0 { try Task.checkCancellation() }
        }
    }

    private func makeGroup(_ key: [JSONValue]) -> GroupState {
        GroupState(key: key, plan: plan, measureFieldIndex: measureFieldIndex,
                   measuredFieldCount: measuredFieldIndex.count, quantileFields: quantileFields)
    }

    private func noteNonNumeric(_ value: JSONValue, _ reader: RecordReader) {
        stats.nonNumeric += 1
        if stats.firstNonNumeric == nil { stats.firstNonNumeric = "\(reader.displayPath): line \(reader.line): \(value.serialized())" }
    }

    /// The output rows: one per group (one in all when there is no `group_by`), filtered by
    /// `having`, ordered and limited.
    func finish() -> [[JSONValue]] {
        for (k, group) in singleKeyGroups { groups[[k]] = group }
        singleKeyGroups = [:]
        if groups.isEmpty && plan.groupBy.isEmpty { groups[[]] = makeGroup([]) }
        stats.groups = groups.count
        // Default order: by the group key, so that output is the same whatever the input order.
        let ordered = groups.values.sorted { a, b in
            for (x, y) in zip(a.key, b.key) {
                let c = ValueOrder.compareTotal(x, y)
                if c != 0 { return c < 0 }
            }
            return false
        }
        var rows: [[JSONValue]] = []
        for group in ordered {
            var row = group.key
            for m in plan.measures.indices { row.append(group.result(m, plan.measures[m].function)) }
            if plan.nullCounts { for n in group.nulls { row.append(.int(Int64(n))) } }
            if let having = plan.having, having.evaluate({ row[plan.havingColumns[$0]] }) != true { continue }
            rows.append(row)
        }
        if !plan.order.isEmpty {
            // Stable over the key order, so ties stay deterministic.
            rows = rows.enumerated().sorted { a, b in
                for key in plan.order {
                    let c = Self.compareForOrder(a.element[key.column], b.element[key.column], descending: key.descending)
                    if c != 0 { return c < 0 }
                }
                return a.offset < b.offset
            }.map(\.element)
        }
        if let limit = plan.limit, rows.count > limit { rows.removeLast(rows.count - limit) }
        stats.rowsOut = rows.count
        return rows
    }

    /// Nulls sort last in both directions.
    static func compareForOrder(_ a: JSONValue, _ b: JSONValue, descending: Bool) -> Int {
        switch (a.isNull, b.isNull) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        default:
            let c = ValueOrder.compareTotal(a, b)
            return descending ? -c : c
        }
    }
}

/// How quantiles (`median`, `pNN`, `percentile`) are computed.
enum QuantileMethod: String, Sendable, CaseIterable {
    /// Every value kept (8 bytes each), sorted at the end, interpolated linearly.
    case exact
    /// A DDSketch: memory bounded by the value range, not the count; relative error ≤ `QuantileSketch.relativeAccuracy`.
    case sketch
}

/// Where one group keeps the numbers of one field for its quantiles.
class QuantileStore {
    func add(_ value: Double) {}
    /// The q-quantile; nil when there are no values.
    func quantile(_ q: Double) -> Double? { nil }
}

/// The values of one field in one group, for exact quantiles.
final class ValueList: QuantileStore {
    var values: [Double] = []
    private var sorted = false

    override func add(_ value: Double) { values.append(value) }

    /// Interpolated linearly between the two nearest ranks, as DuckDB's `quantile_cont` and pandas do.
    override func quantile(_ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        if !sorted { values.sort(); sorted = true }
        let position = q * Double(values.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, values.count - 1)
        let fraction = position - Double(lower)
        if fraction == 0 || lower == upper { return values[lower] }
        return values[lower] + (values[upper] - values[lower]) * fraction
    }
}

/// A DDSketch (Masson, Rim, Lee, VLDB 2019): values fall in logarithmic buckets whose bounds
/// grow by γ = (1 + α) / (1 − α), so any value read back is within α of the value of that rank,
/// relatively. Memory is one counter per bucket between the smallest and largest magnitude
/// (about 1,850 for values from 0.01 to 1,000,000 at α = 0.5%), whatever the number of values.
final class QuantileSketch: QuantileStore {
    static let relativeAccuracy = 0.005
    private static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    private static let logGamma = Foundation.log(gamma)
    /// Magnitudes below this count as zero (the sketch cannot index them).
    private static let smallest = 1e-300

    private var positive = Buckets()
    private var negative = Buckets()
    private var zeros = 0
    private(set) var count = 0

    /// Dense counters from `offset` on, grown at either end as values arrive.
    struct Buckets {
        var offset = 0
        var counts: [Int] = []
        var total = 0

        mutating func add(_ index: Int) {
            if counts.isEmpty {
                offset = index
                counts = [0]
            } else if index < offset {
                counts.insert(contentsOf: repeatElement(0, count: offset - index), at: 0)
                offset = index
            } else if index >= offset + counts.count {
                counts.append(contentsOf: repeatElement(0, count: index - offset - counts.count + 1))
            }
            counts[index - offset] += 1
            total += 1
        }
    }

    /// Counters held, for the memory bound.
    var bucketCount: Int { positive.counts.count + negative.counts.count }

    private static func index(_ magnitude: Double) -> Int { Int((Foundation.log(magnitude) / logGamma).rounded(.up)) }
    private static func value(_ index: Int) -> Double { 2 * Foundation.pow(gamma, Double(index)) / (gamma + 1) }

    override func add(_ value: Double) {
        count += 1
        if value > Self.smallest { positive.add(Self.index(value)) }
        else if value < -Self.smallest { negative.add(Self.index(-value)) }
        else { zeros += 1 }
    }

    /// The value of rank ⌊q·(n−1)⌋ in sorted order, within the relative accuracy.
    override func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = Int((q * Double(count - 1)).rounded(.down))
        var seen = 0
        // Negative values, most negative (largest magnitude) first.
        for i in stride(from: negative.counts.count - 1, through: 0, by: -1) {
            seen += negative.counts[i]
            if seen > rank { return -Self.value(i + negative.offset) }
        }
        seen += zeros
        if seen > rank { return 0 }
        for i in positive.counts.indices {
            seen += positive.counts[i]
            if seen > rank { return Self.value(i + positive.offset) }
        }
        return positive.counts.isEmpty ? 0 : Self.value(positive.offset + positive.counts.count - 1)
    }
}

/// One group's running state.
final class GroupState {
    /// How a measure takes values, for the per-record loop.
    enum Kind {
        /// Nothing per value: `count()` reads `rows`; quantiles read the group's value lists.
        case none
        /// `sum` / `avg`, kept inline in `sums`.
        case sum
        /// An `Accumulator` object.
        case object

        init(_ function: Measure.Function) {
            switch function {
            case .count, .quantile: self = .none
            case .sum, .avg: self = .sum
            default: self = .object
            }
        }
    }

    let key: [JSONValue]
    var rows = 0
    /// Nulls per measured field.
    let nulls: UnsafeMutableBufferPointer<Int>
    /// Per measure; used by `sum` and `avg` only.
    let sums: UnsafeMutableBufferPointer<SumState>
    /// Per measure; set for the `.object` kind only.
    var accumulators: [Accumulator?] = []
    /// Shared value lists per measured field that has a quantile (nil elsewhere).
    var quantileValues: [QuantileStore?]

    init(key: [JSONValue], plan: AggregationPlan, measureFieldIndex: [Int], measuredFieldCount: Int, quantileFields: [Int]) {
        self.key = key
        nulls = .allocate(capacity: measuredFieldCount)
        nulls.initialize(repeating: 0)
        sums = .allocate(capacity: plan.measures.count)
        sums.initialize(repeating: SumState())
        quantileValues = Array(repeating: nil, count: measuredFieldCount)
        for f in quantileFields { quantileValues[f] = plan.quantiles == .sketch ? QuantileSketch() : ValueList() }
        for measure in plan.measures {
            switch measure.function {
            case .countValues: accumulators.append(ValueCount())
            case .countDistinct: accumulators.append(DistinctCount())
            case .min: accumulators.append(Extreme(keepLarger: false))
            case .max: accumulators.append(Extreme(keepLarger: true))
            case .first: accumulators.append(FirstValue())
            case .last: accumulators.append(LastValue())
            case .count, .sum, .avg, .quantile: accumulators.append(nil)
            }
        }
        measureFields = measureFieldIndex
    }

    deinit {
        nulls.deallocate()
        sums.deallocate()
    }

    /// The value of measure `m`.
    func result(_ m: Int, _ function: Measure.Function) -> JSONValue {
        switch function {
        case .count: return .int(Int64(rows))
        case .sum: return sums[m].result(average: false)
        case .avg: return sums[m].result(average: true)
        case .quantile(let q):
            // The list of this measure's field: the one quantile lists are keyed by.
            return quantileList(m)?.quantile(q).map(JSONValue.double) ?? .null
        default: return accumulators[m]?.result() ?? .null
        }
    }

    /// For each measure, its measured field (-1 for `count()`).
    let measureFields: [Int]

    private func quantileList(_ m: Int) -> QuantileStore? {
        let f = measureFields[m]
        return f >= 0 ? quantileValues[f] : nil
    }
}

/// Takes one group's non-null values of a field and gives a measure.
class Accumulator {
    /// Takes a non-null value; false when the measure needs a number and this is not one.
    func add(_ value: JSONValue) -> Bool { true }
    func result() -> JSONValue { .null }
}

final class ValueCount: Accumulator {
    var n = 0
    override func add(_ value: JSONValue) -> Bool { n += 1; return true }
    override func result() -> JSONValue { .int(Int64(n)) }
}

final class DistinctCount: Accumulator {
    var seen = Set<JSONValue>()
    override func add(_ value: JSONValue) -> Bool {
        // 1 and 1.0 are the same number.
        if case .double(let d) = value, d == d.rounded(), abs(d) < 9e15 { seen.insert(.int(Int64(d))) } else { seen.insert(value) }
        return true
    }
    override func result() -> JSONValue { .int(Int64(seen.count)) }
}

/// `sum` and `avg`: exact while every value is an integer that fits; otherwise a compensated
/// (Neumaier) double sum, so that long columns of decimals do not drift.
struct SumState {
    var n = 0
    var intSum: Int64 = 0
    var exactInt = true
    var sum = 0.0
    var compensation = 0.0

    /// Takes a non-null value; false when it is not a number.
    @inline(__always)
    mutating func add(_ value: JSONValue) -> Bool {
        let d: Double
        switch value {
        case .int(let i):
            if exactInt {
                let (s, overflow) = intSum.addingReportingOverflow(i)
                if overflow { exactInt = false } else { intSum = s }
            }
            d = Double(i)
        case .double(let x):
            exactInt = false
            d = x
        case .bigInteger(let digits):
            exactInt = false
            d = Double(digits) ?? 0
        default:
            return false
        }
        n += 1
        let t = sum + d
        if abs(sum) >= abs(d) { compensation += (sum - t) + d } else { compensation += (d - t) + sum }
        sum = t
        return true
    }

    func result(average: Bool) -> JSONValue {
        guard n > 0 else { return .null }
        if average { return .double(exactInt ? Double(intSum) / Double(n) : (sum + compensation) / Double(n)) }
        return exactInt ? .int(intSum) : .double(sum + compensation)
    }
}

/// `min` / `max` over numbers and strings alike (numbers sort before strings).
final class Extreme: Accumulator {
    let keepLarger: Bool
    var best: JSONValue?
    init(keepLarger: Bool) { self.keepLarger = keepLarger }
    override func add(_ value: JSONValue) -> Bool {
        guard let current = best else { best = value; return true }
        let c = ValueOrder.compareTotal(value, current)
        if keepLarger ? c > 0 : c < 0 { best = value }
        return true
    }
    override func result() -> JSONValue { best ?? .null }
}

final class FirstValue: Accumulator {
    var value: JSONValue?
    override func add(_ value: JSONValue) -> Bool { if self.value == nil { self.value = value }; return true }
    override func result() -> JSONValue { value ?? .null }
}

final class LastValue: Accumulator {
    var value: JSONValue?
    override func add(_ value: JSONValue) -> Bool { self.value = value; return true }
    override func result() -> JSONValue { value ?? .null }
}
