import Foundation
import Lake

/// The inferred columns of record files, remembered so that a second query over an unchanged
/// file does not read it once more just to learn its columns (the schema pass is a full read:
/// 40% of a GROUP BY over 2M records).
///
/// An entry is keyed by the file's absolute path and holds its size, modification time (to the
/// nanosecond), inode and device: a file rewritten in any way that changes one of them (every
/// atomic publish does: a new inode) is surveyed again. Only files that surveyed without a
/// malformed record are remembered, so a cached schema never hides a reject. The cache lives in
/// one JSON file in the lake's state folder, written atomically; losing it costs one survey.
public final class SchemaCache {
    /// Where the entries are kept (`<lake>/.agentshop/query/schemas.json`).
    public let path: String
    /// Entries kept at most; the least recently used go first.
    public let capacity: Int

    struct Identity: Equatable {
        var size: Int64
        var modifiedNanoseconds: Int64
        var inode: UInt64
        var device: UInt64

        /// The identity of the file at `path` now; nil when it cannot be read.
        static func of(_ path: String) -> Identity? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return Identity(size: Int64(info.st_size),
                            modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                            inode: UInt64(info.st_ino), device: UInt64(info.st_dev))
        }
    }

    /// One surveyed file: its columns in first-seen order (nil type: only nulls seen) and records.
    struct Entry {
        var identity: Identity
        /// CSV cells typed or not: the same file gives other types either way.
        var inferCSVTypes: Bool
        var columns: [(name: String, type: SQLColumnType?)]
        var rows: Int
        var used: Int
    }

    private var entries: [String: Entry] = [:]
    private var changed = false
    private var clock = 0

    /// The cache of `lake`, read from its state folder (empty when absent or unreadable).
    public convenience init(lake: Lake) {
        self.init(path: lake.stateFolder + "/query/schemas.json")
    }

    public init(path: String, capacity: Int = 2000) {
        self.path = path
        self.capacity = capacity
        load()
    }

    /// The entry for `file` when it is unchanged since it was surveyed.
    func lookup(_ file: String, identity: Identity, inferCSVTypes: Bool) -> Entry? {
        guard var entry = entries[file], entry.identity == identity, entry.inferCSVTypes == inferCSVTypes else { return nil }
        clock += 1
        entry.used = clock
        entries[file] = entry
        return entry
    }

    func store(_ file: String, _ entry: Entry) {
        var entry = entry
        clock += 1
        entry.used = clock
        entries[file] = entry
        changed = true
        if entries.count > capacity {
            let oldest = entries.sorted { $0.value.used < $1.value.used }.prefix(entries.count - capacity)
            for (key, _) in oldest { entries.removeValue(forKey: key) }
        }
    }

    /// Writes the entries when one was added. A cache is an optimisation: a lake that cannot be
    /// written to (read-only, full) only loses it.
    public func save() {
        guard changed else { return }
        let ordered = entries.sorted { $0.value.used < $1.value.used }
        var files: [JSONValue] = []
        for (file, entry) in ordered {
            let columns: [JSONValue] = entry.columns.map { column in
                .array([.string(column.name), column.type.map { .string($0.rawValue) } ?? .null])
            }
            files.append(.object(JSONObject([
                ("path", .string(file)), ("size", .int(entry.identity.size)),
                ("mtime_ns", .int(entry.identity.modifiedNanoseconds)),
                ("inode", .int(Int64(bitPattern: entry.identity.inode))), ("device", .int(Int64(bitPattern: entry.identity.device))),
                ("infer_csv_types", .bool(entry.inferCSVTypes)), ("rows", .int(Int64(entry.rows))), ("columns", .array(columns)),
            ])))
        }
        let document = JSONValue.object(JSONObject([("version", 1), ("files", .array(files))]))
        do {
            let file = try AtomicFile(path: path)
            try file.output.write(document.serialized() + "\n")
            try file.commit(durable: false)
            changed = false
        } catch {
            // Not kept: the next query surveys again.
        }
    }

    private func load() {
        guard let bytes = try? FileInput.readAll(path: path),
              let document = try? bytes.withUnsafeBytes({ try JSONValue.parse(bytes: $0) }),
              document.objectValue?["version"] == 1,
              let files = document.objectValue?["files"]?.arrayValue else { return }
        for file in files {
            // An entry that does not read back whole is left out: the file is surveyed again.
            guard let object = file.objectValue, let name = object["path"]?.stringValue,
                  case .int(let size)? = object["size"], case .int(let mtime)? = object["mtime_ns"],
                  case .int(let inode)? = object["inode"], case .int(let device)? = object["device"],
                  case .bool(let csvTypes)? = object["infer_csv_types"], case .int(let rows)? = object["rows"],
                  let columnList = object["columns"]?.arrayValue else { continue }
            var columns: [(name: String, type: SQLColumnType?)] = []
            for column in columnList {
                guard let pair = column.arrayValue, pair.count == 2, let columnName = pair[0].stringValue else { columns = []; break }
                if pair[1].isNull {
                    columns.append((columnName, nil))
                } else if let raw = pair[1].stringValue, let type = SQLColumnType(rawValue: raw) {
                    columns.append((columnName, type))
                } else {
                    columns = []
                    break
                }
            }
            guard columns.count == columnList.count else { continue }
            clock += 1
            entries[name] = Entry(identity: Identity(size: size, modifiedNanoseconds: mtime, inode: UInt64(bitPattern: inode),
                                                     device: UInt64(bitPattern: device)),
                                  inferCSVTypes: csvTypes, columns: columns, rows: Int(rows), used: clock)
        }
    }
}
