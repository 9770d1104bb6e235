import Foundation
import Lake

/// Where a lake file came from and what was built from it, from the run manifests.
///
/// Upstream follows content: an input is traced to the stage run whose output had the same path
/// and sha256, so a file rewritten since is not confused with the version that was read. A file
/// no stage run wrote is a raw source. Downstream lists the stage runs that read this content
/// and, in turn, what they wrote.
public struct Lineage: Sendable {
    public struct Node: Sendable {
        public let path: String
        public let sha256: String?
        /// The stage run that wrote this version; nil for a raw source (or a file no manifest knows).
        public let producer: StageRunRef?
        /// Records in this version, when the manifest counted them.
        public let records: Int?
        /// Upstream: the producer's inputs. Downstream: what the readers wrote.
        public let children: [Node]
        /// For downstream nodes: the stage run that read the parent and wrote this.
        public let via: StageRunRef?
        /// The node was already shown higher in the tree (a diamond); its children are not repeated.
        public let repeated: Bool
    }

    public let file: String
    public let upstream: Node
    /// Files written from this file, directly or not.
    public let downstream: [Node]

    /// - Parameter sha256: the content to trace; by default the version the latest writer wrote.
    public init(file: String, sha256: String? = nil, history: LakeHistory, maxDepth: Int = 32) {
        self.file = file
        var seenUp = Set<String>()
        func up(_ path: String, _ sha: String?, depth: Int) -> Node {
            let key = path + "@" + (sha ?? "")
            let written = history.writer(of: path, sha256: sha)
            guard let written, depth < maxDepth, seenUp.insert(key).inserted else {
                return Node(path: path, sha256: sha, producer: written?.run, records: written?.entry.records, children: [],
                            via: nil, repeated: written != nil && depth < maxDepth)
            }
            let inputs = written.run.stage.inputs.map { up($0.path, $0.sha256, depth: depth + 1) }
            return Node(path: path, sha256: written.entry.sha256, producer: written.run, records: written.entry.records,
                        children: inputs, via: nil, repeated: false)
        }
        upstream = up(file, sha256, depth: 0)

        var seenDown = Set<String>()
        func down(_ path: String, _ sha: String?, depth: Int) -> [Node] {
            guard depth < maxDepth else { return [] }
            var out: [Node] = []
            for reader in history.readers(of: path, sha256: sha) {
                for output in reader.stage.outputs {
                    let key = output.path + "@" + output.sha256
                    let first = seenDown.insert(key).inserted
                    out.append(Node(path: output.path, sha256: output.sha256, producer: reader, records: output.records,
                                    children: first ? down(output.path, output.sha256, depth: depth + 1) : [],
                                    via: reader, repeated: !first))
                }
            }
            return out
        }
        downstream = down(file, upstream.sha256, depth: 0)
    }

    /// Indented text: the file, who wrote it and from what, then what was built from it.
    public func render() -> String {
        var lines: [String] = []
        func describe(_ node: Node) -> String {
            var text = node.path
            if let run = node.producer {
                text += "  ← \(run.name) (\(run.stage.kind)) run \(run.runID) at \(run.at)"
                if let records = node.records { text += ", \(records) record\(records == 1 ? "" : "s")" }
            } else {
                text += "  (raw source)"
            }
            if node.repeated { text += " (shown above)" }
            return text
        }
        func walkUp(_ node: Node, _ indent: String) {
            for child in node.children {
                lines.append(indent + describe(child))
                walkUp(child, indent + "    ")
            }
        }
        lines.append(describe(upstream))
        if upstream.producer == nil && upstream.sha256 == nil && downstream.isEmpty {
            lines.append("  no run manifest mentions this file")
        }
        walkUp(upstream, "    ")
        if !downstream.isEmpty {
            lines.append("")
            lines.append("built from it:")
            func walkDown(_ nodes: [Node], _ indent: String) {
                for node in nodes {
                    lines.append(indent + describe(node))
                    walkDown(node.children, indent + "    ")
                }
            }
            walkDown(downstream, "    ")
        }
        return lines.joined(separator: "\n")
    }

    /// The lineage as JSON, for `--json`.
    public var json: JSONValue {
        func encode(_ node: Node) -> JSONValue {
            var fields: [(String, JSONValue)] = [("path", .string(node.path)), ("sha256", node.sha256.map { .string($0) } ?? .null)]
            if let run = node.producer {
                fields += [("pipeline", .string(run.pipeline)), ("stage", .string(run.stage.name)), ("kind", .string(run.stage.kind)),
                           ("run_id", .string(run.runID)), ("at", .string(run.at))]
            } else {
                fields.append(("raw_source", .bool(true)))
            }
            fields.append(("records", node.records.map { .int(Int64($0)) } ?? .null))
            if node.repeated { fields.append(("repeated", .bool(true))) }
            fields.append((node.via == nil ? "inputs" : "outputs", .array(node.children.map(encode))))
            return .object(JSONObject(fields))
        }
        return .object(JSONObject([("file", .string(file)), ("upstream", encode(upstream)),
                                   ("downstream", .array(downstream.map(encode)))]))
    }
}
