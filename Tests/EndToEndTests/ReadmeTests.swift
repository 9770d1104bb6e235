import Foundation
import Testing
import TestSupport

/// README.md is true: every command it shows runs as written, in order, as a reader pasting them
/// into one shell would run them, from the project folder of a demo lake made by the commands of
/// scripts/demo.sh itself, with the built `agentshop` on PATH. A `text` block right after a command
/// block is that block's standard output. docs/lake.md's examples run the same way on the same
/// lake (its DuckDB, pandas and warcio examples need bench/.venv: see AnalystDocsTests).
///
/// The page's conventions, kept by these tests:
/// - ```` ```sh ```` blocks run. ```` ```sh setup ```` blocks (building, installing) are the only
///   ones that do not, and hold nothing but the set-up scripts.
/// - a ```` ```yaml ```` block whose first line is `# path` is the file the reader saves there.
@Suite(.serialized) struct ReadmeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// One fenced block of a Markdown page.
    struct Block {
        var info: String
        var line: Int
        var body: String
        var language: String { String(info.split(separator: " ").first ?? "") }
    }

    static func blocks(in markdown: String) -> [Block] {
        var blocks: [Block] = []
        var open: (info: String, line: Int, body: [Substring])?
        for (index, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("```") {
                if let current = open {
                    blocks.append(Block(info: current.info, line: current.line, body: current.body.joined(separator: "\n") + "\n"))
                    open = nil
                } else {
                    open = (String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces), index + 1, [])
                }
            } else if open != nil {
                open!.body.append(line)
            }
        }
        return blocks
    }

    /// A page's runnable steps, in order: commands to run (with the output the page shows, if
    /// any) and files the reader saves.
    enum Step {
        case commands(line: Int, script: String, output: String?)
        case file(line: Int, path: String, text: String)
    }

    static func steps(in markdown: String) -> [Step] {
        let blocks = blocks(in: markdown)
        var steps: [Step] = []
        for (i, block) in blocks.enumerated() {
            if block.info == "sh" {
                let next = i + 1 < blocks.count ? blocks[i + 1] : nil
                steps.append(.commands(line: block.line, script: block.body, output: next?.info == "text" ? next!.body : nil))
            } else if block.language == "yaml", block.body.hasPrefix("# "),
                      let first = block.body.split(separator: "\n").first, !first.dropFirst(2).contains(" ") {
                steps.append(.file(line: block.line, path: String(first.dropFirst(2)), text: block.body))
            }
        }
        return steps
    }

    /// One bash script running a page's steps in order: each block's output goes to its own file,
    /// and the number of the block started last to `progress`, so a failure names its block.
    static func script(for steps: [Step], outputs: String) -> String {
        var script = "set -euo pipefail\n"
        for (n, step) in steps.enumerated() {
            switch step {
            case .commands(_, let commands, _):
                script += "echo \(n) > '\(outputs)/progress'\n{\n\(commands)} > '\(outputs)/\(n).out' 2> '\(outputs)/\(n).err'\n"
            case .file(_, let path, let text):
                script += "echo \(n) > '\(outputs)/progress'\nmkdir -p \"$(dirname '\(path)')\"\n"
                script += "cat > '\(path)' <<'README_FILE_END'\n\(text)README_FILE_END\n"
            }
        }
        return script
    }

    /// The demo's lake in a project folder (`<root>/repo`, with `<root>/home` as HOME), made by the
    /// `agentshop` lines of scripts/demo.sh, run with the built binary.
    final class DemoProject {
        let directory: TemporaryDirectory
        var root: String { directory.path }
        var folder: String { root + "/repo" }
        var home: String { root + "/home" }

        init() throws {
            directory = try TemporaryDirectory()
            let files = FileManager.default
            try files.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
            try files.createDirectory(atPath: folder + "/datalake/raw_data/imports", withIntermediateDirectories: true)
            try files.createDirectory(atPath: home, withIntermediateDirectories: true)
            for pipeline in ["demo.yaml", "marketplace.yaml"] {
                try files.copyItem(atPath: ReadmeTests.repository + "/pipelines/" + pipeline, toPath: folder + "/pipelines/" + pipeline)
            }
            try files.copyItem(atPath: ReadmeTests.repository + "/datalake/raw_data/imports/demo",
                               toPath: folder + "/datalake/raw_data/imports/demo")
            let demo = try String(contentsOfFile: ReadmeTests.repository + "/scripts/demo.sh", encoding: .utf8)
            let lines = demo.split(separator: "\n").filter { $0.hasPrefix("\"$agentshop\" ") }
            #expect(lines.contains { $0.contains(" run pipelines/marketplace.yaml") } && lines.contains { $0.contains(" run pipelines/demo.yaml") },
                    "scripts/demo.sh no longer runs both pipelines as \"$agentshop\" run …")
            let script = "set -euo pipefail\nagentshop='\(Project.binary)'\nset --\n" + lines.joined(separator: "\n") + "\n"
            let result = try shell(script, in: folder, home: home)
            #expect(result.status == 0, "the demo's commands failed:\n\(result.stderr)")
        }

        /// Runs a page's steps from the project folder; returns the failures, each naming its line.
        func check(_ page: String, extraPath: [String] = []) throws -> [String] {
            let markdown = try String(contentsOfFile: ReadmeTests.repository + "/" + page, encoding: .utf8)
            let steps = ReadmeTests.steps(in: markdown)
            let outputs = root + "/out-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
            let result = try shell(ReadmeTests.script(for: steps, outputs: outputs), in: folder, home: home, extraPath: extraPath)
            var failures: [String] = []
            let reached = Int((try? String(contentsOfFile: outputs + "/progress", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
            for (n, step) in steps.enumerated() where n <= reached {
                guard case .commands(let line, _, let expected) = step else { continue }
                let stdout = (try? String(contentsOfFile: outputs + "/\(n).out", encoding: .utf8)) ?? ""
                let stderr = (try? String(contentsOfFile: outputs + "/\(n).err", encoding: .utf8)) ?? ""
                if n == reached && result.status != 0 {
                    failures.append("\(page):\(line): exit \(result.status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)\(result.stderr)")
                } else if let expected, ReadmeTests.trimmingLineEnds(stdout) != ReadmeTests.trimmingLineEnds(expected) {
                    failures.append("\(page):\(line): printed\n\(stdout)\nnot what the page shows:\n\(expected)")
                }
            }
            if reached < 0 { failures.append("\(page): nothing ran: \(result.stderr)") }
            return failures
        }
    }

    /// Output as a page can show it: spaces at the ends of lines (sqlite3's column padding) dropped.
    static func trimmingLineEnds(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        }.joined(separator: "\n")
    }

    static func shell(_ script: String, in folder: String, home: String,
                      extraPath: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var environment = ProcessInfo.processInfo.environment
        environment["AGENTSHOP_LAKE"] = nil
        environment["COLUMNS"] = nil
        environment["HOME"] = home
        let binaries = URL(fileURLWithPath: Project.binary).deletingLastPathComponent().path
        environment["PATH"] = (extraPath + [binaries, environment["PATH"] ?? "/usr/bin:/bin"]).joined(separator: ":")
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errHandle = err.fileHandleForReading
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = errHandle.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    static func readme() throws -> String {
        try String(contentsOfFile: repository + "/README.md", encoding: .utf8)
    }

    /// The set-up block holds the demo and test commands CI relies on (.ci/run runs scripts/test.sh,
    /// the README's test command), and the blocks that are not run hold nothing but set-up.
    @Test func theSetUpCommandsAreTheOnesCIRuns() throws {
        let blocks = Self.blocks(in: try Self.readme())
        let setup = blocks.filter { $0.info == "sh setup" }
        let lines = setup.flatMap { $0.body.split(separator: "\n").map(String.init) }
        #expect(lines.contains { $0.hasPrefix("./scripts/demo.sh ") })
        #expect(lines.contains { $0.hasPrefix("./scripts/test.sh ") })
        #expect(lines.contains { $0.hasPrefix("scripts/install.sh ") })
        let ci = try String(contentsOfFile: Self.repository + "/.ci/run", encoding: .utf8)
        #expect(ci.contains("scripts/test.sh"))
        for line in lines {
            let command = line.split(separator: "#").first?.trimmingCharacters(in: .whitespaces) ?? ""
            let allowed = command.hasPrefix("./scripts/") || command.hasPrefix("scripts/") || command.hasPrefix("export PATH=")
            #expect(allowed, "README.md: a block that is not run holds '\(line)': only set-up belongs there")
        }
        // Every other shell block runs.
        for block in blocks where block.language == "sh" || block.language == "bash" || block.language == "console" {
            #expect(block.info == "sh" || block.info == "sh setup", "README.md:\(block.line): ```\(block.info) is neither run nor set-up")
        }
        #expect(Self.steps(in: try Self.readme()).count >= 5)
    }

    /// A front door, not a reference: the reference lives in docs/.
    @Test func theReadmeStaysShort() throws {
        let size = try Self.readme().utf8.count
        #expect(size < 12_500, "README.md is \(size) bytes: move reference material to docs/")
    }

    /// Every relative link of the README and of docs/*.md leads to a file, and its #anchor to a
    /// heading of that file (GitHub's heading slugs).
    @Test func everyLinkLeadsSomewhere() throws {
        let files = FileManager.default
        var pages = ["README.md"]
        pages += try files.contentsOfDirectory(atPath: Self.repository + "/docs").filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        let link = try Regex(#"\]\(([^)\s]+)\)"#)
        for page in pages {
            let text = try String(contentsOfFile: Self.repository + "/" + page, encoding: .utf8)
            let base = (page as NSString).deletingLastPathComponent
            for match in text.matches(of: link) {
                let target = String(text[match.output[1].range!])
                if target.hasPrefix("http://") || target.hasPrefix("https://") || target.hasPrefix("mailto:") { continue }
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let path = parts[0].isEmpty ? page : ((base.isEmpty ? "" : base + "/") + parts[0])
                let resolved = (Self.repository + "/" + path as NSString).standardizingPath
                // docs/stages/<kind>.md are generated from the stage kinds' specs (`agentshop stages`).
                if path.hasPrefix("docs/stages") && !files.fileExists(atPath: Self.repository + "/docs/stages") { continue }
                #expect(files.fileExists(atPath: resolved), "\(page): link to \(target): no such file")
                if parts.count == 2, resolved.hasSuffix(".md"), let linked = try? String(contentsOfFile: resolved, encoding: .utf8) {
                    #expect(Self.anchors(in: linked).contains(parts[1]), "\(page): link to \(target): no such heading")
                }
            }
        }
    }

    /// Every table of the README and of docs/*.md renders as one: a header, a delimiter row, and
    /// rows with the header's number of cells (a row stranded after a paragraph shows as raw text).
    @Test func everyTableRenders() throws {
        var pages = ["README.md"]
        pages += try FileManager.default.contentsOfDirectory(atPath: Self.repository + "/docs").filter { $0.hasSuffix(".md") }
            .map { "docs/" + $0 }
        let delimiter = try Regex(#"^\|(\s*:?-+:?\s*\|)+\s*$"#)
        for page in pages {
            let lines = try String(contentsOfFile: Self.repository + "/" + page, encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var inFence = false
            var table: [(line: Int, text: String)] = []
            func finish() {
                defer { table = [] }
                guard let header = table.first else { return }
                guard table.count >= 2, table[1].text.wholeMatch(of: delimiter) != nil else {
                    Issue.record("\(page):\(header.line): table rows without a header and delimiter row")
                    return
                }
                let columns = Self.cells(header.text)
                for row in table where Self.cells(row.text) != columns {
                    Issue.record("\(page):\(row.line): \(Self.cells(row.text)) cells, the header has \(columns)")
                }
            }
            for (index, line) in lines.enumerated() {
                if line.hasPrefix("```") { inFence.toggle() }
                if !inFence && line.hasPrefix("|") {
                    table.append((index + 1, line))
                } else {
                    finish()
                }
            }
            finish()
        }
    }

    /// The cells of a table row: `|` separates them unless escaped (`\|`, also inside code).
    static func cells(_ row: String) -> Int {
        var count = 0
        var previous: Character = " "
        for character in row.trimmingCharacters(in: .whitespaces) {
            if character == "|" && previous != "\\" { count += 1 }
            previous = character
        }
        return count - 1
    }

    /// GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as '-'.
    static func anchors(in markdown: String) -> Set<String> {
        var anchors: Set<String> = []
        var inFence = false
        for line in markdown.split(separator: "\n") {
            if line.hasPrefix("```") { inFence.toggle() }
            guard !inFence, line.hasPrefix("#") else { continue }
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
            var slug = ""
            for character in title.lowercased() {
                if character.isLetter || character.isNumber || character == "-" || character == "_" {
                    slug.append(character)
                } else if character == " " {
                    slug.append("-")
                }
            }
            anchors.insert(slug)
        }
        return anchors
    }

    /// One demo lake for both pages: building it runs two pipelines.
    @Test func everyCommandOfTheReadmeAndTheLakePageRunsAsWritten() throws {
        let project = try DemoProject()
        var failures = try project.check("README.md")
        if AnalystDocsTests.toolsInstalled {
            failures += try project.check("docs/lake.md", extraPath: [AnalystDocsTests.venvBin])
        } else {
            #expect(!AnalystDocsTests.required, "AGENTSHOP_REQUIRE_WARCIO=1 but bench/.venv lacks duckdb, pandas or warcio: run scripts/analyst_tools.sh")
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n\n"))")
    }
}
