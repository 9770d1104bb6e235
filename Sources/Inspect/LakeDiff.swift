import Foundation
import Lake

/// Records added, removed and changed between two datasets (partitions, runs), matched by key.
///
/// The old side is held in memory as one canonical JSON line per key (so memory grows with the
/// old side's size, not with both); the new side is streamed.
public struct LakeDiff: Sendable {
    /// One field whose value differs, by dotted path.
    public struct FieldChange: Sendable, Equatable {
        public let field: String
        /// nil: the field is missing on that side.
        public let old: JSONValue?
        public let new: JSONValue?
    }

    public struct Change: Sendable, Equatable {
        public let key: JSONValue
        public let fields: [FieldChange]
    }

    public struct DuplicateKey: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let line: Int
        public let key: String
        public var description: String { "\(file): line \(line): key \(key) appears twice; --key must identify one record" }
    }

    public struct MissingKey: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let line: Int
        public let keyFields: [String]
        public var description: String {
            "\(file): line \(line): the record has no value for \(keyFields.joined(separator: ", ")); every record needs its key"
        }
    }

    public private(set) var added: [JSONObject] = []
    public private(set) var removed: [JSONObject] = []
    public private(set) var changed: [Change] = []
    public private(set) var unchanged = 0
    public let keyFields: [String]

    /// - Parameter key: field names (dotted paths reach into objects); several make a composite key.
    public init(old: [LakePath], new: [LakePath], key: [String], policy: MalformedPolicy = .fail,
                onReject: @escaping (RejectedRecord) -> Void = { _ in }) throws {
        keyFields = key
        var oldRecords: [String: (line: String, key: JSONValue, seen: Bool)] = [:]
        var order: [String] = []
        try Self.read(old, key: key, policy: policy, onReject: onReject) { keyText, keyValue, record, file, line in
            guard oldRecords[keyText] == nil else { throw DuplicateKey(file: file, line: line, key: keyText) }
            oldRecords[keyText] = (JSONValue.object(record).serialized(), keyValue, false)
            order.append(keyText)
        }
        var newKeys = Set<String>()
        try Self.read(new, key: key, policy: policy, onReject: onReject) { keyText, keyValue, record, file, line in
            guard newKeys.insert(keyText).inserted else { throw DuplicateKey(file: file, line: line, key: keyText) }
            guard let before = oldRecords[keyText] else { added.append(record); return }
            oldRecords[keyText]!.seen = true
            guard case .object(let oldRecord) = try JSONValue.parse(before.line) else { return }
            let fields = Self.changes(old: .object(oldRecord), new: .object(record), path: "")
            if fields.isEmpty { unchanged += 1 } else { changed.append(Change(key: keyValue, fields: fields)) }
        }
        for keyText in order where !oldRecords[keyText]!.seen {
            if case .object(let record) = try JSONValue.parse(oldRecords[keyText]!.line) { removed.append(record) }
        }
    }

    private static func read(_ files: [LakePath], key: [String], policy: MalformedPolicy,
                             onReject: @escaping (RejectedRecord) -> Void,
                             _ body: (String, JSONValue, JSONObject, String, Int) throws -> Void) throws {
        let paths = key.map { DottedPath(dotted: $0) }
        for file in files {
            // Gzip is inflated on a thread of its own, ahead of the parse.
            let reader = try RecordReader(path: file.absolute, displayPath: file.relative, policy: policy, inferTypes: true,
                                          readAhead: true, onReject: onReject)
            while let record = try reader.next() {
                let values = paths.map { $0.value(in: record) }
                if values.contains(where: \.isNull) { throw MissingKey(file: file.relative, line: reader.line, keyFields: key) }
                let keyValue: JSONValue = values.count == 1 ? values[0] : .array(values)
                try body(keyValue.canonicalText(), keyValue, record, file.relative, reader.line)
            }
        }
    }

    /// Leaf-level differences: objects are compared field by field (dotted paths), anything else
    /// as a whole. Integers and decimals that are equal numbers (`10` and `10.0`) are equal.
    static func changes(old: JSONValue, new: JSONValue, path: String) -> [FieldChange] {
        if case .object(let a) = old, case .object(let b) = new {
            var out: [FieldChange] = []
            for entry in a {
                let child = path.isEmpty ? entry.key : path + "." + entry.key
                if let other = b[entry.key] { out += changes(old: entry.value, new: other, path: child) }
                else { out.append(FieldChange(field: child, old: entry.value, new: nil)) }
            }
            for entry in b where a[entry.key] == nil {
                out.append(FieldChange(field: path.isEmpty ? entry.key : path + "." + entry.key, old: nil, new: entry.value))
            }
            return out
        }
        if old == new { return [] }
        if let x = old.doubleValue, let y = new.doubleValue, x == y { return [] }
        return [FieldChange(field: path, old: old, new: new)]
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}
