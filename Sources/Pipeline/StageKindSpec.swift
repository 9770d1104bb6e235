import Lake

/// What a setting's value must be. Checking a value uses the same readers (and so the same messages)
/// as the stage kind's own configuration code, so a problem is reported once.
public enum SettingType: Sendable {
    case string
    case integer(min: Int? = nil, max: Int? = nil)
    case number(min: Double? = nil, max: Double? = nil)
    case boolean
    /// `30s`, `15m`, `24h`, `7d`.
    case duration
    /// `10MB`, `512KB` or a number of bytes, at most `max`.
    case size(max: Int = 1 << 40)
    /// One of these words.
    case choice([String])
    /// A string, or a list of strings.
    case strings
    /// A list; the kind's code checks its items.
    case list(of: String)
    /// A mapping whose keys the user chooses (fields, columns, tables); the kind's code checks its entries.
    case mapping(of: String)
    /// A mapping with fixed keys, checked like the kind's own settings.
    case object([SettingSpec])
    /// A list of mappings with fixed keys, each checked like the kind's own settings.
    case items([SettingSpec])
    /// Several shapes (a string, a list or a mapping); the kind's code checks it. The text says which.
    case custom(String)

    /// How the reference shows the type.
    public var label: String {
        switch self {
        case .string: return "string"
        case .integer(let min, let max): return "integer" + Self.range(min.map(String.init), max.map(String.init))
        case .number(let min, let max): return "number" + Self.range(min.map { Self.short($0) }, max.map { Self.short($0) })
        case .boolean: return "boolean"
        case .duration: return "duration"
        case .size: return "size"
        case .choice(let words): return words.joined(separator: " | ")
        case .strings: return "string or list of strings"
        case .list(let what): return "list of " + what
        case .mapping(let what): return "mapping of " + what
        case .object: return "mapping"
        case .items: return "list of mappings"
        case .custom(let text): return text
        }
    }

    private static func range(_ min: String?, _ max: String?) -> String {
        switch (min, max) {
        case (nil, nil): return ""
        case (let min?, nil): return " ≥ \(min)"
        case (nil, let max?): return " ≤ \(max)"
        case (let min?, let max?): return " \(min)…\(max)"
        }
    }

    private static func short(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// The type's name for `--json`.
    var name: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .number: return "number"
        case .boolean: return "boolean"
        case .duration: return "duration"
        case .size: return "size"
        case .choice: return "choice"
        case .strings: return "strings"
        case .list: return "list"
        case .mapping: return "mapping"
        case .object: return "object"
        case .items: return "items"
        case .custom: return "custom"
        }
    }

    /// Reports at `value` what does not fit the type.
    func check(_ value: ConfigValue) {
        switch self {
        case .string: _ = value.asString()
        case .integer(let min, let max): _ = value.asInt(min: min, max: max)
        case .number(let min, let max): _ = value.asDouble(min: min, max: max)
        case .boolean: _ = value.asBool()
        case .duration: _ = value.asDuration()
        case .size(let max): _ = value.asByteSize(max: max)
        case .choice(let words): _ = value.asChoice(words)
        case .strings: _ = value.asStrings()
        case .list: _ = value.asList()
        case .mapping: value.expectMapping()
        case .object(let settings): if value.expectMapping() { SettingSpec.check(value, against: settings) }
        case .items(let settings):
            for item in value.asList() ?? [] where item.expectMapping() { SettingSpec.check(item, against: settings) }
        case .custom: break
        }
    }
}

/// One setting of a stage kind, declared once: validation, fingerprints, the crawl journal's key,
/// `agentshop stages` and `docs/stages/<kind>.md` all read it.
public struct SettingSpec: Sendable {
    public let key: String
    public let type: SettingType
    /// What applies when the key is left out, as the reference shows it (`10`, `the seeds' hosts`);
    /// nil when the setting is required or has no default.
    public let defaultText: String?
    public let required: Bool
    /// One paragraph of Markdown.
    public let description: String
    /// Whether the value enters the stage's fingerprint (a change reruns the stage). Off only for
    /// settings no output depends on.
    public let fingerprint: Bool
    /// For a kind that resumes an interrupted run from a journal (fetch): whether a change to the
    /// setting discards the journal (true: it changes which URLs the run visits) or not (false).
    /// Nil for kinds without a journal. `StageKindSpec.journal` requires every setting to say.
    public let journal: Bool?
    /// How the reference shows the type, when the type's own label says too little (`daily | weekly | manual`).
    public let typeLabel: String

    public init(_ key: String, _ type: SettingType, label: String? = nil, default defaultText: String? = nil,
                required: Bool = false, fingerprint: Bool = true, journal: Bool? = nil, _ description: String) {
        self.key = key
        self.type = type
        self.typeLabel = label ?? type.label
        self.defaultText = defaultText
        self.required = required
        self.description = description
        self.fingerprint = fingerprint
        self.journal = journal
    }

    /// The settings of an `.object` or `.items` value (`per_host.delay`, `charts[].type`).
    public var fields: [SettingSpec] {
        switch type {
        case .object(let fields), .items(let fields): return fields
        default: return []
        }
    }

    /// Unknown keys, missing required ones and values of the wrong type, reported at their place.
    static func check(_ config: ConfigValue, against settings: [SettingSpec]) {
        let known = settings.map(\.key)
        for key in config.keys where !known.contains(key) {
            config.reportUnknownKey(key, known: known)
        }
        for setting in settings {
            guard let value = config.value(setting.key, required: setting.required) else { continue }
            setting.type.check(value)
        }
    }
}

/// A stage kind's declaration: its name, what it does, whether it writes `out:` files, and every
/// setting it takes (`SettingSpec`). The kind's configuration code reads the settings; the spec
/// is where they are listed, checked, fingerprinted and documented.
public struct StageKindSpec: Sendable {
    public let name: String
    /// One line for the kinds table and `--help`.
    public let summary: String
    public let outputs: OutputRule
    public let settings: [SettingSpec]
    /// The kind may be given without settings (`dump:` alone).
    public let acceptsEmpty: Bool
    /// The kind resumes interrupted runs from a journal keyed by its settings: every setting says
    /// whether it enters that key (`SettingSpec.journal`).
    public let journal: Bool
    /// False for kinds built without a declaration (test fakes): nothing is checked or documented
    /// from the spec, and the kind checks its own keys.
    public let isDeclared: Bool

    public init(name: String, summary: String, outputs: OutputRule, acceptsEmpty: Bool = false, journal: Bool = false,
                settings: [SettingSpec]) {
        self.name = name
        self.summary = summary
        self.outputs = outputs
        self.acceptsEmpty = acceptsEmpty
        self.journal = journal
        self.settings = settings
        self.isDeclared = true
    }

    /// A kind without declared settings: only its name, summary and outputs.
    public static func undeclared(name: String, summary: String, outputs: OutputRule) -> StageKindSpec {
        StageKindSpec(name: name, summary: summary, outputs: outputs)
    }

    private init(name: String, summary: String, outputs: OutputRule) {
        self.name = name
        self.summary = summary
        self.outputs = outputs
        self.acceptsEmpty = true
        self.journal = false
        self.settings = []
        self.isDeclared = false
    }

    public func setting(_ key: String) -> SettingSpec? { settings.first { $0.key == key } }

    /// Checks the kind's block (`fetch: {…}`) against the declared settings: unknown keys, missing
    /// required keys and wrongly typed values, each at its `file:line:col`.
    public func check(_ config: ConfigValue) {
        guard isDeclared, config.isMapping else { return }  // not a mapping: the kind's code says what it expected
        SettingSpec.check(config, against: settings)
    }

    /// The kind's block reduced to the settings with `include` (keys the spec does not know left
    /// out), as canonical JSON with `${VAR}` expanded: what a journal is keyed on.
    public func canonicalText(of config: ConfigValue, where include: (SettingSpec) -> Bool) -> String {
        guard case .object(let object) = config.jsonValue() else { return config.jsonValue().canonicalText() }
        let kept = object.entries.filter { entry in setting(entry.key).map(include) ?? false }
        return JSONValue.object(JSONObject(kept.map { ($0.key, $0.value) })).canonicalText()
    }

    /// The kind's block reduced to the settings that enter the fingerprint. Keys the spec does not
    /// know are kept (they are errors anyway), so that nothing is dropped silently.
    func fingerprintValue(_ value: JSONValue) -> JSONValue {
        guard isDeclared, case .object(var object) = value else { return value }
        for setting in settings where !setting.fingerprint { object[setting.key] = nil }
        return .object(object)
    }
}
