import Foundation
import Lake
import Pipeline

/// One file of the lake as `agentshop lake ls` shows it.
public struct LakeFileInfo: Sendable, Equatable {
    /// Lake-relative path.
    public let path: String
    public let bytes: Int64
    public let modified: Date
    /// Records in the file: from the manifest of the run that wrote it when its size still
    /// matches, else counted (record files and WARC up to `LakeListing.countLimit` bytes); nil
    /// when unknown.
    public let records: Int?
    /// Hive-style partition values in the path (`dt=2026-11-25`), joined with `/`.
    public let partition: String
    /// The dataset the file belongs to: its path with each partition replaced by `*`, so that
    /// `lake show`, `query` and `export` read it as one.
    public let dataset: String
    /// The stage run that wrote it, when a manifest says so.
    public let writer: StageRunRef?
}

/// A dataset: the files whose paths differ only in their partitions.
public struct LakeDatasetInfo: Sendable, Equatable {
    public let dataset: String
    public let files: Int
    public let partitions: Int
    public let bytes: Int64
    /// Sum over the files; nil when any file's count is unknown.
    public let records: Int?
    public let modified: Date
    /// Who wrote its newest file.
    public let writer: StageRunRef?
}

/// Lists lake files and datasets with what the manifests know about them.
public enum LakeListing {
    /// Files larger than this are not opened to count their records (their manifest count is used
    /// when there is one).
    public static let countLimit: Int64 = 32 << 20

    /// Folders `lake ls` and `lake gc` never walk: the store is a database, not a dataset.
    static let skippedFolders: Set<String> = ["store"]

    /// Every visible file below `folder` (lake-relative; the whole lake when empty), sorted.
    /// Hidden files (AgentShop's state, temporaries) and the layout's README files are left out.
    public static func walk(_ lake: Lake, folder: String = "") -> [String] {
        var out: [String] = []
        let layoutReadmes = Set(LakeLayout.folders.map { $0.path + "/README.md" })
        func visit(_ relative: String) {
            let absolute = relative.isEmpty ? lake.root : lake.root + "/" + relative
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: absolute) else { return }
            for name in names.sorted() where !name.hasPrefix(".") {
                let child = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard lstat(lake.root + "/" + child, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    // pipelines/ is there when `init .` made the current folder the lake.
                    if relative.isEmpty && (skippedFolders.contains(name) || name == "pipelines") { continue }
                    visit(child)
                case S_IFREG:
                    if !layoutReadmes.contains(child) { out.append(child) }
                default: continue  // symlinks and devices are not datasets
                }
            }
        }
        visit(folder)
        return out
    }

    /// The files a `lake ls` argument names: a folder (everything below it), a file, a glob, or
    /// `pipeline:stage`.
    public static func files(_ lake: Lake, matching argument: String?) throws -> [String] {
        guard let argument, !argument.isEmpty, argument != "." else { return walk(lake) }
        if DatasetReference.stageReference(argument) == nil && !argument.contains(where: { "*?[".contains($0) }) {
            let path = try lake.resolve(argument)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path.absolute, isDirectory: &isDir), isDir.boolValue {
                return walk(lake, folder: path.relative)
            }
        }
        return try DatasetReference.resolve(argument, in: lake).map(\.relative)
    }

    /// Details of each file.
    public static func describe(_ paths: [String], in lake: Lake, history: LakeHistory) -> [LakeFileInfo] {
        // Files without partitions that share a folder and an extension (pages, dumps, run logs)
        // are one dataset: `folder/*.ext`.
        var siblings: [String: Int] = [:]
        for path in paths where datasetAndPartition(of: path).partition.isEmpty { siblings[siblingKey(path), default: 0] += 1 }
        return paths.compactMap { path in
            var info = stat()
            guard stat(lake.root + "/" + path, &info) == 0 else { return nil }
            let bytes = Int64(info.st_size)
            let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
            let written = history.writer(of: path)
            var records: Int?
            if let written, written.entry.bytes == bytes, let count = written.entry.records {
                records = count
            } else if bytes <= countLimit {
                records = try? countRecords(lake.root + "/" + path)
            }
            var (dataset, partition) = datasetAndPartition(of: path)
            if let group = group(of: path) {
                dataset = group
            } else if partition.isEmpty, siblings[siblingKey(path), default: 0] > 1 {
                dataset = siblingKey(path)
            }
            return LakeFileInfo(path: path, bytes: bytes, modified: modified, records: records, partition: partition,
                                dataset: dataset, writer: written?.run)
        }
    }

    /// Groups files into datasets, in path order.
    public static func datasets(_ files: [LakeFileInfo]) -> [LakeDatasetInfo] {
        var order: [String] = []
        var groups: [String: [LakeFileInfo]] = [:]
        for file in files {
            if groups[file.dataset] == nil { order.append(file.dataset) }
            groups[file.dataset, default: []].append(file)
        }
        return order.map { name in
            let members = groups[name]!
            let newest = members.max { $0.modified < $1.modified }!
            let counts = members.map(\.records)
            return LakeDatasetInfo(
                dataset: name, files: members.count, partitions: Set(members.map(\.partition)).subtracting([""]).count,
                bytes: members.reduce(0) { $0 + $1.bytes },
                records: counts.contains(where: { $0 == nil }) ? nil : counts.reduce(0) { $0 + $1! },
                modified: newest.modified, writer: newest.writer)
        }
    }

    /// `scraped_data/products/dt=2026-11-25/products.jsonl.gz` → (`scraped_data/products/*/products.jsonl.gz`,
    /// `dt=2026-11-25`); a file named after its partition (`by_category/dt=2026-11-25.csv`) →
    /// (`by_category/*.csv`, `dt=2026-11-25`).
    public static func datasetAndPartition(of path: String) -> (dataset: String, partition: String) {
        var parts = path.split(separator: "/").map(String.init)
        var partition: [String] = []
        for i in parts.indices.dropLast() where isPartition(parts[i]) {
            partition.append(parts[i])
            parts[i] = "*"
        }
        if let name = parts.last, let dot = name.firstIndex(of: "."), isPartition(String(name[..<dot])) {
            partition.append(String(name[..<dot]))
            parts[parts.count - 1] = "*" + name[dot...]
        }
        return (parts.joined(separator: "/"), partition.joined(separator: "/"))
    }

    /// Folders whose files are one collection however they are named or sharded: the LLM answer
    /// cache (`cache/<2 hex>/<sha256>.json`, thousands of entries) and each dump folder (dumps and
    /// their checksums). Each lists as one row, with its file count.
    static let groupedFolders = ["external_apis/llm_responses/cache/", "db_dumps/daily/", "db_dumps/weekly/", "db_dumps/manual/"]

    /// The collection a file belongs to (`external_apis/llm_responses/cache/*/*.json`,
    /// `db_dumps/daily/*`), nil for other files.
    static func group(of path: String) -> String? {
        guard let folder = groupedFolders.first(where: { path.hasPrefix($0) }) else {
            return nil
        }
        if folder.hasPrefix("external_apis/llm_responses/cache") { return folder + "*/*.json" }
        return folder + "*"
    }

    /// `raw_data/imports/site/p0001.html` → `raw_data/imports/site/*.html`; the extension is
    /// everything after the name's first dot (`.sqlite.gz`, `.manifest.json`).
    static func siblingKey(_ path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let ext = name.firstIndex(of: ".").map { String(name[$0...]) } ?? ""
        return (folder.isEmpty ? "" : folder + "/") + "*" + ext
    }

    static func isPartition(_ segment: String) -> Bool {
        guard let eq = segment.firstIndex(of: "="), eq != segment.startIndex, segment.index(after: eq) != segment.endIndex
        else { return false }
        return segment[..<eq].allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
    }

    /// Records in a JSONL/CSV file (malformed lines not counted) or WARC; nil for other files.
    public static func countRecords(_ absolute: String) throws -> Int? {
        if RecordFileType(path: absolute) != nil {
            let reader = try RecordReader(path: absolute, policy: .skip)
            while try reader.next() != nil {}
            return reader.recordCount
        }
        if WARCListing.isWARC(absolute) {
            let reader = try WARCReader(path: absolute)
            while try reader.next() != nil {}
            return reader.recordCount
        }
        return nil
    }
}
