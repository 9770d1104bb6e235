import Foundation
import Testing

/// Every JSON AgentShop writes (manifests, state, crawl journals, dump sidecars, the LLM cache, each
/// command's `--json`) has snake_case keys; a lake whose state an earlier version wrote with camelCase
/// keys keeps working: a rerun with nothing changed runs no stage, a forced crawl takes its pages
/// from the old per-URL state, and `runs` lists the old runs.
@Suite(.serialized) struct SnakeCaseKeysTests {
    static let runDate = NoOpRerunTests.runDate

    /// Keys holding an uppercase letter, as paths, in every JSON document of `text` (one, or JSON Lines).
    /// Keys that are lake paths (a stage's inputs, keyed by file) are data, not names AgentShop chose.
    static func upperCaseKeys(in text: String) -> [String] {
        func walk(_ value: Any, _ path: String) -> [String] {
            if let object = value as? [String: Any] {
                return object.keys.sorted().flatMap { key in
                    (key.contains(where: \.isUppercase) && !key.contains("/") ? [path + "." + key] : []) + walk(object[key]!, path + "." + key)
                }
            }
            if let array = value as? [Any] { return array.flatMap { walk($0, path + "[]") } }
            return []
        }
        let documents: [Any]
        if let whole = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) {
            documents = [whole]
        } else {
            documents = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
        }
        return Array(Set(documents.flatMap { walk($0, "") })).sorted()
    }

    /// The JSON files AgentShop writes for itself in a lake: everything under `.agentshop/`, the run
    /// logs folder (manifests, crawl logs, rejects), dump sidecars and the LLM response cache. Records
    /// in the datasets are the user's data and keep their keys.
    static func agentShopFiles(_ lake: String) -> [String] {
        let ownFolders = [".agentshop/", "raw_data/logs/", "db_dumps/", "external_apis/llm_responses/"]
        let files = (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String]) ?? []
        return files.filter { file in
            ownFolders.contains { file.hasPrefix($0) } && (file.hasSuffix(".json") || file.hasSuffix(".jsonl"))
        }.sorted()
    }

    @Test func everyJSONAgentShopWritesHasSnakeCaseKeys() throws {
        let project = try NoOpRerunTests.demoProject()
        let (first, manifest) = try project.runPipeline("demo", ["--date", Self.runDate])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Self.upperCaseKeys(in: first.stdout) == [], "run --json")
        let runID = try #require(manifest["run_id"] as? String)
        #expect(manifest["started_at"] is String && manifest["tool_version"] is String && manifest["log_file"] is String)
        // A second run writes the crawl's journal and per-URL state again (from its cache).
        #expect(try project.run(["run", "demo", "--date", Self.runDate, "--stage", "crawl", "--force", "--quiet"]).status == 0)

        let files = Self.agentShopFiles(project.lake)
        for kind in [".manifest.json", "state/demo.json", "crawl/urls.jsonl", "crawl/journal.jsonl", ".sqlite.gz.json", "cache/"] {
            #expect(files.contains { $0.contains(kind) }, "no \(kind) among \(files)")
        }
        for file in files {
            let text = try String(contentsOfFile: project.lake + "/" + file, encoding: .utf8)
            #expect(Self.upperCaseKeys(in: text) == [], "\(file)")
        }

        try project.write("pipelines/broken.yaml", "pipeline: broken\nstages:\n  a:\n    import: { from: x.csv, infer_typez: true }\n")
        let commands: [[String]] = [
            ["plan", "demo", "--date", Self.runDate, "--force"], ["runs"], ["runs", "show", runID],
            ["validate", "pipelines/demo.yaml", "pipelines/broken.yaml"], ["lake", "ls"], ["lake", "ls", "--files"],
            ["lake", "schema", "demo:products"], ["lake", "gc", "--dry-run"],
            ["lake", "lineage", "scraped_data/products/dt=\(Self.runDate)/products.jsonl.gz"], ["doctor"], ["schedule", "list"],
            ["llm", "providers"], ["llm", "usage"], ["db", "status"], ["db", "backups"], ["stages"], ["stages", "fetch"],
            ["digest", "--since", "30d"], ["report", runID, "--out", project.folder + "/report.html"],
        ]
        for command in commands {
            let result = try project.run(command + ["--json"])
            #expect(result.stdout.hasPrefix("{") || result.stdout.hasPrefix("["), "\(command): \(result.stdout.prefix(200)) \(result.stderr)")
            #expect(Self.upperCaseKeys(in: result.stdout) == [], "\(command)")
        }
        // The renamed keys are where readers look for them.
        let validate = try project.run(["validate", "pipelines/broken.yaml", "--json"]).stdout
        #expect(validate.contains("\"key_path\" : \"stages.a.import.infer_typez\""), "\(validate)")
    }

    /// Rewrites the keys an earlier version spelled differently, wherever they appear in `value`.
    static func camelCased(_ value: Any) -> Any {
        let old = ["run_id": "runID", "pipeline_file": "pipelineFile", "started_at": "startedAt", "finished_at": "finishedAt",
                   "run_date": "runDate", "tool_version": "toolVersion", "log_file": "logFile", "duration_ms": "durationMs",
                   "final_url": "finalURL", "wire_status": "wireStatus", "request_headers": "requestHeaders",
                   "body_sha256": "bodySHA256", "from_cache": "fromCache", "not_modified": "notModified",
                   "fetched_at": "fetchedAt", "content_type": "contentType", "robots_disallowed": "robotsDisallowed",
                   "is_file": "isFile", "response_offset": "responseOffset"]
        if let object = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (key, inner) in object {
                // Counts and details keep their keys (`from_cache` is a count, not a renamed field).
                out[old[key] ?? key] = key == "counts" || key == "details" ? inner : camelCased(inner)
            }
            return out
        }
        if let array = value as? [Any] { return array.map(camelCased) }
        return value
    }

    /// Rewrites a JSON (or JSON Lines) file as the earlier version wrote it.
    static func rewriteAsEarlierVersion(_ path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        func encode(_ value: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: camelCased(value), options: [.sortedKeys]), as: UTF8.self)
        }
        let rewritten: String
        if path.hasSuffix(".jsonl") {
            rewritten = try text.split(separator: "\n").map { try encode(try JSONSerialization.jsonObject(with: Data($0.utf8))) }
                .joined(separator: "\n") + "\n"
        } else {
            rewritten = try encode(try JSONSerialization.jsonObject(with: Data(text.utf8))) + "\n"
        }
        #expect(rewritten != text, "\(path) has no renamed key")
        try rewritten.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func aLakeOfAnEarlierVersionKeepsWorking() throws {
        let project = try NoOpRerunTests.demoProject()
        let (first, manifest) = try project.runPipeline("demo", ["--date", Self.runDate])
        #expect(first.status == 0, "\(first.stderr)")
        let runID = try #require(manifest["run_id"] as? String)
        let stageCount = (manifest["stages"] as? [[String: Any]] ?? []).count
        // The state, the manifest and the crawl's per-URL state as the earlier version wrote them.
        let crawlState = project.lake + "/.agentshop/stages/demo/crawl"
        for file in [".agentshop/state/demo.json", "raw_data/logs/demo/\(runID).manifest.json"] {
            try Self.rewriteAsEarlierVersion(project.lake + "/" + file)
        }
        try Self.rewriteAsEarlierVersion(crawlState + "/urls.jsonl")
        #expect(try String(contentsOfFile: project.lake + "/.agentshop/state/demo.json", encoding: .utf8).contains("\"runID\""))

        // Nothing changed: nothing runs.
        let (rerun, again) = try project.runPipeline("demo", ["--date", Self.runDate])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let decisions = NoOpRerunTests.decisions(again["stages"] as? [[String: Any]] ?? [])
        #expect(decisions.count == stageCount)
        for (stage, decision) in decisions { #expect(decision == "skipped / up to date", "\(stage): \(decision)") }

        // The old run is listed, with today's keys.
        let runs = try project.run(["runs", "--json"])
        let listed = (try? JSONSerialization.jsonObject(with: Data(runs.stdout.utf8))) as? [[String: Any]] ?? []
        #expect(listed.compactMap { $0["run_id"] as? String }.contains(runID), "\(runs.stdout.prefix(300))")
        #expect(Self.upperCaseKeys(in: runs.stdout) == [])

        // A forced crawl inside its refresh window takes every page from the old per-URL state.
        let (forced, crawl) = try project.runPipeline("demo", ["--date", Self.runDate, "--stage", "crawl", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let counts = (crawl["stages"] as? [[String: Any]])?.first { $0["name"] as? String == "crawl" }?["counts"] as? [String: Int]
        #expect(counts?["pages_fetched"] ?? 0 > 0 && counts?["from_cache"] == counts?["pages_fetched"], "\(counts ?? [:])")
    }
}
