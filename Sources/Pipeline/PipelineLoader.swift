import Foundation
import Lake
internal import Yams

/// Reads a pipeline file into a `PipelineSpec`, collecting every problem at once.
public struct PipelineLoader: Sendable {
    public let registry: StageRegistry
    public let environment: PipelineEnvironment
    /// When given, file inputs are checked to exist in this lake.
    public let lake: Lake?

    public init(registry: StageRegistry, environment: PipelineEnvironment, lake: Lake?) {
        self.registry = registry
        self.environment = environment
        self.lake = lake
    }

    static let commonStageKeys = ["out", "after", "description", "allow_empty", "csv"]
    static let topLevelKeys = ["pipeline", "description", "schedule", "notify", "max_parallel", "store", "stages"]

    /// Loads and validates `file`. Throws `PipelineValidationError` with every error found;
    /// returns the spec and any warnings otherwise.
    public func load(file: String) throws(PipelineValidationError) -> (PipelineSpec, [Diagnostic]) {
        let diagnostics = Diagnostics(file: file)
        // Read with the lake's own file input: Foundation's FileManager.contents leaks a buffer
        // on empty files (LeakSanitizer, found by fuzzing).
        guard let bytes = try? FileInput.readAll(path: file) else {
            diagnostics.error(line: 1, column: 1, keyPath: "", "cannot read the pipeline file")
            throw PipelineValidationError(diagnostics: diagnostics.all)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            diagnostics.error(line: 1, column: 1, keyPath: "", "the pipeline file is not valid UTF-8")
            throw PipelineValidationError(diagnostics: diagnostics.all)
        }
        let defaultName = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let spec = load(text: text, defaultName: defaultName, diagnostics: diagnostics)
        if diagnostics.hasErrors || spec == nil { throw PipelineValidationError(diagnostics: diagnostics.all.sorted()) }
        return (spec!, diagnostics.all.filter { $0.severity == .warning }.sorted())
    }

    func load(text: String, defaultName: String, diagnostics: Diagnostics) -> PipelineSpec? {
        guard let root = Self.compose(text, diagnostics: diagnostics, empty: "the pipeline file is empty") else { return nil }
        let top = ConfigValue(node: root, keyPath: "", diagnostics: diagnostics, environment: environment)
        guard top.expectMapping() else { return nil }

        let name = top.string("pipeline") ?? defaultName
        if let value = top.value("pipeline"), !Self.isValidName(name) {
            value.error("pipeline names may hold letters, digits, '_' and '-' only, found '\(name)'")
        }
        let description = top.string("description")
        let scheduleValue = top.value("schedule")
        let schedule = scheduleValue.flatMap(Self.readSchedule)
        let schedulePolicy = scheduleValue.map { $0.isMapping ? SchedulePolicy.read($0) : SchedulePolicy() } ?? SchedulePolicy()
        let notify = top.value("notify").flatMap(NotifySpec.read)
        let maxParallel = top.int("max_parallel", min: 1, max: 64) ?? 2
        let store = top.string("store")
        let stagesValue = top.value("stages", required: true)
        top.rejectUnknownKeys()
        guard let stagesValue else { return nil }
        guard let entries = stagesValue.entries() else { return nil }
        if entries.isEmpty { stagesValue.error("a pipeline needs at least one stage") }
        let stageNames = entries.map(\.key)

        var stages: [StageSpec] = []
        var outputValues: [String: [ConfigValue]] = [:]
        var outputOwners: [String: (stage: String, line: Int)] = [:]
        for (stageName, value) in entries {
            if !Self.isValidName(stageName) {
                value.error("stage names may hold letters, digits, '_' and '-' only")
            }
            guard let stage = readStage(stageName, value, pipeline: name, stageNames: stageNames) else { continue }
            for (template, templateValue) in zip(stage.outputTemplates, stage.outputValues) {
                if let owner = outputOwners[Self.normalised(template)] {
                    templateValue.error("'\(template)' is also written by stage '\(owner.stage)' (line \(owner.line)); each file has one writer")
                } else {
                    outputOwners[Self.normalised(template)] = (stageName, templateValue.line)
                }
            }
            stages.append(stage.spec)
            outputValues[stageName] = stage.outputValues
        }

        // File inputs written by another stage make an edge in the graph; the rest must exist.
        var linked: [StageSpec] = []
        for stage in stages {
            var upstream = stage.upstream
            for case .files(let pattern) in stage.definition.inputs {
                // A stage reading its own output would take in what its last run wrote, and grow on itself.
                for (template, value) in zip(stage.outputTemplates, outputValues[stage.name] ?? [])
                where Self.matches(pattern: pattern, template: template) {
                    value.error("'\(template)' matches this stage's own input '\(pattern)': the stage would read what it wrote "
                                + "(a stage feeding on itself); write somewhere its input does not cover")
                }
                let writers = stages.filter { other in
                    other.name != stage.name && other.outputTemplates.contains { Self.matches(pattern: pattern, template: $0) }
                }
                if writers.isEmpty {
                    checkSourceExists(pattern, stage: stage, diagnostics: diagnostics)
                }
                upstream += writers.map(\.name)
            }
            linked.append(StageSpec(name: stage.name, kind: stage.kind, definition: stage.definition,
                                    outputTemplates: stage.outputTemplates, upstream: Self.unique(upstream),
                                    canonicalConfig: stage.canonicalConfig, line: stage.line, column: stage.column,
                                    allowEmpty: stage.allowEmpty, csvCells: stage.csvCells))
        }

        if let cycle = PipelineGraph.findCycle(linked) {
            let first = linked.first { $0.name == cycle[0] }!
            diagnostics.error(line: first.line, column: first.column, keyPath: "stages." + first.name,
                              "cycle: " + cycle.joined(separator: " -> "))
        }
        var spec = PipelineSpec(name: name, file: diagnostics.file, description: description, schedule: schedule,
                                schedulePolicy: schedulePolicy, notify: notify, maxParallel: maxParallel, stages: linked)
        spec.store = store
        return spec
    }

    /// `schedule: "0 3 * * *"` or `schedule: { cron: "0 3 * * *", timezone: Europe/Paris }`, plus the
    /// scheduler's policy keys (`missed`, `timeout`, `retries`, `retry_delay`), read by `SchedulePolicy`.
    static func readSchedule(_ value: ConfigValue) -> Schedule? {
        var text: String?
        var zone: String?
        var at = value
        if value.isMapping {
            if let cron = value.value("cron", required: true) { at = cron; text = cron.asString() }
            zone = value.string("timezone")
            value.rejectUnknownKeys(also: ["missed", "timeout", "retries", "retry_delay"])
        } else {
            text = value.asString()
        }
        guard let text else { return nil }
        do {
            return try Schedule(text, timeZone: zone)
        } catch {
            at.error(error.message)
            return nil
        }
    }

    private struct ReadStage {
        let spec: StageSpec
        let outputTemplates: [String]
        let outputValues: [ConfigValue]
        var upstream: [String] { spec.upstream }
    }

    private func readStage(_ name: String, _ value: ConfigValue, pipeline: String, stageNames: [String]) -> ReadStage? {
        guard value.expectMapping() else { return nil }
        let keys = value.keys
        let kindKeys = keys.filter { registry.kind(named: $0) != nil }.compactMap { key in value.value(key).map { (key: key, value: $0) } }
        guard let kindEntry = kindKeys.first else {
            let unknown = keys.filter { !Self.commonStageKeys.contains($0) }
            let hint = unknown.compactMap { Suggestion.closest(to: $0, in: registry.names) }.first.map { " (did you mean '\($0)'?)" } ?? ""
            value.error("no stage kind: add one of \(registry.names.joined(separator: ", "))\(hint)")
            return nil
        }
        if kindKeys.count > 1 {
            kindKeys[1].value.error("a stage has one kind; found \(kindKeys.map { "'\($0.key)'" }.joined(separator: " and "))")
        }
        let kind = registry.kind(named: kindEntry.key)!
        let context = StageConfigContext(pipeline: pipeline, stage: name, stageNames: stageNames,
                                         projectFolder: Self.projectFolder(ofPipelineFile: value.diagnostics.file))
        kind.spec.check(kindEntry.value)
        let definition = kind.configure(kindEntry.value, context)

        var templates: [String] = []
        var templateValues: [ConfigValue] = []
        if let out = value.value("out") {
            if kind.outputs == .none {
                out.error("'\(kind.name)' stages write no files; remove 'out'")
            } else if let list = out.isSequence ? out.asList() : [out] {
                for item in list {
                    guard let template = item.asString() else { continue }
                    if checkOutputTemplate(template, at: item) {
                        templates.append(template)
                        templateValues.append(item)
                    }
                }
            }
        } else if kind.outputs == .required {
            value.error("missing required key 'out' (the file this stage writes)")
        }

        var after: [String] = []
        if let afterValue = value.value("after"), let names = afterValue.asStrings() {
            for other in names {
                if other == name { afterValue.error("a stage cannot run after itself") }
                else if !stageNames.contains(other) {
                    afterValue.error("no stage named '\(other)'\(Suggestion.didYouMean(other, in: stageNames))")
                } else { after.append(other) }
            }
        }
        _ = value.string("description")
        let allowEmpty = value.bool("allow_empty") ?? false
        if allowEmpty && kind.outputs == .none {
            value.value("allow_empty")?.error("'\(kind.name)' stages write no files; remove 'allow_empty'")
        }
        // `csv: { null_value: '\N', excel_safe: true }`: how the stage's CSV outputs write cells.
        var csvCells = CSVCellOptions()
        if let csv = value.value("csv"), csv.expectMapping() {
            if let text = csv.string("null_value") { csvCells.nullValue = text }
            if let safe = csv.bool("excel_safe") { csvCells.excelSafe = safe }
            csv.rejectUnknownKeys()
            if !templates.isEmpty && !templates.contains(where: { RecordFileType(path: $0)?.format == .csv }) {
                csv.error("'csv' sets how CSV outputs are written, and this stage writes none")
            }
        }
        value.rejectUnknownKeys(also: registry.names)
        guard let definition else { return nil }

        var upstream: [String] = []
        for case .stage(let other) in definition.inputs { upstream.append(other) }
        upstream += after
        var config = value.jsonValue()
        if case .object(var object) = config {
            object["description"] = nil
            object["allow_empty"] = nil
            if let settings = object[kind.name] { object[kind.name] = kind.spec.fingerprintValue(settings) }
            config = .object(object)
        }
        var spec = StageSpec(name: name, kind: kind.name, definition: definition, outputTemplates: templates,
                             upstream: Self.unique(upstream), canonicalConfig: config.canonicalText(),
                             line: value.line, column: value.column)
        spec.allowEmpty = allowEmpty
        spec.csvCells = csvCells
        return ReadStage(spec: spec, outputTemplates: templates, outputValues: templateValues)
    }

    private func checkOutputTemplate(_ template: String, at value: ConfigValue) -> Bool {
        let unknown = OutputTemplate.unknownPlaceholders(in: template)
        if !unknown.isEmpty {
            value.error("unknown placeholder {\(unknown[0])}; known: " + OutputTemplate.placeholders.map { "{\($0)}" }.joined(separator: ", "))
            return false
        }
        let sample = OutputTemplate.expand(template, runID: "r", runDate: "2000-01-01", pipeline: "p", stage: "s")
        do {
            _ = try Lake(root: "/nonexistent-agentshop-lake").resolve(sample)
        } catch {
            value.error("\((error as? LakeError)?.reason ?? "\(error)")")
            return false
        }
        let first = sample.split(separator: "/").first { $0 != "." }.map(String.init) ?? ""
        if let reason = Self.reservedFolders[first] {
            value.error("a stage cannot write \(first)/: \(reason)")
            return false
        }
        if sample.split(separator: "/").contains(where: { $0 != "." && $0.hasPrefix(".") }) {
            value.error("an output path cannot name a hidden file or folder (starting with '.'): .agentshop holds AgentShop's own state, and listings skip hidden files")
            return false
        }
        if sample.contains(where: { "*?[".contains($0) }) {
            value.error("an output path cannot be a glob")
            return false
        }
        return true
    }

    private func checkSourceExists(_ pattern: String, stage: StageSpec, diagnostics: Diagnostics) {
        guard let lake else { return }
        do {
            if try lake.glob(OutputTemplate.asGlob(pattern)).isEmpty {
                diagnostics.error(line: stage.line, column: stage.column, keyPath: "stages.\(stage.name)",
                                  "no file in the lake (\(lake.root)) matches '\(pattern)', and no stage writes it")
            }
        } catch {
            diagnostics.error(line: stage.line, column: stage.column, keyPath: "stages.\(stage.name)",
                              "input '\(pattern)': \((error as? LakeError)?.reason ?? "\(error)")")
        }
    }

    /// Lake folders that only AgentShop itself writes, with why: a stage's `out:` there would replace the live store,
    /// a verified dump or AgentShop's own state.
    static let reservedFolders: [String: String] = [
        "store": "it holds the live marketplace store; write the store with a materialize stage",
        "db_dumps": "it holds the store's dumps and their checksums; take one with a dump stage",
        ".agentshop": "it holds AgentShop's own state (fingerprints, locks, crawl journals)",
    ]

    /// `a//b/./c` → `a/b/c`: how the lake resolves it, so two spellings of one file are one output.
    static func normalised(_ template: String) -> String {
        template.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    static func matches(pattern: String, template: String) -> Bool {
        pattern == template || fnmatch(pattern, template, FNM_PATHNAME) == 0
            || fnmatch(pattern, OutputTemplate.asGlob(template), FNM_PATHNAME) == 0
    }

    /// `X/pipelines/a.yaml` → `X`; a file anywhere else → its own folder. Absolute.
    public static func projectFolder(ofPipelineFile file: String) -> String {
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        let folder = URL(fileURLWithPath: absolute).standardizedFileURL.deletingLastPathComponent()
        return folder.lastPathComponent == "pipelines" ? folder.deletingLastPathComponent().path : folder.path
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }
    }

    static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    // MARK: Reading YAML

    /// Values an alias may bring in, all aliases of a file together. A pipeline written by hand
    /// stays far below; "billion laughs" (aliases of aliases) would otherwise expand to millions
    /// of values as soon as anything walks the tree (validation, fingerprints, `plan`).
    public static let maxAliasedValues = 10_000

    /// The one place a YAML configuration file is read: `validate`, `run`, `plan`, the scheduler
    /// and `doctor` all load pipelines through here, and the lake's retention policy too. A UTF-8
    /// byte order mark is skipped; aliases are bounded (`maxAliasedValues`). Nil when the text
    /// is not YAML, is empty or expands too far (problems in `diagnostics`).
    static func compose(_ text: String, diagnostics: Diagnostics, empty: String) -> Node? {
        var text = text
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        // An alias is a `*name` token; without a '*' anywhere there is nothing to bound.
        let mayHaveAliases = text.utf8.contains(UInt8(ascii: "*"))
        if mayHaveAliases, let problem = AliasBound.checkKeys(text) {
            diagnostics.error(line: problem.line, column: problem.column, keyPath: "", problem.message)
            return nil
        }
        do {
            // The parser owns the anchors (nodes hold them weakly): keep it while the tree is walked.
            let parser = try Yams.Parser(yaml: text)
            guard let node = try parser.singleRoot() else {
                diagnostics.error(line: 1, column: 1, keyPath: "", empty)
                return nil
            }
            if mayHaveAliases {
                var bound = AliasBound(text: text, limit: maxAliasedValues)
                let fine = withExtendedLifetime(parser) { bound.walk(node, keyPath: "", parentMark: nil, aliased: false) }
                if !fine, let problem = bound.problem {
                    diagnostics.error(line: problem.line, column: problem.column, keyPath: problem.keyPath, problem.message)
                    return nil
                }
            }
            return node
        } catch let error as YamlError {
            report(error, to: diagnostics)
        } catch {
            diagnostics.error(line: 1, column: 1, keyPath: "", "cannot parse YAML: \(error)")
        }
        return nil
    }

    static func report(_ error: YamlError, to diagnostics: Diagnostics) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { "\(problem) (\($0.text))" } ?? problem
            diagnostics.error(line: mark.line, column: mark.column, keyPath: "", "invalid YAML: \(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            diagnostics.error(line: context.mark.line, column: context.mark.column, keyPath: "",
                              "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in a mapping")
        case .reader(let problem, let offset, _, _):
            diagnostics.error(line: 1, column: 1, keyPath: "", "cannot read YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            diagnostics.error(line: 1, column: 1, keyPath: "", "invalid YAML: \(error)")
        }
    }
}

/// Counts the values reached through YAML aliases, stopping at a limit: the walk costs at most
/// the file's own nodes plus `limit`, however far the aliases would expand.
struct AliasBound {
    struct Problem {
        var line: Int
        var column: Int
        var keyPath: String
        var message: String
    }

    let lines: [Substring]
    let limit: Int
    private var aliased = 0
    private var defined: Set<ObjectIdentifier> = []
    private(set) var problem: Problem?

    init(text: String, limit: Int) {
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        self.limit = limit
    }

    /// False (with `problem` set) as soon as aliases have brought in more than `limit` values.
    /// `parentMark` is where the enclosing key or item starts: the alias is searched after it.
    mutating func walk(_ node: Node, keyPath: String, parentMark: Mark?, aliased isAliased: Bool) -> Bool {
        var isAliased = isAliased
        if let anchor = node.anchor, !defined.insert(ObjectIdentifier(anchor)).inserted, !isAliased {
            // The anchor was defined before: this node is an alias of it. The walk meets the
            // file's aliases in text order, so each is found after the previous one.
            isAliased = true
            var from = parentMark.map { ($0.line, $0.column) } ?? (1, 1)
            if let cursor, cursor > from { from = cursor }
            let position = find("*" + anchor.rawValue, from: from) ?? from
            cursor = (position.0, position.1 + 1)
            aliasStart = (anchor.rawValue, position, keyPath)
        }
        if isAliased {
            aliased += 1
            if aliased > limit {
                let (name, position, path) = aliasStart ?? ("", (1, 1), keyPath)
                problem = Problem(line: position.0, column: position.1, keyPath: path,
                                  message: "the alias *\(name) expands to more than \(limit) values (aliases of aliases); "
                                      + "write the values out, or alias less")
                return false
            }
        }
        switch node {
        case .scalar, .alias: return true
        case .sequence(let items):
            for (i, item) in items.enumerated() {
                let path = keyPath.isEmpty ? "\(i)" : keyPath + ".\(i)"
                guard walk(item, keyPath: path, parentMark: item.anchor == nil ? item.mark : parentMark ?? node.mark,
                           aliased: isAliased) else { return false }
            }
        case .mapping(let mapping):
            for pair in mapping {
                let key = pair.key.string ?? "?"
                let path = keyPath.isEmpty ? key : keyPath + "." + key
                guard walk(pair.key, keyPath: path, parentMark: parentMark ?? node.mark, aliased: isAliased),
                      walk(pair.value, keyPath: path, parentMark: pair.key.mark, aliased: isAliased) else { return false }
            }
        }
        return true
    }

    private var aliasStart: (name: String, position: (Int, Int), path: String)?
    /// Just past the last alias found in the text.
    private var cursor: (Int, Int)?

    /// Line and column (1-based, columns in characters as YAML marks count them) of the first
    /// `token` at or after `from`.
    private func find(_ token: String, from: (line: Int, column: Int)) -> (Int, Int)? {
        let start = max(0, from.line - 1)
        guard start < lines.count else { return nil }
        for index in start..<lines.count {
            var line = lines[index]
            var offset = 0
            if index == start, from.column > 1 {
                let skip = min(line.unicodeScalars.count, from.column - 1)
                line = Substring(line.unicodeScalars.dropFirst(skip))
                offset = skip
            }
            if let range = line.range(of: token) {
                return (index + 1, offset + line.unicodeScalars.distance(from: line.startIndex, to: range.lowerBound) + 1)
            }
        }
        return nil
    }

    /// A mapping key that is an alias is refused before the file is composed: the YAML library
    /// hashes every key to find duplicates, and hashing an aliased key walks all it expands to.
    /// Found on the text (`? *a`, `*a :`), which needs no parse; nil when there is none.
    static func checkKeys(_ text: String) -> (line: Int, column: Int, message: String)? {
        // Every alias token becomes a plain scalar of the same length (`*name` → `xname`), so the
        // copy composes without expanding anything and its marks are the original's positions.
        var bytes = Array(text.utf8)
        var changed = false
        for i in bytes.indices.dropLast() where bytes[i] == UInt8(ascii: "*") && isNameByte(bytes[i + 1]) {
            bytes[i] = UInt8(ascii: "x")
            changed = true
        }
        guard changed, let neutered = String(validating: bytes, as: UTF8.self),
              let root = try? Yams.compose(yaml: neutered) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        /// The alias name when `node` stands where the original text has an alias.
        func alias(at node: Node) -> String? {
            guard case .scalar = node, let mark = node.mark, mark.line >= 1, mark.line <= lines.count else { return nil }
            let line = lines[mark.line - 1]
            guard mark.column >= 1, mark.column <= line.count, line[mark.column - 1] == "*" else { return nil }
            return String(String.UnicodeScalarView(line[mark.column...].prefix { $0.isASCII && isNameByte(UInt8($0.value)) }))
        }
        func firstAlias(in node: Node) -> (Node, String)? {
            switch node {
            case .scalar: return alias(at: node).map { (node, $0) }
            case .alias: return nil
            case .sequence(let items): return items.lazy.compactMap(firstAlias).first
            case .mapping(let mapping):
                return mapping.lazy.compactMap { firstAlias(in: $0.key) ?? firstAlias(in: $0.value) }.first
            }
        }
        var stack = [root]
        while let node = stack.popLast() {
            switch node {
            case .scalar, .alias: continue
            case .sequence(let items): stack += items
            case .mapping(let mapping):
                for pair in mapping {
                    if let (found, name) = firstAlias(in: pair.key) {
                        return (found.mark?.line ?? 1, found.mark?.column ?? 1,
                                "a mapping key cannot be an alias (*\(name)): write the key out")
                    }
                    stack.append(pair.value)
                }
            }
        }
        return nil
    }

    /// Characters of an anchor or alias name, as libyaml scans them.
    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
}
