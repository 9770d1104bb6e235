import Foundation
import HTML
import Lake
import Pipeline
import Store
import Transport

/// What `agentshop --version` prints: the tool's version, the commit when the binary runs from a
/// git checkout's build tree, and the C libraries linked (each through its module's wrapper, as
/// `doctor` shows them). libcurl and libxml2 are named by the version built against: printing the
/// version does not load them (and their dependency trees), which are opened on first use; `doctor`
/// loads them and shows the versions running.
enum VersionInfo {
    static var text: String {
        var first = "agentshop \(ToolVersion.current)"
        if let commit = commit() { first += " (commit \(commit))" }
        return """
        \(first)
        libcurl  \(TransportLibrary.libcurlBuiltVersion) (built against; loaded on first use)
        libxml2  \(HTMLLibrary.libxml2BuiltVersion) (built against; loaded on first use)
        sqlite   \(Database.sqliteVersion)
        zlib     \(ZlibLibrary.version)
        """
    }

    /// The checked-out commit of the git work tree the executable was built in (`.build/…/agentshop`
    /// inside it), read from `.git` at run time: nothing is generated at build time, so a clean
    /// clone without git metadata builds the same and simply shows no commit, as does an installed copy.
    static func commit(executable: String = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                       ?? CommandLine.arguments[0]) -> String? {
        var folder = (executable as NSString).deletingLastPathComponent
        let fm = FileManager.default
        while folder != "/" && !folder.isEmpty {
            let dotGit = folder + "/.git"
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dotGit, isDirectory: &isDir) {
                var gitDir = dotGit
                if !isDir.boolValue {  // a worktree: "gitdir: /path/.git/worktrees/name"
                    guard let text = try? String(contentsOfFile: dotGit, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
                    let path = text.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines)
                    gitDir = path.hasPrefix("/") ? path : folder + "/" + path
                }
                return head(gitDir: gitDir)
            }
            folder = (folder as NSString).deletingLastPathComponent
        }
        return nil
    }

    static func head(gitDir: String) -> String? {
        guard let head = try? String(contentsOfFile: gitDir + "/HEAD", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        else { return nil }
        guard head.hasPrefix("ref: ") else { return head.count >= 12 ? String(head.prefix(12)) : nil }
        let ref = String(head.dropFirst(5))
        var common = gitDir
        if let text = try? String(contentsOfFile: gitDir + "/commondir", encoding: .utf8) {
            let path = text.trimmingCharacters(in: .whitespacesAndNewlines)
            common = path.hasPrefix("/") ? path : gitDir + "/" + path
        }
        for dir in [gitDir, common] {
            if let sha = try? String(contentsOfFile: dir + "/" + ref, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
               sha.count >= 12 {
                return String(sha.prefix(12))
            }
        }
        let packed = (try? String(contentsOfFile: common + "/packed-refs", encoding: .utf8)) ?? ""
        for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
            return String(line.prefix(12))
        }
        return nil
    }
}
