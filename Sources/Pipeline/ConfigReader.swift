import Lake
internal import Yams

/// A value in a pipeline file, with the position it came from.
///
/// Stage kinds read their configuration through this type, so that every problem they find
/// is reported as `file:line:col: key.path: message` and unknown keys are caught.
public final class ConfigValue {
    let node: Node
    /// Dotted path of this value, e.g. `stages.crawl.fetch`.
    public let keyPath: String
    let diagnostics: Diagnostics
    let environment: PipelineEnvironment
    private var readKeys: Set<String> = []

    init(node: Node, keyPath: String, diagnostics: Diagnostics, environment: PipelineEnvironment) {
        self.node = node
        self.keyPath = keyPath
        self.diagnostics = diagnostics
        self.environment = environment
    }

    /// The top of a YAML configuration file other than a pipeline (the lake's retention policy),
    /// read with positions; nil when the text is not YAML or is empty (problems in `diagnostics`).
    public static func document(text: String, diagnostics: Diagnostics,
                                environment: PipelineEnvironment = PipelineEnvironment(variables: [:])) -> ConfigValue? {
        guard let node = PipelineLoader.compose(text, diagnostics: diagnostics, empty: "the file is empty") else { return nil }
        return ConfigValue(node: node, keyPath: "", diagnostics: diagnostics, environment: environment)
    }

    /// A variable of the environment the file is read with (process environment, `.env`, the store's
    /// settings), for a setting whose default comes from one; nil when unset or empty.
    public func environmentVariable(_ name: String) -> String? {
        environment.variables[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
    }

    public var line: Int { node.mark?.line ?? 1 }
    public var column: Int { node.mark?.column ?? 1 }

    // MARK: What this value is

    public var isMapping: Bool { if case .mapping = node { return true }; return false }
    public var isSequence: Bool { if case .sequence = node { return true }; return false }
    public var isScalar: Bool { if case .scalar = node { return true }; return false }
    public var isNull: Bool { if case .scalar = node { return Resolver.default.resolveTag(of: node) == .null }; return false }

    /// Reports a problem at this value.
    public func error(_ message: String) {
        diagnostics.error(line: line, column: column, keyPath: keyPath, message)
    }

    /// Reports a problem at a character offset inside this scalar's text (an expression such
    /// as a `where:` filter), so that the column points at the offending token. Falls back to the
    /// scalar's own position for block scalars and text spanning lines, where columns do not add up.
    public func error(_ message: String, atOffset offset: Int) {
        guard case .scalar(let scalar) = node, !scalar.string.contains("\n") else { error(message); return }
        let shift: Int
        switch scalar.style {
        case .plain: shift = 0
        case .singleQuoted, .doubleQuoted: shift = 1
        default: error(message); return
        }
        diagnostics.error(line: line, column: column + shift + offset, keyPath: keyPath, message)
    }

    public func warning(_ message: String) {
        diagnostics.warning(line: line, column: column, keyPath: keyPath, message)
    }

    private func child(_ node: Node, _ key: String) -> ConfigValue {
        ConfigValue(node: node, keyPath: keyPath.isEmpty ? key : keyPath + "." + key, diagnostics: diagnostics,
                    environment: environment)
    }

    // MARK: Scalars

    /// The scalar as text with `${VAR}` expanded; reports an error for mappings and sequences.
    public func asString() -> String? {
        guard case .scalar(let scalar) = node else {
            error("expected a string, found a \(kindName)")
            return nil
        }
        return environment.expand(scalar.string, at: self)
    }

    public func asInt(min: Int? = nil, max: Int? = nil) -> Int? {
        // Quoted only when it holds ${VAR}: YAML flow style needs the quotes there.
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.string.contains("${") else {
            error("expected an integer, found \(describe)")
            return nil
        }
        guard let text = environment.expand(scalar.string, at: self) else { return nil }  // already reported
        guard let value = Int(text) else {
            error("expected an integer, found \(describe)")
            return nil
        }
        if let min, value < min { error("must be at least \(min), found \(value)"); return nil }
        if let max, value > max { error("must be at most \(max), found \(value)"); return nil }
        return value
    }

    public func asDouble(min: Double? = nil, max: Double? = nil) -> Double? {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.string.contains("${") else {
            error("expected a number, found \(describe)")
            return nil
        }
        guard let text = environment.expand(scalar.string, at: self) else { return nil }  // already reported
        guard let value = Double(text), value.isFinite else {
            error("expected a number, found \(describe)")
            return nil
        }
        if let min, value < min { error("must be at least \(min), found \(value)"); return nil }
        if let max, value > max { error("must be at most \(max), found \(value)"); return nil }
        return value
    }

    public func asBool() -> Bool? {
        if case .scalar(let scalar) = node, scalar.style == .plain {
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        error("expected true or false, found \(describe)")
        return nil
    }

    /// One of a fixed set of words.
    public func asChoice(_ choices: [String]) -> String? {
        guard let text = asString() else { return nil }
        guard choices.contains(text) else {
            error("expected one of \(choices.joined(separator: ", ")), found '\(text)'\(Suggestion.didYouMean(text, in: choices))")
            return nil
        }
        return text
    }

    /// A duration such as `90s`, `15m`, `24h`, `7d`, `500ms`, or plain seconds; at most
    /// `maxDurationSeconds`, so that every later conversion (to milliseconds, nanoseconds, whole
    /// days) fits an integer.
    public func asDuration() -> Double? {
        guard let text = asString()?.trimmingCharacters(in: .whitespaces) else { return nil }
        guard let seconds = Self.parseUnboundedDuration(text) else {
            error("expected a duration like 30s, 15m, 24h or 7d, found '\(text)'")
            return nil
        }
        guard seconds <= Self.maxDurationSeconds else {
            error("a duration may be at most 36500d (100 years), found '\(text)'")
            return nil
        }
        return seconds
    }

    /// The longest duration any setting takes: 100 years, whose nanoseconds still fit an `Int64`.
    public static let maxDurationSeconds: Double = 100 * 365 * 86_400

    /// Seconds in `30s`, `15m`, `24h`, `7d`, `2w`, `500ms` or a plain number; nil when the text is
    /// not a duration or is longer than `maxDurationSeconds`.
    public static func parseDuration(_ text: String) -> Double? {
        parseUnboundedDuration(text).flatMap { $0 <= maxDurationSeconds ? $0 : nil }
    }

    static func parseUnboundedDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            // A finite number of a unit may overflow to infinity: too long, not malformed.
            if let n = Double(text.dropLast(suffix.count)), n >= 0, n.isFinite { return n * factor }
        }
        if let n = Double(text), n >= 0, n.isFinite { return n }
        return nil
    }

    /// A size in bytes: `10MB`, `512KB`, `1GB` (powers of 1024), `100B` or a plain number of
    /// bytes; above 0 and at most `max` (1 TB unless given), reported at this value otherwise.
    public func asByteSize(max: Int = 1 << 40) -> Int? {
        guard let original = asString() else { return nil }
        let text = original.trimmingCharacters(in: .whitespaces).uppercased()
        guard let bytes = Self.parseByteSize(text) else {
            error("expected a size such as 10MB, 512KB or a number of bytes, found '\(original)'")
            return nil
        }
        guard bytes > 0 else { error("expected a size above 0, found '\(original)'"); return nil }
        // Int(exactly:) is nil past Int's range, where Int(_:) would trap.
        guard let value = Int(exactly: bytes), value <= max else {
            error("a size may be at most \(ByteSize.text(Int64(max))), found '\(original)'")
            return nil
        }
        return value
    }

    /// Bytes as a double (so that a huge number is compared, never converted with a trap).
    static func parseByteSize(_ text: String) -> Double? {
        let units: [(String, Double)] = [("GB", 1_073_741_824), ("MB", 1_048_576), ("KB", 1024), ("B", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let n = Double(number), n >= 0, n.isFinite { return (n * factor).rounded(.down) }
            return nil
        }
        if let n = Double(text), n >= 0, n.isFinite, n == n.rounded() { return n }
        return nil
    }

    /// A string, or a list of strings (a single string reads as a list of one).
    public func asStrings() -> [String]? {
        switch node {
        case .scalar: return asString().map { [$0] }
        case .sequence(let items):
            var out: [String] = []
            var ok = true
            for (i, item) in items.enumerated() {
                if let s = child(item, "\(i)").asString() { out.append(s) } else { ok = false }
            }
            return ok ? out : nil
        default:
            error("expected a string or a list of strings, found a \(kindName)")
            return nil
        }
    }

    /// The items of a sequence.
    public func asList() -> [ConfigValue]? {
        guard case .sequence(let items) = node else {
            error("expected a list, found \(describe)")
            return nil
        }
        return items.enumerated().map { child($1, "\($0)") }
    }

    // MARK: Mappings

    /// The key/value pairs of a mapping, in file order; keys count as read.
    public func entries() -> [(key: String, value: ConfigValue)]? {
        guard case .mapping(let mapping) = node else {
            error("expected a mapping, found \(describe)")
            return nil
        }
        return mapping.map { pair in
            let key = pair.key.string ?? ""
            readKeys.insert(key)
            return (key, child(pair.value, key))
        }
    }

    /// The keys read so far (asked for, present or not), sorted: what a kind's code reads, for tests
    /// holding it to the kind's spec.
    var keysRead: [String] { readKeys.sorted() }

    /// The keys of a mapping, without marking them read (to find out which ones are there).
    public var keys: [String] {
        guard case .mapping(let mapping) = node else { return [] }
        return mapping.keys.compactMap(\.string)
    }

    /// The value under `key`, or nil (reporting an error when `required`).
    public func value(_ key: String, required: Bool = false) -> ConfigValue? {
        readKeys.insert(key)
        guard case .mapping(let mapping) = node else { return nil }
        guard let found = mapping[key] else {
            if required { error("missing required key '\(key)'") }
            return nil
        }
        return child(found, key)
    }

    public func string(_ key: String, required: Bool = false) -> String? { value(key, required: required)?.asString() }
    public func int(_ key: String, min: Int? = nil, max: Int? = nil) -> Int? { value(key)?.asInt(min: min, max: max) }
    public func double(_ key: String, min: Double? = nil, max: Double? = nil) -> Double? { value(key)?.asDouble(min: min, max: max) }
    public func bool(_ key: String) -> Bool? { value(key)?.asBool() }
    public func strings(_ key: String, required: Bool = false) -> [String]? { value(key, required: required)?.asStrings() }
    public func choice(_ key: String, _ choices: [String]) -> String? { value(key)?.asChoice(choices) }
    public func duration(_ key: String) -> Double? { value(key)?.asDuration() }
    public func byteSize(_ key: String, max: Int = 1 << 40) -> Int? { value(key)?.asByteSize(max: max) }

    /// Checks that this is a mapping; reports an error otherwise.
    @discardableResult
    public func expectMapping() -> Bool {
        if isMapping { return true }
        error("expected a mapping, found \(describe)")
        return false
    }

    /// Reports every key of this mapping that no one read, with a suggestion.
    public func rejectUnknownKeys(also allowed: [String] = []) {
        guard case .mapping(let mapping) = node else { return }
        let known = Array(readKeys) + allowed
        for pair in mapping {
            let key = pair.key.string ?? ""
            if !known.contains(key) { reportUnknownKey(key, known: known) }
        }
    }

    /// Reports `key` of this mapping as unknown, at the key's position, suggesting the closest of `known`.
    func reportUnknownKey(_ key: String, known: [String]) {
        guard case .mapping(let mapping) = node else { return }
        let mark = mapping.first { $0.key.string == key }?.key.mark
        diagnostics.error(line: mark?.line ?? line, column: mark?.column ?? column,
                          keyPath: keyPath.isEmpty ? key : keyPath + "." + key,
                          "unknown key '\(key)'\(Suggestion.didYouMean(key, in: known.sorted()))")
    }

    /// The value as JSON (environment expanded), for canonical configuration text.
    public func jsonValue() -> JSONValue {
        switch node {
        case .scalar(let scalar):
            let text = environment.expandQuietly(scalar.string)
            guard scalar.style == .plain else { return .string(text) }
            switch Resolver.default.resolveTag(of: node) {
            case .null: return .null
            case .bool: return .bool(["true", "yes", "on"].contains(text.lowercased()))
            case .int: return Int64(text).map(JSONValue.int) ?? .string(text)
            case .float: return Double(text).map(JSONValue.double) ?? .string(text)
            default: return .string(text)
            }
        case .sequence(let items): return .array(items.map { child($0, "").jsonValue() })
        case .mapping(let mapping):
            return .object(JSONObject(mapping.map { ($0.key.string ?? "", child($0.value, "").jsonValue()) }))
        case .alias: return .null
        }
    }

    var kindName: String {
        switch node {
        case .scalar: return "scalar"
        case .mapping: return "mapping"
        case .sequence: return "list"
        case .alias: return "alias"
        }
    }

    var describe: String {
        if case .scalar(let s) = node { return "'\(s.string)'" }
        return "a \(kindName)"
    }
}
