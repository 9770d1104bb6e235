import Foundation
import Testing

/// End-to-end: the run's report through `agentshop run` and `agentshop report`, and progress output.
@Suite struct ReportCommandTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      report:
        report: {}
        after: [products]
        out: processed_data/reports/dt={run_date}/shop.html
    """

    func makeProject() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init", "--quiet"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try project.write("datalake/raw_data/imports/products.csv", "slug,price\na,1\nb,2\n")
        return project
    }

    @Test func eachRunKeepsItsOwnFinalReportAndLatestFollows() throws {
        let project = try makeProject()
        let (first, m1) = try project.runPipeline("shop", ["--date", "2026-11-25"])
        #expect(first.status == 0, "\(first.stderr)")
        let run1 = try #require(m1["run_id"] as? String)
        let page1 = try project.read("datalake/processed_data/reports/shop/\(run1).html")
        #expect(page1.contains("status <b class=\"status-succeeded\">succeeded</b>"))
        #expect(!page1.contains("running when written"))
        // The stage's own page was written during the run and says so.
        let stagePage = try project.read("datalake/processed_data/reports/dt=2026-11-25/shop.html")
        #expect(stagePage.contains("running when written"))

        // A same-day rerun that skips everything is a no-op: it writes no page, latest.html stays run 1's.
        let (noop, m0) = try project.runPipeline("shop", ["--date", "2026-11-25"])
        #expect(noop.status == 0, "\(noop.stderr)")
        let run0 = try #require(m0["run_id"] as? String)
        #expect(!project.exists("datalake/processed_data/reports/shop/\(run0).html"))
        #expect(try project.read("datalake/processed_data/reports/shop/latest.html") == page1)

        // A rerun that runs a stage keeps the first run's page and gets its own.
        let (second, m2) = try project.runPipeline("shop", ["--date", "2026-11-25", "--force"])
        #expect(second.status == 0, "\(second.stderr)")
        let run2 = try #require(m2["run_id"] as? String)
        #expect(run2 != run1)
        #expect(try project.read("datalake/processed_data/reports/shop/\(run1).html") == page1)
        let page2 = try project.read("datalake/processed_data/reports/shop/\(run2).html")
        #expect(page2.contains(run2))
        #expect(try project.read("datalake/processed_data/reports/shop/latest.html") == page2)
        // Trends: the second page shows both runs.
        #expect(page2.contains("id=\"trends\"") && page2.contains("<h3>Records per dataset</h3>") && !page2.contains("trends appear from the second run"))
        // latest.html is a regular file, not a symlink (the lake refuses links).
        var info = stat()
        #expect(lstat(project.lake + "/processed_data/reports/shop/latest.html", &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
    }

    @Test func withoutADisplayTheReportCommandSaysWhereTheFileIsAndHowToViewIt() throws {
        let project = try makeProject()
        #expect(try project.runPipeline("shop", ["--date", "2026-11-25"]).0.status == 0)
        let headless = try project.run(["report", "--pipeline", "shop"], environment: ["DISPLAY": "", "WAYLAND_DISPLAY": "", "PATH": "/usr/bin:/bin"])
        #expect(headless.status == 0, "\(headless.stderr)")
        let file = headless.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(file.hasSuffix(".html") && FileManager.default.fileExists(atPath: file))
        #expect(headless.stderr.contains("no display here"), "\(headless.stderr)")
        #expect(headless.stderr.contains(file) && headless.stderr.contains("python3 -m http.server"))
        // With a display and an opener on PATH, it names the command instead.
        let bin = project.folder + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: bin + "/xdg-open", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        let desktop = try project.run(["report", "--pipeline", "shop"], environment: ["DISPLAY": ":0", "PATH": bin + ":/usr/bin:/bin"])
        #expect(desktop.stderr.contains("open it with: xdg-open \(file)"), "\(desktop.stderr)")
    }

    @Test func verboseWithoutATerminalPrintsAStartAndAnEndLinePerStage() throws {
        let project = try makeProject()
        let result = try project.run(["run", "shop", "-v", "--date", "2026-11-25"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("1 of 2 START products") }, "\(result.stderr)")
        #expect(lines.contains { $0.contains("1 of 2 RAN products") })
        #expect(lines.contains { $0.contains("2 of 2 START report") })
        #expect(lines.contains { $0.contains("2 of 2 RAN report") })
        // Without -v and without a terminal: the one summary line only.
        let quiet = try project.run(["run", "shop", "--date", "2026-11-26"])
        #expect(!quiet.stderr.contains("START"))
    }

    @Test func onATerminalProgressShowsDoneOverTotalAndMarksEachStage() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        let project = try makeProject()
        let command = "'\(Project.binary)' run shop --date 2026-11-25"
        let result = try project.run(["--version"])  // warm-up: the binary exists
        #expect(result.status == 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-q", "-c", command, "/dev/null"]
        process.currentDirectoryURL = URL(fileURLWithPath: project.folder)
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm"
        environment["AGENTSHOP_LAKE"] = nil
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains("✓ products"), "\(text)")
        #expect(text.contains("✓ report"))
        #expect(text.contains("\u{1B}[K"))  // the live line is redrawn in place
    }
}
