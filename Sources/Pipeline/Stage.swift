import Foundation
import Lake
import Logging

/// Where a stage reads from: another stage's outputs, or files already in the lake.
public enum StageInput: Sendable, Hashable, CustomStringConvertible {
    /// The outputs of the stage with this name.
    case stage(String)
    /// A lake-relative path or glob that no stage of the pipeline writes (a raw source).
    case files(String)

    public var description: String {
        switch self {
        case .stage(let name): return name
        case .files(let pattern): return pattern
        }
    }
}

/// Whether a stage kind writes files named by the stage's `out:` key.
public enum OutputRule: Sendable {
    /// `out:` is required: the stage writes these files.
    case required
    /// The stage writes outside the lake's datasets (a database, a notification): no `out:`.
    case none
}

/// A configured stage, ready to run: what a stage kind makes of its YAML.
public protocol StageDefinition: Sendable {
    /// What the stage reads. The engine resolves each to files and hashes them for the fingerprint.
    var inputs: [StageInput] { get }

    /// Anything besides the configuration text and the input files that changes the output
    /// (the content of a script, a model's version). Empty by default.
    func fingerprintExtra(lake: Lake) throws -> String

    /// A line for `agentshop plan` about what running would cost or send (an LLM stage's estimate),
    /// given the inputs as far as they are known before the run. Nil by default.
    func planNote(lake: Lake, inputs: [ResolvedInput]) -> String?

    /// Folders outside `out:` that the stage writes into atomically (a shared cache, the dump
    /// folder). Before a run the engine removes what dead runs left there half-written, as it
    /// does in output and state folders. Empty by default.
    func sideFolders(lake: Lake) -> [String]

    /// Why a stage whose fingerprint and outputs are unchanged must run all the same: it reads what
    /// the lake does not hold (the web, for a fetch stage past its refresh window). `previous` is the
    /// stage's last successful run. Nil (the default): up to date. `plan` and `run` both ask it.
    func staleReason(previous: PipelineState.StageState, now: Date) -> String?

    /// Whether an upstream stage's output (a lake-relative path) enters this stage's fingerprint.
    /// A file the stage does not read (the crawl log beside the WARC a parse stage reads) then cannot
    /// make it stale. True (the default) for every file.
    func fingerprints(input path: String) -> Bool

    /// The input files the stage reads whole, once each and one after another, as JSONL records
    /// through `RecordReader(sharing: (context.scans, context.stage))`: stages of a run that read
    /// the same file at the same time then read it once (`SharedScans`). Empty by default.
    func sharedScanFiles(_ inputs: [ResolvedInput]) -> [LakePath]

    /// Does the work: reads `context.inputFiles`, writes every path in `context.outputs`
    /// (atomically, through `RecordWriter` or `AtomicFile`), and reports counts.
    func run(_ context: StageContext) async throws -> StageReport
}

extension StageDefinition {
    public func fingerprintExtra(lake: Lake) throws -> String { "" }
    public func planNote(lake: Lake, inputs: [ResolvedInput]) -> String? { nil }
    public func sideFolders(lake: Lake) -> [String] { [] }
    public func staleReason(previous: PipelineState.StageState, now: Date) -> String? { nil }
    public func fingerprints(input path: String) -> Bool { true }
    public func sharedScanFiles(_ inputs: [ResolvedInput]) -> [LakePath] { [] }
}

/// A kind of stage as it appears in a pipeline file (`import:`, `command:`…).
public struct StageKind: Sendable {
    /// The declared settings: checked before `configure` runs, and the source of the fingerprint and the docs.
    public let spec: StageKindSpec
    public var name: String { spec.name }
    /// One line for `--help` and docs.
    public var summary: String { spec.summary }
    public var outputs: OutputRule { spec.outputs }
    /// Reads the kind's configuration. Problems go to the `ConfigValue`'s diagnostics; return nil
    /// when the configuration is unusable. Unknown keys and value types are checked from the spec;
    /// the code reads the declared settings and checks what a type cannot say.
    public let configure: @Sendable (_ config: ConfigValue, _ context: StageConfigContext) -> (any StageDefinition)?

    public init(spec: StageKindSpec,
                configure: @escaping @Sendable (ConfigValue, StageConfigContext) -> (any StageDefinition)?) {
        self.spec = spec
        self.configure = configure
    }

    /// A kind without a settings spec (a test fake): `configure` checks its own keys
    /// (`config.rejectUnknownKeys()`). Every shipped kind declares a spec.
    public init(name: String, summary: String, outputs: OutputRule,
                configure: @escaping @Sendable (ConfigValue, StageConfigContext) -> (any StageDefinition)?) {
        self.init(spec: .undeclared(name: name, summary: summary, outputs: outputs), configure: configure)
    }
}

/// The stage kinds a pipeline may use. A value, so that tests can build one holding only fakes.
public struct StageRegistry: Sendable {
    public private(set) var kinds: [String: StageKind] = [:]

    public init(_ kinds: [StageKind]) {
        for kind in kinds {
            precondition(self.kinds[kind.name] == nil, "stage kind '\(kind.name)' registered twice")
            self.kinds[kind.name] = kind
        }
    }

    public var names: [String] { kinds.keys.sorted() }
    public func kind(named name: String) -> StageKind? { kinds[name] }
    /// Kinds that declare no settings spec: none among the shipped ones (a test holds to it).
    public var undeclaredKinds: [String] { names.filter { kinds[$0]?.spec.isDeclared == false } }
}

/// What a stage kind knows while reading its configuration.
public struct StageConfigContext: Sendable {
    public let pipeline: String
    public let stage: String
    /// Every stage name in the pipeline, to tell stage references from lake paths.
    public let stageNames: [String]
    /// The project folder: the folder holding `pipelines/`, where scripts a stage runs live.
    public let projectFolder: String

    /// Reads `from:`-style inputs: each entry names a stage, or a lake path or glob (anything with a `/`).
    public func inputs(_ value: ConfigValue?) -> [StageInput]? {
        guard let value, let names = value.asStrings() else { return nil }
        var out: [StageInput] = []
        for name in names {
            if stageNames.contains(name) {
                if name == stage { value.error("a stage cannot read its own output"); return nil }
                out.append(.stage(name))
            } else if name.contains("/") {
                out.append(.files(name))
            } else {
                value.error("no stage named '\(name)'\(Suggestion.didYouMean(name, in: stageNames)); a lake path needs a folder, e.g. raw_data/imports/\(name)")
                return nil
            }
        }
        return out
    }
}

/// What a stage reports when it succeeds.
public struct StageReport: Sendable {
    /// Counts for the manifest: `records_in`, `records_out`, `rejected`, `inserted`…
    public var counts: [String: Int]
    /// Records per output file (lake-relative path), for the manifest.
    public var recordsPerOutput: [String: Int]
    /// Stage-specific detail for the manifest (LLM calls, crawl statuses…).
    public var details: JSONValue?

    public init(counts: [String: Int] = [:], recordsPerOutput: [String: Int] = [:], details: JSONValue? = nil) {
        self.counts = counts
        self.recordsPerOutput = recordsPerOutput
        self.details = details
    }
}

/// An error a stage raises for a reason the user can act on (bad data, a failed command).
public struct StageError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An input and the files it stands for in this run.
public struct ResolvedInput: Sendable {
    public let input: StageInput
    public let files: [LakePath]
}

/// A stage of the run that reads another stage's outputs (`from:` it), so that the stage it reads can do
/// work for it while it holds what both need (a fetch stage extracting a parse stage's fields from the
/// tree it parses for links). The reader still runs on its own and must give the same output without it.
public struct StageReader: Sendable {
    public let stage: String
    public let definition: any StageDefinition

    public init(stage: String, definition: any StageDefinition) {
        self.stage = stage
        self.definition = definition
    }
}

/// Everything a running stage may use. The engine makes one per stage run.
public final class StageContext: Sendable {
    public let lake: Lake
    public let pipeline: String
    public let stage: String
    public let runID: String
    /// `YYYY-MM-DD`, the date partitions are named after.
    public let runDate: String
    public let logger: Logger
    public let environment: PipelineEnvironment
    /// Input files per input, in the order the stage declared its inputs.
    public let inputs: [ResolvedInput]
    /// The files this stage must write, templates expanded.
    public let outputs: [LakePath]
    /// Where malformed records go when a stage's policy is `skip` (created only if needed).
    public let rejectsPath: LakePath
    /// A folder for this stage's own state between runs (crawl frontier, caches).
    public let stateFolder: String
    /// Ask again instead of reusing answers cached by earlier runs (`agentshop run --no-cache`).
    public let refreshCaches: Bool
    /// The stage's `csv:` settings, for the CSV files it writes.
    public let csvCells: CSVCellOptions
    /// The stages of this run that read this stage's outputs, in the pipeline's order.
    public let readers: [StageReader]
    /// The run's shared scans: JSONL files read once for the stages reading them at the same time.
    public let scans: SharedScans
    private let onProgress: @Sendable (Int, Int?) -> Void

    init(lake: Lake, pipeline: String, stage: String, runID: String, runDate: String, logger: Logger,
         environment: PipelineEnvironment, inputs: [ResolvedInput], outputs: [LakePath],
         rejectsPath: LakePath, stateFolder: String, refreshCaches: Bool = false, csvCells: CSVCellOptions = CSVCellOptions(),
         readers: [StageReader] = [], scans: SharedScans = SharedScans(), onProgress: @escaping @Sendable (Int, Int?) -> Void) {
        self.lake = lake
        self.pipeline = pipeline
        self.stage = stage
        self.runID = runID
        self.runDate = runDate
        self.logger = logger
        self.environment = environment
        self.inputs = inputs
        self.outputs = outputs
        self.rejectsPath = rejectsPath
        self.stateFolder = stateFolder
        self.refreshCaches = refreshCaches
        self.csvCells = csvCells
        self.readers = readers
        self.scans = scans
        self.onProgress = onProgress
    }

    /// The state folder of a stage (`stateFolder` of its context), for code that needs it outside a run.
    public static func stateFolder(lake: Lake, pipeline: String, stage: String) -> String {
        lake.stateFolder + "/stages/\(pipeline)/\(stage)"
    }

    /// All input files, in declaration order, without repeats.
    public var allInputFiles: [LakePath] {
        var seen = Set<LakePath>()
        return inputs.flatMap(\.files).filter { seen.insert($0).inserted }
    }

    public func files(for input: StageInput) -> [LakePath] { inputs.first { $0.input == input }?.files ?? [] }

    /// Where a stage that starts a process group records it, so that the next run can stop it
    /// if this run is killed before it could.
    public var childProcessGuard: OrphanGuard { OrphanGuard(path: stateFolder + "/child.pid") }

    /// Reports progress (units done, of a total when known); shown on a terminal.
    public func progress(_ done: Int, of total: Int? = nil) { onProgress(done, total) }
}
