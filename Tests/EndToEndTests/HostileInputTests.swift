import Foundation
import Testing

/// End-to-end, through the built binary: hostile configuration and input end in an error at their
/// position, never a trap, a hang, a wrong partition or a silently shorter value.
@Suite struct HostileInputEndToEndTests {
    func makeProject() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        return project
    }

    static let copyPipeline = """
        pipeline: shop
        stages:
          copy:
            import: { from: raw_data/imports/in.jsonl }
            out: scraped_data/products/dt={run_date}/copy.jsonl
        """

    @Test(arguments: [
        ("2026-13-45", "there is no month 13 (months are 01 to 12)"),
        ("2026-02-30", "there is no day 30 in 2026-02 (it has 28 days)"),
        ("2026-04-31", "there is no day 31 in 2026-04 (it has 30 days)"),
        ("2026-1-5", "expected a date written YYYY-MM-DD, such as 2026-11-25"),
        ("٢٠٢٦-١١-٢٥", "expected a date written YYYY-MM-DD, such as 2026-11-25"),
        ("0000-01-01", "there is no year 0000"),
    ])
    func impossibleRunDatesAreRefused(date: String, reason: String) throws {
        let project = try makeProject()
        try project.write("pipelines/shop.yaml", Self.copyPipeline)
        try project.write("datalake/raw_data/imports/in.jsonl", "{\"a\":1}\n")
        for command in ["run", "plan"] {
            let result = try project.run([command, "shop", "--date", date])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr == "--date: \(reason), found '\(date)'\n", "\(command)")
        }
        #expect(!project.exists("datalake/scraped_data/products/dt=\(date)"))
    }

    @Test func aLeapDayIsARunDate() throws {
        let project = try makeProject()
        try project.write("pipelines/shop.yaml", Self.copyPipeline)
        try project.write("datalake/raw_data/imports/in.jsonl", "{\"a\":1}\n")
        let result = try project.run(["run", "shop", "--date", "2028-02-29"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(project.exists("datalake/scraped_data/products/dt=2028-02-29/copy.jsonl"))
    }

    @Test func textWithNULBytesSurvivesSQLStagesAndQuery() throws {
        let project = try makeProject()
        try project.write("pipelines/shop.yaml", """
            pipeline: shop
            stages:
              copied:
                sql:
                  from: raw_data/imports/in.jsonl
                  query: SELECT s, length(CAST(s AS BLOB)) AS bytes FROM "in"
                out: processed_data/exports/copied.jsonl
            """)
        try project.write("datalake/raw_data/imports/in.jsonl", "{\"s\":\"a\\u0000b\\u0000c\"}\n")
        let run = try project.run(["run", "shop"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try project.read("datalake/processed_data/exports/copied.jsonl") == "{\"s\":\"a\\u0000b\\u0000c\",\"bytes\":5}\n")

        let query = try project.run(["query", "SELECT s, length(CAST(s AS BLOB)) AS bytes FROM 'raw_data/imports/in.jsonl'",
                                     "--format", "jsonl"])
        #expect(query.status == 0, "\(query.stderr)")
        #expect(query.stdout == "{\"s\":\"a\\u0000b\\u0000c\",\"bytes\":5}\n")
    }

    @Test func controlAndBidiCharactersFromConfigurationAreEscapedOnStderr() throws {
        let project = try makeProject()
        // A stage name with an escape sequence (clear screen) and a right-to-left override.
        try project.write("pipelines/shop.yaml", """
            pipeline: shop
            stages:
              "evil\\e[2J\\u202Eeman":
                import: { from: raw_data/imports/in.jsonl }
                out: scraped_data/x.jsonl
            """)
        try project.write("datalake/raw_data/imports/in.jsonl", "{\"a\":1}\n")
        let result = try project.run(["validate", "shop"])
        #expect(result.status == 2)
        #expect(!result.stderr.contains("\u{1B}"), "\(result.stderr.debugDescription)")
        #expect(!result.stderr.contains("\u{202E}"), "\(result.stderr.debugDescription)")
        #expect(result.stderr.contains("stages.evil\\u{1B}[2J\\u{202E}eman: stage names may hold letters, digits, '_' and '-' only"),
                "\(result.stderr)")
    }

    @Test func aBillionLaughsPipelineIsRefusedQuickly() throws {
        let project = try makeProject()
        let levels = "abcdefghi".map(String.init)
        var yaml = "pipeline: shop\nx:\n"
        yaml += "  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for (previous, level) in zip(levels, levels.dropFirst()) {
            yaml += "  \(level): &\(level) [" + Array(repeating: "*" + previous, count: 10).joined(separator: ", ") + "]\n"
        }
        yaml += "stages:\n  copy:\n    import: { from: raw_data/imports/in.jsonl }\n    out: scraped_data/x.jsonl\n    description: *i\n"
        try project.write("pipelines/shop.yaml", yaml)
        try project.write("datalake/raw_data/imports/in.jsonl", "{\"a\":1}\n")
        let started = Date()
        for command in [["validate", "shop"], ["run", "shop"], ["plan", "shop"]] {
            let result = try project.run(command)
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("expands to more than 10000 values"), "\(command): \(result.stderr)")
        }
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test func hugeNumbersInSettingsAreErrorsNotTraps() throws {
        let project = try makeProject()
        try project.write("pipelines/shop.yaml", """
            pipeline: shop
            schedule: { cron: "0 3 * * *", timeout: 1e300h }
            stages:
              crawl:
                fetch: { seeds: ["https://shop.example/"], max_page_bytes: 1e300MB, timeout: 1e300s }
                out: scraped_data/pages.warc.gz
              run:
                command: { run: "true", timeout: 99999999999999999999d }
                out: scraped_data/done.txt
              backup:
                dump: { retention: { daily: 1e300d } }
            """)
        let result = try project.run(["validate", "shop"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("2:41: schedule.timeout: a duration may be at most 36500d"), "\(result.stderr)")
        #expect(result.stderr.contains("stages.crawl.fetch.max_page_bytes: a size may be at most 1.0 TB, found '1e300MB'"), "\(result.stderr)")
        #expect(result.stderr.contains("stages.crawl.fetch.timeout: a duration may be at most"), "\(result.stderr)")
        #expect(result.stderr.contains("stages.run.command.timeout: a duration may be at most"), "\(result.stderr)")
        #expect(result.stderr.contains("stages.backup.dump.retention.daily: a duration may be at most"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
    }
}
