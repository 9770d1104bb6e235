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
        LakeConfinement.register(self.root)
    }

    /// A lake whose root is already resolved (no realpath, no registration).
    init(resolvedRoot: String) {
        root = resolvedRoot
    }

    /// Where AgentShop keeps its own state (fingerprints, locks, hash cache): hidden from dataset listings.
    public var stateFolder: String { root + "/.agentshop" }
    /// The marketplace store.
    public var storePath: String { root + "/store/agentshop.sqlite" }

    /// Resolves a lake-relative path safely: refuses absolute paths, `..` and symlinks that lead outside.
    public func resolve(_ relative: String) throws -> LakePath {
        try LakePath(relative, in: self)
    }

    /// The lake file a `file:` URL names, confined like every other lake path: `file:relative/path` is taken
    /// from the lake root, `file:///absolute/path` must lie in the lake. The path is percent-decoded first (so
    /// `%2e%2e` is `..`, refused), then symbolic links are resolved and the target must still be inside: a
    /// `file:` URL never reads `/etc`, `/proc` or a link out of the lake.
    public func file(atURL url: String) throws -> LakePath {
        guard url.lowercased().hasPrefix("file:") else { throw LakeError(.invalidPath, "not a file: URL", path: url) }
        var rest = Substring(url.dropFirst(5))
        if let end = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        var absolute = false
        if rest.hasPrefix("//") {
            let afterHost = rest.dropFirst(2)
            let slash = afterHost.firstIndex(of: "/") ?? afterHost.endIndex
            let host = afterHost[..<slash].lowercased()
            guard host.isEmpty || host == "localhost" else {
                throw LakeError(.pathOutsideLake, "a file URL on another host (\(host)) is not in the lake", path: url)
            }
            rest = afterHost[slash...]
            absolute = true
        } else if rest.hasPrefix("/") {
            absolute = true
        }
        guard let decoded = String(rest).removingPercentEncoding else {
            throw LakeError(.invalidPath, "the file URL has an invalid percent-encoding", path: url)
        }
        guard !decoded.utf8.contains(0) else { throw LakeError(.invalidPath, "path contains a NUL byte", path: url) }
        if decoded.split(separator: "/").contains("..") {
            throw LakeError(.pathOutsideLake, "'..' is not allowed in lake paths", path: url)
        }
        guard absolute else { return try resolve(decoded) }
        let standardized = URL(fileURLWithPath: decoded).standardizedFileURL.path
        var inside: String?
        if standardized.hasPrefix(root + "/") {
            inside = String(standardized.dropFirst(root.count + 1))
        } else if let real = Lake.realPath(standardized), real.hasPrefix(root + "/") {
            inside = String(real.dropFirst(root.count + 1))
        }
        guard let inside else {
            throw LakeError(.pathOutsideLake, "the file is outside the lake (\(root))", path: url)
        }
        return try resolve(inside)
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

    /// For paths found by walking the lake's real folders: already normalised and inside.
    init(checkedRelative relative: String, in lake: Lake) {
        self.relative = relative
        absolute = lake.root + "/" + relative
    }

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
        // Follow symlinks in the part that exists (lstat: a dangling link exists too): where it
        // leads must still be inside the lake.
        var probe = absolute
        var info = stat()
        while lstat(probe, &info) != 0 && probe.count > lake.root.count {
            probe = (probe as NSString).deletingLastPathComponent
        }
        let target: String?
        if let real = Lake.realPath(probe) {
            target = real
        } else if (info.st_mode & S_IFMT) == S_IFLNK, let link = try? FileManager.default.destinationOfSymbolicLink(atPath: probe) {
            // Dangling: judge the text of the link, made absolute against its folder.
            let base = link.hasPrefix("/") ? link : (probe as NSString).deletingLastPathComponent + "/" + link
            target = URL(fileURLWithPath: base).standardizedFileURL.path
        } else {
            target = nil
        }
        if let target, target != lake.root && !target.hasPrefix(lake.root + "/") {
            throw LakeError(.pathOutsideLake, "a symbolic link leads outside the lake (to \(target))", path: raw)
        }
    }

    /// The folder holding this path.
    public var folder: String { (absolute as NSString).deletingLastPathComponent }
    public var fileName: String { (relative as NSString).lastPathComponent }

    public var exists: Bool { FileManager.default.fileExists(atPath: absolute) }
}

extension Lake {
    /// Expands a lake-relative glob (`raw_data/imports/*.csv`, `**` for any depth) into sorted paths.
    /// Hidden files and temporary files are never matched; a symbolic link is followed only when
    /// it stays inside the lake.
    public func glob(_ pattern: String) throws -> [LakePath] {
        if !pattern.contains(where: { "*?[".contains($0) }) {
            let path = try resolve(pattern)
            return path.exists ? [path] : []
        }
        let checked = try resolve(pattern)  // same safety rules for the pattern itself
        let parts = checked.relative.split(separator: "/").map(String.init)
        var results: [LakePath] = []
        // Walks real folders only (readdir's d_type, no per-file stat or realpath): a listing of
        // thousands of files costs one getdents call per folder.
        func walk(_ relative: String, _ index: Int) throws {
            guard index < parts.count else { return }
            let part = parts[index]
            let last = index == parts.count - 1
            let entries = Self.listing(relative.isEmpty ? root : root + "/" + relative)
            if part == "**" {
                if last {
                    // A trailing ** matches every file at any depth below.
                    for entry in entries {
                        let child = relative.isEmpty ? entry.name : relative + "/" + entry.name
                        if entry.isFolder { try walk(child, index) }
                        else if entry.isSymlink { if let resolved = try? resolve(child), !isFolder(resolved.absolute) { results.append(resolved) } }
                        else { results.append(LakePath(checkedRelative: child, in: self)) }
                    }
                    return
                }
                try walk(relative, index + 1)
                for entry in entries where entry.isFolder {
                    try walk(relative.isEmpty ? entry.name : relative + "/" + entry.name, index)
                }
                return
            }
            for entry in entries where fnmatch(part, entry.name, FNM_PERIOD) == 0 {
                let child = relative.isEmpty ? entry.name : relative + "/" + entry.name
                if entry.isSymlink {
                    // Checked like any named path: refused if it leads outside.
                    let resolved = try resolve(child)
                    var isDir: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: resolved.absolute, isDirectory: &isDir) else { continue }
                    if last && !isDir.boolValue { results.append(resolved) }
                    else if !last && isDir.boolValue { try walk(child, index + 1) }
                } else if last {
                    if !entry.isFolder { results.append(LakePath(checkedRelative: child, in: self)) }
                } else if entry.isFolder {
                    try walk(child, index + 1)
                }
            }
        }
        try walk("", 0)
        return results.sorted { $0.relative < $1.relative }
    }

    private func isFolder(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    struct FolderEntry {
        let name: String
        let isFolder: Bool
        let isSymlink: Bool
    }

    /// Visible entries of a folder (no dot files, so no temporaries), without stat calls where
    /// the file system reports entry types.
    static func listing(_ folder: String) -> [FolderEntry] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var entries: [FolderEntry] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            var type = Int32(entry.pointee.d_type)
            if type == Int32(DT_UNKNOWN) {
                var info = stat()
                if lstat(folder + "/" + name, &info) != 0 { continue }
                type = (info.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR) : (info.st_mode & S_IFMT) == S_IFLNK ? Int32(DT_LNK) : Int32(DT_REG)
            }
            entries.append(FolderEntry(name: name, isFolder: type == Int32(DT_DIR), isSymlink: type == Int32(DT_LNK)))
        }
        return entries
    }
}
