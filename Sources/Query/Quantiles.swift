import Foundation

/// How quantiles (`median`, `pNN`, `percentile`) are computed.
public enum QuantileMethod: String, Sendable, CaseIterable {
    /// Every value kept (8 bytes each), sorted at the end, interpolated linearly.
    case exact
    /// A DDSketch: memory bounded by the value range, not the count; relative error ≤ `QuantileSketch.relativeAccuracy`.
    case sketch
}

/// Where one group keeps the numbers of one field for its quantiles.
public class QuantileStore {
    public init() {}
    public func add(_ value: Double) {}
    /// The q-quantile; nil when there are no values.
    public func quantile(_ q: Double) -> Double? { nil }
}

/// The values of one field in one group, for exact quantiles.
public final class ValueList: QuantileStore {
    var values: [Double] = []

    public override init() {}

    public override func add(_ value: Double) { values.append(value) }

    /// Interpolated linearly between the two nearest ranks, as DuckDB's `quantile_cont` and pandas do.
    /// The two ranks are found by selection, not by sorting every value: the same answer in a few
    /// passes over the values.
    public override func quantile(_ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let position = q * Double(values.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, values.count - 1)
        let fraction = position - Double(lower)
        let (low, high) = values.withUnsafeMutableBufferPointer { (a: inout UnsafeMutableBufferPointer<Double>) -> (Double, Double) in
            let low: Double = Self.select(lower, in: a)
            // Everything after `lower` is at least `low`: the next rank is the smallest of them.
            var high: Double = a[upper]
            var i = upper + 1
            while i < a.count {
                if a[i] < high { high = a[i] }
                i += 1
            }
            return (low, high)
        }
        if fraction == 0 || lower == upper { return low }
        return low + (high - low) * fraction
    }

    /// The value of rank `k` (0-based) in sorted order; afterwards no value before `k` is larger and
    /// none after it is smaller. Quickselect with three-way partitions (repeated values cost nothing
    /// extra), falling back to a sort of what is left if the pivots keep going wrong.
    static func select(_ k: Int, in a: UnsafeMutableBufferPointer<Double>) -> Double {
        var lo = 0, hi = a.count - 1
        let bits: Int = Int.bitWidth - a.count.leadingZeroBitCount
        var budget: Int = 2 * bits + 8
        while lo < hi {
            if budget == 0 {
                var rest = UnsafeMutableBufferPointer(rebasing: a[lo...hi])
                rest.sort()
                return a[k]
            }
            budget -= 1
            let pivot = medianOfThree(a[lo], a[lo + (hi - lo) / 2], a[hi])
            // [lo, lt) below the pivot, [lt, gt] equal to it, (gt, hi] above it.
            var lt = lo, i = lo, gt = hi
            while i <= gt {
                let v = a[i]
                if v < pivot {
                    a.swapAt(lt, i)
                    lt += 1
                    i += 1
                } else if v > pivot {
                    a.swapAt(i, gt)
                    gt -= 1
                } else {
                    i += 1
                }
            }
            if k < lt { hi = lt - 1 } else if k > gt { lo = gt + 1 } else { return a[k] }
        }
        return a[k]
    }

    private static func medianOfThree(_ x: Double, _ y: Double, _ z: Double) -> Double {
        if x < y {
            if y < z { return y }
            return x < z ? z : x
        }
        if x < z { return x }
        return y < z ? z : y
    }
}

/// A DDSketch (Masson, Rim, Lee, VLDB 2019): values fall in logarithmic buckets whose bounds
/// grow by γ = (1 + α) / (1 − α), so any value read back is within α of the value of that rank,
/// relatively. Memory is one counter per bucket between the smallest and largest magnitude
/// (about 1,850 for values from 0.01 to 1,000,000 at α = 0.5%), whatever the number of values.
public final class QuantileSketch: QuantileStore {
    public static let relativeAccuracy = 0.005
    private static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    private static let logGamma = Foundation.log(gamma)
    /// Magnitudes below this count as zero (the sketch cannot index them).
    private static let smallest = 1e-300

    private var positive = Buckets()
    private var negative = Buckets()
    private var zeros = 0
    public private(set) var count = 0

    public override init() {}

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
    public var bucketCount: Int { positive.counts.count + negative.counts.count }

    private static func index(_ magnitude: Double) -> Int { Int((Foundation.log(magnitude) / logGamma).rounded(.up)) }
    private static func value(_ index: Int) -> Double { 2 * Foundation.pow(gamma, Double(index)) / (gamma + 1) }

    public override func add(_ value: Double) {
        count += 1
        if value > Self.smallest { positive.add(Self.index(value)) }
        else if value < -Self.smallest { negative.add(Self.index(-value)) }
        else { zeros += 1 }
    }

    /// The value of rank ⌊q·(n−1)⌋ in sorted order, within the relative accuracy.
    public override func quantile(_ q: Double) -> Double? {
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

