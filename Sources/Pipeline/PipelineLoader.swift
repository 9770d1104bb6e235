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
    static let topLevelKeys = ["pipeline", "description", "schedule", "notify", "max_parallel", "stages"]

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
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                diagnostics.error(line: 1, column: 1, keyPath: "", "the pipeline file is empty")
                return nil
            }
            root = node
        } catch let error as YamlError {
            Self.report(error, to: diagnostics)
            return nil
        } catch {
            diagnostics.error(line: 1, column: 1, keyPath: "", "cannot parse YAML: \(error)")
            return nil
        }
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
        return PipelineSpec(name: name, file: diagnostics.file, description: description, schedule: schedule,
                            schedulePolicy: schedulePolicy, notify: notify, maxParallel: maxParallel, stages: linked)
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
