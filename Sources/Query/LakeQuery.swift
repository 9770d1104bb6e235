import Foundation
import Lake
import Store

/// An analyst's SQL over the lake (`agentshop query`): each quoted dataset after `FROM` or
/// `JOIN` — a lake path or glob, or `pipeline:stage` — is loaded by `SQLiteLoader` into a table,
/// and the quoted text is replaced by that table's quoted name. The store is attached read-only
/// as `store` when it exists.
///
/// What a `pipeline:stage` name means is the caller's to say (this module knows no pipelines):
/// `stageName` tells whether a reference names a stage, and `load`'s `resolve` gives its files.
public struct LakeQuery {
    /// One dataset the query names, and the table it becomes.
    public struct Dataset: Sendable, Equatable {
        /// The text between the quotes, as written.
        public let reference: String
        public let table: String
    }

    /// The query with every dataset replaced by its table.
    public let sql: String
    /// In order of first mention, each once.
    public let datasets: [Dataset]

    /// Finds the datasets of `sql`: single-quoted text right after `FROM` or `JOIN` (comments
    /// between allowed). Strings elsewhere, quoted identifiers and comments are left as they are.
    /// `stageName` gives the stage a reference names (`products` for `demo:products`), nil for a
    /// path or glob: the table is named after it.
    public init(_ sql: String, stageName: (String) -> String?) {
        let chars = Array(sql.unicodeScalars)
        var out = String.UnicodeScalarView()
        var datasets: [Dataset] = []
        var lastWord = ""
        var i = 0

        func tableName(for reference: String) -> String {
            if let existing = datasets.first(where: { $0.reference == reference }) { return existing.table }
            var base: String?
            if let stage = stageName(reference) {
                base = stage
            } else if let name = SQLiteLoader.tableName(forPath: reference) {
                base = name
            } else {
                // A glob: name it after its folder (`by_category` for `…/by_category/*.csv`).
                let folder = ((reference as NSString).deletingLastPathComponent as NSString).lastPathComponent
                base = folder
            }
            var name = String((base ?? "").map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
            if SQLIdentifier.problem(with: name) != nil { name = "dataset" }
            var candidate = name
            var n = 2
            while datasets.contains(where: { $0.table.lowercased() == candidate.lowercased() }) || candidate.lowercased() == "store" {
                candidate = "\(name)_\(n)"
                n += 1
            }
            datasets.append(Dataset(reference: reference, table: candidate))
            return candidate
        }

        while i < chars.count {
            let c = chars[i]
            if c == "-" && i + 1 < chars.count && chars[i + 1] == "-" {
                while i < chars.count && chars[i] != "\n" { out.append(chars[i]); i += 1 }
                continue
            }
            if c == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                out.append(c); out.append(chars[i + 1]); i += 2
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { out.append(chars[i]); i += 1 }
                if i < chars.count { out.append(chars[i]); out.append(chars[i + 1]); i += 2 }
                continue
            }
            if c == "\"" || c == "`" || c == "[" || c == "'" {
                let close: Unicode.Scalar = c == "[" ? "]" : c
                var text = String.UnicodeScalarView()
                var j = i + 1
                var closed = false
                while j < chars.count {
                    if chars[j] == close {
                        if close != "]" && j + 1 < chars.count && chars[j + 1] == close { text.append(close); j += 2; continue }
                        closed = true
                        break
                    }
                    text.append(chars[j])
                    j += 1
                }
                let end = closed ? j + 1 : chars.count
                if c == "'" && closed && (lastWord == "from" || lastWord == "join") {
                    let table = tableName(for: String(text))
                    out.append(contentsOf: SQLLiteral.quoteName(table).unicodeScalars)
                } else {
                    out.append(contentsOf: chars[i..<end])
                }
                lastWord = ""
                i = end
                continue
            }
            if c.properties.isAlphabetic || c == "_" {
                var word = String.UnicodeScalarView()
                while i < chars.count && (chars[i].properties.isAlphabetic || chars[i] == "_" || ("0"..."9").contains(chars[i])) {
                    word.append(chars[i])
                    out.append(chars[i])
                    i += 1
                }
                lastWord = String(word).lowercased()
                continue
            }
            if !c.properties.isWhitespace { lastWord = "" }
            out.append(c)
            i += 1
        }
        self.sql = String(out)
        self.datasets = datasets
    }

    /// Declares every dataset in `loader`'s database (read while the query runs), and attaches the store read-only as `store`
    /// when the lake has one. `resolve` gives the files a reference stands for (and throws, for
    /// a name without files).
    public func load(into loader: SQLiteLoader, lake: Lake, resolve: (String) throws -> [LakePath],
                     policy: MalformedPolicy = .fail,
                     onReject: @escaping (RejectedRecord) throws -> Void = { _ in }) throws -> [LoadedTable] {
        var loaded: [LoadedTable] = []
        for dataset in datasets {
            let files = try resolve(dataset.reference)
            loaded.append(try loader.declare(SQLTableSource(table: try SQLIdentifier(dataset.table), files: files),
                                          policy: policy, onReject: onReject))
        }
        if FileManager.default.fileExists(atPath: lake.storePath) {
            try loader.attachReadOnly(path: lake.storePath, as: try SQLIdentifier("store"))
        }
        return loaded
    }
}
