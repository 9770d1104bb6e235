/// A problem found in a pipeline file, pointing at the line and column it comes from.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible, Comparable, Codable {
    public enum Severity: String, Sendable, Codable, Hashable { case error, warning }

    public var file: String
    public var line: Int
    public var column: Int
    /// Dotted path of the key, e.g. `stages.crawl.fetch.max_pages`; empty for the whole file.
    public var keyPath: String
    public var message: String
    public var severity: Severity

    /// `validate --json` prints diagnostics with snake_case keys.
    enum CodingKeys: String, CodingKey {
        case file, line, column, keyPath = "key_path", message, severity
    }

    public init(file: String, line: Int, column: Int, keyPath: String, message: String, severity: Severity = .error) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        self.severity = severity
    }

    /// `pipelines/x.yaml:12:5: stages.crawl.fetch.max_pages: expected an integer`
    public var description: String {
        let prefix = severity == .warning ? "warning: " : ""
        let key = keyPath.isEmpty ? "" : keyPath + ": "
        return "\(file):\(line):\(column): \(prefix)\(key)\(message)"
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.file, a.line, a.column, a.keyPath, a.message) < (b.file, b.line, b.column, b.keyPath, b.message)
    }
}

/// Collects every problem in one pass, so that a user sees all of them at once.
public final class Diagnostics {
    public private(set) var all: [Diagnostic] = []
    private var seen: Set<Diagnostic> = []
    public let file: String

    public init(file: String) { self.file = file }

    public func error(line: Int, column: Int, keyPath: String, _ message: String) {
        add(Diagnostic(file: file, line: line, column: column, keyPath: keyPath, message: message))
    }

    public func warning(line: Int, column: Int, keyPath: String, _ message: String) {
        add(Diagnostic(file: file, line: line, column: column, keyPath: keyPath, message: message, severity: .warning))
    }

    /// A problem found twice (a stage kind's settings spec checks a value, then its code reads it)
    /// is reported once.
    private func add(_ diagnostic: Diagnostic) {
        if seen.insert(diagnostic).inserted { all.append(diagnostic) }
    }

    public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
    public var hasErrors: Bool { all.contains { $0.severity == .error } }
}

/// A pipeline file that did not validate; carries every problem found.
public struct PipelineValidationError: Error, CustomStringConvertible, Sendable {
    public let diagnostics: [Diagnostic]
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Suggests the closest known name for a misspelt one.
public enum Suggestion {
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let lower = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lower, candidate.lowercased())
            let allowed = max(1, min(3, candidate.count / 3))
            if distance <= allowed, best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    /// ` (did you mean 'x'?)`, or empty when nothing is close.
    public static func didYouMean(_ word: String, in candidates: [String]) -> String {
        closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
