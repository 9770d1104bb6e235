import Foundation
import Lake

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
