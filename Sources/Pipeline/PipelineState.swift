import Foundation
import Lake

/// What the last successful run of each stage produced, and from what: the basis for skipping.
///
/// Kept at `.agentshop/state/<pipeline>.json` in the lake, rewritten atomically after each stage.
public struct PipelineState: Codable, Sendable {
    public struct StageState: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var parts: FingerprintParts
        public var outputs: [RunManifest.FileEntry]
        public var runID: String
        /// When the run of the stage began (ISO 8601); nil in states written before it was kept.
        public var startedAt: String?
        public var finishedAt: String

        public init(fingerprint: String, parts: FingerprintParts, outputs: [RunManifest.FileEntry], runID: String,
                    startedAt: String? = nil, finishedAt: String) {
            self.fingerprint = fingerprint
            self.parts = parts
            self.outputs = outputs
            self.runID = runID
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }
    }

    public var stages: [String: StageState] = [:]

    public init() {}

    public static func path(lake: Lake, pipeline: String) -> String {
        lake.stateFolder + "/state/" + pipeline + ".json"
    }

    public static func load(lake: Lake, pipeline: String) -> PipelineState {
        guard let data = FileManager.default.contents(atPath: path(lake: lake, pipeline: pipeline)),
              let state = try? JSONDecoder().decode(PipelineState.self, from: data) else { return PipelineState() }
        return state
    }

    public func save(lake: Lake, pipeline: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(Array(try encoder.encode(self)), to: Self.path(lake: lake, pipeline: pipeline))
    }
}

/// The pieces a stage fingerprint is made of, kept so that `plan` can say what changed.
public struct FingerprintParts: Codable, Sendable, Equatable {
    public var toolVersion: String
    public var kind: String
    /// SHA-256 of the canonical configuration text.
    public var config: String
    /// Input files (lake-relative) and their SHA-256.
    public var inputs: [String: String]
    /// Output paths for this run.
    public var outputs: [String]
    /// SHA-256 of the kind's extra material.
    public var extra: String

    /// The fingerprint: SHA-256 over all the parts in a fixed order.
    public var fingerprint: String {
        var text = "agentshop-fingerprint-v1\n\(toolVersion)\n\(kind)\n\(config)\n\(extra)\n"
        for path in inputs.keys.sorted() { text += "in \(path) \(inputs[path]!)\n" }
        for path in outputs { text += "out \(path)\n" }
        return SHA256.hex(of: text)
    }

    /// Why `self` differs from `previous`, in words.
    public func differences(from previous: FingerprintParts) -> String {
        if toolVersion != previous.toolVersion { return "agentshop version changed (\(previous.toolVersion) → \(toolVersion))" }
        if kind != previous.kind || config != previous.config { return "configuration changed" }
        if extra != previous.extra { return "code or settings it depends on changed" }
        if outputs != previous.outputs { return "output paths changed (\(outputs.joined(separator: ", ")))" }
        let changed = inputs.keys.filter { previous.inputs[$0] != nil && previous.inputs[$0] != inputs[$0] }.sorted()
        if let first = changed.first { return "input changed: \(first)" + (changed.count > 1 ? " and \(changed.count - 1) more" : "") }
        let added = inputs.keys.filter { previous.inputs[$0] == nil }.sorted()
        if let first = added.first { return "new input: \(first)" + (added.count > 1 ? " and \(added.count - 1) more" : "") }
        let removed = previous.inputs.keys.filter { inputs[$0] == nil }.sorted()
        if let first = removed.first { return "input removed: \(first)" }
        return "fingerprint changed"
    }
}

// Keys are snake_case; states of earlier versions (camelCase) still read, so an up-to-date
// pipeline stays up to date across the upgrade.
extension PipelineState.StageState {
    enum CodingKeys: String, CodingKey {
        case fingerprint, parts, outputs, runID = "run_id", startedAt = "started_at", finishedAt = "finished_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
        self.init(fingerprint: try c.decode(String.self, forKey: .fingerprint),
                  parts: try c.decode(FingerprintParts.self, forKey: .parts),
                  outputs: try c.decode([RunManifest.FileEntry].self, forKey: .outputs),
                  runID: try c.decode(String.self, forKey: .runID, orLegacy: "runID"),
                  startedAt: try c.decodeIfPresent(String.self, forKey: .startedAt, orLegacy: "startedAt"),
                  finishedAt: try c.decode(String.self, forKey: .finishedAt, orLegacy: "finishedAt"))
    }
}

extension FingerprintParts {
    enum CodingKeys: String, CodingKey {
        case toolVersion = "tool_version", kind, config, inputs, outputs, extra
    }

    public init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
        toolVersion = try c.decode(String.self, forKey: .toolVersion, orLegacy: "toolVersion")
        kind = try c.decode(String.self, forKey: .kind)
        config = try c.decode(String.self, forKey: .config)
        inputs = try c.decode([String: String].self, forKey: .inputs)
        outputs = try c.decode([String].self, forKey: .outputs)
        extra = try c.decode(String.self, forKey: .extra)
    }
}

/// The version that goes into every fingerprint.
public enum ToolVersion {
    public static let current = "0.1.0"
}
