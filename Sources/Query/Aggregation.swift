import Foundation
import Lake

// MARK: - The plan

/// What to compute, checked: group fields, measures, and what to do with the groups.
public struct AggregationPlan: Sendable {
    public struct OrderKey: Sendable {
        public let column: Int
        public let descending: Bool
        public init(column: Int, descending: Bool) {
            self.column = column
            self.descending = descending
        }
    }

    public let groupBy: [DottedPath]
    public let measures: [Measure]
    public let filter: FilterExpression?
    public let having: FilterExpression?
    /// For each field of `having`, its output column.
    public let havingColumns: [Int]
    public let order: [OrderKey]
    public let limit: Int?
    public let nullCounts: Bool
    public var quantiles: QuantileMethod = .exact

    public init(groupBy: [DottedPath], measures: [Measure], filter: FilterExpression? = nil, having: FilterExpression? = nil,
                havingColumns: [Int] = [], order: [OrderKey] = [], limit: Int? = nil, nullCounts: Bool = true,
                quantiles: QuantileMethod = .exact) {
        self.groupBy = groupBy
        self.measures = measures
        self.filter = filter
        self.having = having
        self.havingColumns = havingColumns
        self.order = order
        self.limit = limit
        self.nullCounts = nullCounts
        self.quantiles = quantiles
    }

    /// Fields measured (not counting `count()`), each once: one null count column each.
    public var measuredFields: [DottedPath] { Self.unique(measures.compactMap(\.field)) }

    /// Output columns: group fields, measures, then one null count per measured field.
    public var columns: [String] {
        Self.columns(groupBy: groupBy, measures: measures, nullCounts: nullCounts)
    }

    static func columns(groupBy: [DottedPath], measures: [Measure], nullCounts: Bool) -> [String] {
        groupBy.map(\.description) + measures.map(\.name)
            + (nullCounts ? unique(measures.compactMap(\.field)).map { "\($0)_nulls" } : [])
    }

    static func unique(_ fields: [DottedPath]) -> [DottedPath] {
        var out: [DottedPath] = []
        for field in fields where !out.contains(field) { out.append(field) }
        return out
    }
}

/// A plan as people write it: each part as text, as in the `aggregate` stage's settings.
public struct AggregationSettings: Sendable {
    /// Field names (dotted paths reach into nested objects).
    public var groupBy: [String]
    /// Output name and call, in order: `("n", "count()")`, `("p90_price", "p90(price)")`.
    public var measures: [(name: String, call: String)]
    public var filter: String?
    /// Compares output columns.
    public var having: String?
    /// Output columns, each optionally followed by `asc` or `desc`.
    public var orderBy: [String]
    public var limit: Int?
    public var nullCounts: Bool
    public var quantiles: QuantileMethod

    public init(groupBy: [String] = [], measures: [(name: String, call: String)], filter: String? = nil, having: String? = nil,
                orderBy: [String] = [], limit: Int? = nil, nullCounts: Bool = true, quantiles: QuantileMethod = .exact) {
        self.groupBy = groupBy
        self.measures = measures
        self.filter = filter
        self.having = having
        self.orderBy = orderBy
        self.limit = limit
        self.nullCounts = nullCounts
        self.quantiles = quantiles
    }
}

/// One problem with `AggregationSettings`, and the part of them it is in.
public struct AggregationProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Place: Sendable, Equatable {
        /// The n-th `groupBy` entry.
        case groupBy(Int)
        /// The n-th measure.
        case measure(Int)
        /// The measures as a whole (two output columns share a name).
        case measures
        case filter
        case having
        /// The n-th `orderBy` entry.
        case orderBy(Int)
    }

    public let place: Place
    public let message: String
    /// The character of the part's text the problem is at, when it is at one.
    public let offset: Int?

    public var description: String { offset.map { "\(message) (at character \($0 + 1))" } ?? message }
}

/// Every problem found with one `AggregationSettings`, in the order of the parts.
public struct AggregationProblems: Error, Sendable, CustomStringConvertible {
    public let problems: [AggregationProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

extension AggregationPlan {
    /// Checks `settings` and builds the plan; throws every problem found.
    public static func parse(_ settings: AggregationSettings) throws(AggregationProblems) -> AggregationPlan {
        var problems: [AggregationProblem] = []
        func note(_ place: AggregationProblem.Place, _ error: ExpressionError) {
            problems.append(AggregationProblem(place: place, message: error.message, offset: error.offset))
        }

        var groupBy: [DottedPath] = []
        for (i, text) in settings.groupBy.enumerated() {
            do throws(ExpressionError) {
                let path = try DottedPath.parse(text)
                if groupBy.contains(path) {
                    problems.append(AggregationProblem(place: .groupBy(i), message: "'\(path)' is grouped by twice", offset: nil))
                } else {
                    groupBy.append(path)
                }
            } catch {
                note(.groupBy(i), error)
            }
        }

        var measures: [Measure] = []
        for (i, measure) in settings.measures.enumerated() {
            do throws(ExpressionError) {
                measures.append(try Measure.parse(name: measure.name, measure.call))
            } catch {
                note(.measure(i), error)
            }
        }

        let columns = Self.columns(groupBy: groupBy, measures: measures, nullCounts: settings.nullCounts)
        var seen = Set<String>()
        for column in columns where !seen.insert(column).inserted {
            problems.append(AggregationProblem(place: .measures, message: "two output columns are named '\(column)'; rename the measure",
                                               offset: nil))
        }

        var filter: FilterExpression?
        if let text = settings.filter {
            do throws(ExpressionError) { filter = try FilterExpression.parse(text) } catch { note(.filter, error) }
        }

        var having: FilterExpression?
        var havingColumns: [Int] = []
        if let text = settings.having {
            do throws(ExpressionError) {
                var offsets: [Int] = []
                let parsed = try FilterExpression.parse(text, fieldOffsets: &offsets)
                for (k, field) in parsed.fields.enumerated() {
                    guard let index = columns.firstIndex(of: field.description) else {
                        throw ExpressionError("'having' compares output columns; '\(field)' is not one (columns: \(columns.joined(separator: ", ")))",
                                              offset: offsets[k])
                    }
                    havingColumns.append(index)
                }
                having = parsed
            } catch {
                note(.having, error)
            }
        }

        var order: [OrderKey] = []
        for (i, text) in settings.orderBy.enumerated() {
            do throws(ExpressionError) {
                let parsed = try OrderItem.parse(text)
                guard let index = columns.firstIndex(of: parsed.column.description) else {
                    throw ExpressionError("no output column '\(parsed.column)' to order by (columns: \(columns.joined(separator: ", ")))",
                                          offset: parsed.columnOffset)
                }
                order.append(OrderKey(column: index, descending: parsed.descending))
            } catch {
                note(.orderBy(i), error)
            }
        }

        guard problems.isEmpty else { throw AggregationProblems(problems: problems) }
        return AggregationPlan(groupBy: groupBy, measures: measures, filter: filter, having: having,
                               havingColumns: havingColumns, order: order, limit: settings.limit,
                               nullCounts: settings.nullCounts, quantiles: settings.quantiles)
    }
}

// MARK: - The aggregation

/// Counts for a report.
public struct AggregationStats: Sendable {
    public var recordsIn = 0
    public var rejected = 0
    public var filteredOut = 0
    public var groups = 0
    public var rowsOut = 0
    public var nonNumeric = 0
    /// Where the first value left out of a numeric measure was, and what it was.
    public var firstNonNumeric: String?
}

/// Groups records in one pass and computes each group's measures.
public final class Aggregation {
    public let plan: AggregationPlan
    public private(set) var stats = AggregationStats()

    /// Every field read (group keys, measured fields, filter fields), each once.
    private let fields: [DottedPath]
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

    public init(_ plan: AggregationPlan) {
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
    public func consume(_ reader: RecordReader) throws {
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
    public func finish() -> [[JSONValue]] {
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

