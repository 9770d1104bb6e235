import Foundation
import Lake
import Testing

/// docs/analysts.md is true: every `sh` block runs (bash, -euo pipefail) from the lake folder of a
/// demo lake built here (pipelines/demo.yaml run on two dates), and its standard output is the
/// `text` block that follows it. DuckDB, pandas and warcio come from bench/.venv
/// (scripts/analyst_tools.sh); without them the test is skipped, unless AGENTSHOP_REQUIRE_WARCIO=1
/// (scripts/test.sh, so CI), where it fails.
@Suite(.serialized) struct AnalystDocsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let venvBin = repository + "/bench/.venv/bin"
    static let required = ProcessInfo.processInfo.environment["AGENTSHOP_REQUIRE_WARCIO"] == "1"
    static let toolsInstalled: Bool = {
        guard FileManager.default.isExecutableFile(atPath: venvBin + "/python") else { return false }
        return (try? shell("python -c 'import duckdb, pandas, warcio'", in: repository).status) == 0
    }()
    static let skipReason: Comment = "duckdb, pandas or warcio missing from bench/.venv: run scripts/analyst_tools.sh"

    /// A fenced `sh` block and the output the page says it prints.
    struct Example: CustomStringConvertible {
        var line: Int
        var script: String
        var output: String?
        var description: String { "docs/analysts.md:\(line)" }
    }

    /// The `sh` blocks of a Markdown page, each with the `text` block right after it, if any.
    static func examples(in markdown: String) -> [Example] {
        var examples: [Example] = []
        var blocks: [(lang: String, line: Int, body: String)] = []
        var current: (lang: String, line: Int, body: [Substring])?
        for (index, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("```") {
                if let open = current {
                    blocks.append((open.lang, open.line, open.body.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)), index + 1, [])
                }
            } else if current != nil {
                current!.body.append(line)
            }
        }
        for (i, block) in blocks.enumerated() where block.lang == "sh" {
            let next = i + 1 < blocks.count && blocks[i + 1].lang == "text" ? blocks[i + 1].body : nil
            examples.append(Example(line: block.line, script: block.body, output: next))
        }
        return examples
    }

    static func shell(_ script: String, in folder: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-euo", "pipefail", "-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var environment = ProcessInfo.processInfo.environment
        let binaries = URL(fileURLWithPath: Project.binary).deletingLastPathComponent().path
        environment["PATH"] = venvBin + ":" + binaries + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["VIRTUAL_ENV"] = repository + "/bench/.venv"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errData = err.fileHandleForReading
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = errData.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// The page's blocks are found: a change that hid them from the test would not pass silently.
    @Test func thePageHasAnExampleForEveryTool() throws {
        let page = try String(contentsOfFile: Self.repository + "/docs/analysts.md", encoding: .utf8)
        let examples = Self.examples(in: page)
        for tool in ["jq", "duckdb", "hive_partitioning", "pandas", "sqlite3", "warcio", "agentshop export"] {
            #expect(examples.contains { $0.script.contains(tool) }, "no example uses \(tool)")
        }
        #expect(examples.allSatisfy { $0.output != nil }, "every example shows its output")
    }

    @Test func everyCommandOnThePageGivesTheOutputShown() throws {
        guard Self.toolsInstalled else {
            #expect(!Self.required, "AGENTSHOP_REQUIRE_WARCIO=1 but bench/.venv lacks duckdb, pandas or warcio: run scripts/analyst_tools.sh")
            return
        }
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try FileManager.default.copyItem(atPath: Self.repository + "/pipelines/demo.yaml", toPath: project.folder + "/pipelines/demo.yaml")
        try FileManager.default.createDirectory(atPath: project.lake + "/raw_data/imports", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.repository + "/datalake/raw_data/imports/demo",
                                         toPath: project.lake + "/raw_data/imports/demo")
        for date in ["2026-11-24", "2026-11-25"] {
            let (result, _) = try project.runPipeline("demo", ["--date", date])
            #expect(result.status == 0, "\(result.stderr)")
        }
        // The counts the DuckDB example shows, taken from the files themselves.
        for date in ["2026-11-24", "2026-11-25"] {
            let reader = try RecordReader(path: project.lake + "/scraped_data/products/dt=\(date)/products.jsonl.gz")
            var count = 0, rated = 0
            while let record = try reader.next() {
                count += 1
                if let rating = record["rating"], !rating.isNull { rated += 1 }
            }
            #expect((count, rated) == (40, 32), "dt=\(date)")
        }

        let page = try String(contentsOfFile: Self.repository + "/docs/analysts.md", encoding: .utf8)
        let examples = Self.examples(in: page)
        #expect(examples.count >= 8)
        for example in examples {
            let result = try Self.shell(example.script, in: project.lake)
            #expect(result.status == 0, "\(example): exit \(result.status)\n\(result.stderr)")
            if let output = example.output {
                #expect(result.stdout == output, "\(example): printed\n\(result.stdout)\nnot\n\(output)")
            }
        }
    }
}
