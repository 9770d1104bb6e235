import ArgumentParser
import Foundation
import Pipeline

/// A duration given on the command line: `30` (seconds), `30s`, `15m`, `500ms`, as pipeline files
/// write them. Finite, above zero and at most `ConfigValue.maxDurationSeconds`, so every later
/// conversion (libcurl's milliseconds, a clock's nanoseconds) fits an integer: `--timeout 1e300`
/// is a usage error, not a crash.
struct Seconds: ExpressibleByArgument, CustomStringConvertible {
    let value: Double

    init(_ value: Double) { self.value = value }

    init?(argument: String) {
        guard let seconds = ConfigValue.parseDuration(argument.trimmingCharacters(in: .whitespaces)), seconds > 0 else {
            return nil
        }
        value = seconds
    }

    var description: String { value == value.rounded() ? String(Int(value)) : String(value) }
    var defaultValueDescription: String { description }
}
