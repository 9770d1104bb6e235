import Foundation

/// The lake: one folder tree that every stage reads and writes.
public struct Lake: Sendable {
    /// Absolute path of the lake's root folder, without a trailing slash, symlinks resolved.
    public let root: String

    /// Opens the lake at `root` (relative paths are taken from the current directory).
    public init(root: String) {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        let standardized = URL(fileURLWithPath: absolute).standardizedFileURL.path
        self.root = Lake.realPath(standardized) ?? standardized
    }

    /// Where AgentShop keeps its own state (fingerprints, locks, hash cache): hidden from dataset listings.
    public var stateFolder: String { root + "/.agentshop" }
    /// The marketplace store.
    public var storePath: String { root + "/store/agentshop.sqlite" }

    /// Resolves a lake-relative path safely: refuses absolute paths, `..` and symlinks that lead outside.
    public func resolve(_ relative: String) throws -> LakePath {
        try LakePath(relative, in: self)
    }

    /// Whether the tree looks initialised.
    public var exists: Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: root + "/raw_data", isDirectory: &isDir) && isDir.boolValue
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A path inside the lake, checked to stay inside it.
public struct LakePath: Sendable, Hashable, CustomStringConvertible {
    /// The path relative to the lake root, normalised (`a/b/c.jsonl`).
    public let relative: String
    /// The absolute path on disk.
    public let absolute: String

    public var description: String { relative }

    init(_ raw: String, in lake: Lake) throws {
        guard !raw.isEmpty else { throw LakeError(.invalidPath, "empty path") }
        guard !raw.hasPrefix("/") && !raw.hasPrefix("~") else {
            throw LakeError(.pathOutsideLake, "absolute paths are not allowed; name a path inside the lake", path: raw)
        }
        guard !raw.utf8.contains(0) else { throw LakeError(.invalidPath, "path contains a NUL byte", path: raw) }
        var parts: [Substring] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                throw LakeError(.pathOutsideLake, "'..' is not allowed in lake paths", path: raw)
            }
            parts.append(part)
        }
        guard !parts.isEmpty else { throw LakeError(.invalidPath, "path names the lake root itself", path: raw) }
        relative = parts.joined(separator: "/")
        absolute = lake.root + "/" + relative
        // Follow symlinks in the part that exists: it must still be inside the lake.
        var probe = absolute
        while !FileManager.default.fileExists(atPath: probe) && probe.count > lake.root.count {
            probe = (probe as NSString).deletingLastPathComponent
        }
        if let real = Lake.realPath(probe), real != lake.root && !real.hasPrefix(lake.root + "/") {
            throw LakeError(.pathOutsideLake, "a symbolic link leads outside the lake (to \(real))", path: raw)
        }
    }

    /// The folder holding this path.
    public var folder: String { (absolute as NSString).deletingLastPathComponent }
    public var fileName: String { (relative as NSString).lastPathComponent }

    public var exists: Bool { FileManager.default.fileExists(atPath: absolute) }
}

extension Lake {
    /// Expands a lake-relative glob (`raw_data/imports/*.csv`, `**` for any depth) into sorted paths.
    /// Hidden files and temporary files are never matched.
    public func glob(_ pattern: String) throws -> [LakePath] {
        if !pattern.contains(where: { "*?[".contains($0) }) {
            let path = try resolve(pattern)
            return path.exists ? [path] : []
        }
        let checked = try resolve(pattern)  // same safety rules for the pattern itself
        let parts = checked.relative.split(separator: "/").map(String.init)
        var results: [String] = []
        func walk(_ folder: String, _ index: Int) {
            guard index < parts.count else { return }
            let part = parts[index]
            let last = index == parts.count - 1
            if part == "**" {
                walk(folder, index + 1)
                for name in listing(folder) where isFolder(folder + "/" + name) {
                    walk(folder + "/" + name, index)
                }
                return
            }
            for name in listing(folder) where fnmatch(part, name, 0) == 0 {
                let full = folder + "/" + name
                if last {
                    if !isFolder(full) { results.append(full) }
                } else if isFolder(full) {
                    walk(full, index + 1)
                }
            }
        }
        walk(root, 0)
        return try results.sorted().map { try resolve(String($0.dropFirst(root.count + 1))) }
    }

    private func listing(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { !$0.hasPrefix(".") }
            .sorted()
    }

    private func isFolder(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}
