import ArgumentParser
import Foundation

/// Shell completion for the names a user types: pipelines in ./pipelines, stages of the pipeline
/// named on the line, run ids in the lake (`--lake` on the line, AGENTSHOP_LAKE, ./datalake, or
/// the lake the shell stands in). Each reads a few files and never fails: no candidates instead.
enum Completions {
    static let pipelines = CompletionKind.custom { _, _, prefix in pipelineNames().filter { $0.hasPrefix(prefix) } }
    static let stages = CompletionKind.custom { words, _, prefix in stageNames(words: words).filter { $0.hasPrefix(prefix) } }
    static let runIDs = CompletionKind.custom { words, _, prefix in lakeRunIDs(words: words).filter { $0.hasPrefix(prefix) } }

    static func pipelineNames(folder: String = "pipelines") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .map { ($0 as NSString).deletingPathExtension }.sorted()
    }

    /// The stage keys of the first pipeline named on the command line (the `stages:` mapping's
    /// keys, read from the file's text so that a half-written pipeline still completes).
    static func stageNames(words: [String]) -> [String] {
        for word in words.dropFirst() where !word.hasPrefix("-") {
            let file = GlobalOptions.pipelineFile(word)
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            return stageKeys(inPipelineText: text)
        }
        return []
    }

    static func stageKeys(inPipelineText text: String) -> [String] {
        var inStages = false, indent: Int?
        var names: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let lead = line.prefix { $0 == " " }.count
            if lead == 0 { inStages = trimmed.hasPrefix("stages:"); indent = nil; continue }
            guard inStages else { continue }
            if indent == nil { indent = lead }
            if lead == indent, let colon = trimmed.firstIndex(of: ":") {
                names.append(String(trimmed[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "\"' ")))
            }
        }
        return names
    }

    static func lakeRunIDs(words: [String]) -> [String] {
        var lake: String?
        if let i = words.firstIndex(of: "--lake"), i + 1 < words.count { lake = words[i + 1] }
        let root = GlobalOptions.lakePath(flag: lake)
        let logs = root + "/raw_data/logs"
        let fm = FileManager.default
        var ids: [String] = []
        for pipeline in (try? fm.contentsOfDirectory(atPath: logs)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: logs + "/" + pipeline)) ?? [] where name.hasSuffix(".manifest.json") {
                ids.append(String(name.dropLast(".manifest.json".count)))
            }
        }
        return ids.sorted(by: >)
    }
}
