import Lake

// MARK: - Measures

/// One output column computed per group: `name: function(field)`.
public struct Measure: Sendable, Equatable {
    public enum Function: Sendable, Equatable {
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

    public let name: String
    public let function: Function
    /// The field measured; nil for `count()`.
    public let field: DottedPath?

    public init(name: String, function: Function, field: DottedPath?) {
        self.name = name
        self.function = function
        self.field = field
    }

    public static let functionNames = ["count", "count_distinct", "sum", "avg", "mean", "min", "max", "median",
                                "pNN (p90, p99…)", "percentile", "first", "last"]

    /// Parses `function(field)` as the measure named `name`.
    public static func parse(name: String, _ text: String) throws(ExpressionError) -> Measure {
        let call = try FunctionCall.parse(text)
        let lower = call.name.lowercased()
        func fieldArgument() throws(ExpressionError) -> DottedPath {
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

