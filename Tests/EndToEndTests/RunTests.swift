import Foundation
import Testing

/// End-to-end: the built binary on a temporary lake, checking stdout, stderr, exit codes and files.
@Suite struct RunTests {
    /// seed (import CSV) -> products (import to CSV) ; counts (command over products)
    /// other (import a second file), independent of the first chain.
    static let pipeline = """
    pipeline: shop
    stages:
      seed:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/products.jsonl.gz
      export:
        import: { from: seed }
        out: processed_data/exports/products.csv
      counts:
        command: { run: "zcat {in} | wc -l > {out}", from: seed }
        out: processed_data/reports/count.txt
      other:
        import: { from: raw_data/imports/vendors.csv }
        out: scraped_data/content/vendors.jsonl
    """

    func makeProject() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try project.write("datalake/raw_data/imports/products.csv", "slug,price\na,1.5\nb,2\n")
        try project.write("datalake/raw_data/imports/vendors.csv", "name\nacme\n")
        return project
    }

    @Test func firstRunRunsEverythingAndSecondSkipsEverything() throws {
        let project = try makeProject()
        let (first, manifest1) = try project.runPipeline("shop")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Project.statuses(manifest1) == ["seed": "ran", "export": "ran", "counts": "ran", "other": "ran"])
        #expect(try project.read("datalake/processed_data/reports/count.txt").trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try project.read("datalake/processed_data/exports/products.csv") == "slug,price\na,1.5\nb,2\n")

        let (second, manifest2) = try project.runPipeline("shop")
        #expect(second.status == 0)
        #expect(Project.statuses(manifest2) == ["seed": "skipped", "export": "skipped", "counts": "skipped", "other": "skipped"])
        #expect(project.temporaryFiles().isEmpty)
    }

    @Test func changingOneInputRerunsOnlyItsDownstream() throws {
        let project = try makeProject()
        #expect(try project.runPipeline("shop").0.status == 0)
        try project.write("datalake/raw_data/imports/vendors.csv", "name\nacme\nglobex\n")
        let (result, manifest) = try project.runPipeline("shop")
        #expect(result.status == 0)
        #expect(Project.statuses(manifest) == ["seed": "skipped", "export": "skipped", "counts": "skipped", "other": "ran"])

        try project.write("datalake/raw_data/imports/products.csv", "slug,price\na,1.5\nb,2\nc,3\n")
        let (_, manifest2) = try project.runPipeline("shop")
        #expect(Project.statuses(manifest2) == ["seed": "ran", "export": "ran", "counts": "ran", "other": "skipped"])
        #expect(try project.read("datalake/processed_data/reports/count.txt").trimmingCharacters(in: .whitespacesAndNewlines) == "3")
    }

    @Test func planShowsRunOrSkipAndWhyWithoutWriting() throws {
        let project = try makeProject()
        let before = try project.run(["plan", "shop"])
        #expect(before.status == 0)
        #expect(before.stdout.contains("never run"))
        #expect(!project.exists("datalake/scraped_data/products/products.jsonl.gz"))
        #expect(try project.runPipeline("shop").0.status == 0)
        try project.write("datalake/raw_data/imports/vendors.csv", "name\nx\n")
        let after = try project.run(["plan", "shop"])
        let otherLine = after.stdout.split(separator: "\n").first { $0.hasPrefix("other") }.map(String.init) ?? ""
        #expect(otherLine.contains("run") && otherLine.contains("input changed: raw_data/imports/vendors.csv"))
        let seedLine = after.stdout.split(separator: "\n").first { $0.hasPrefix("seed") }.map(String.init) ?? ""
        #expect(seedLine.contains("skip"))
    }

    @Test func forceAndStageSelection() throws {
        let project = try makeProject()
        #expect(try project.runPipeline("shop").0.status == 0)
        let (_, forced) = try project.runPipeline("shop", ["--force", "--stage", "export"])
        #expect(Project.statuses(forced) == ["seed": "skipped", "export": "ran"])
    }

    @Test func failingStageFailsTheRunAndKeepsEarlierOutputs() throws {
        let project = try makeProject()
        #expect(try project.runPipeline("shop").0.status == 0)
        let goodCount = try project.read("datalake/processed_data/reports/count.txt")
        // Break the command and change its input: it fails, and its earlier output must survive.
        try project.write("pipelines/shop.yaml", Self.pipeline.replacingOccurrences(
            of: "zcat {in} | wc -l > {out}", with: "echo partial > {out}; echo 'disk on fire' >&2; exit 3"))
        try project.write("pipelines/shop.yaml", try project.read("pipelines/shop.yaml") + """

          after_counts:
            command: { run: "cat {in} > {out}", from: counts }
            out: processed_data/reports/count_copy.txt
        """)
        let (result, manifest) = try project.runPipeline("shop")
        #expect(result.status == 1)
        let statuses = Project.statuses(manifest)
        #expect(statuses["counts"] == "failed")
        #expect(statuses["after_counts"] == "blocked")
        #expect(try project.read("datalake/processed_data/reports/count.txt") == goodCount)
        #expect(!project.exists("datalake/processed_data/reports/count_copy.txt"))
        let stages = manifest["stages"] as? [[String: Any]] ?? []
        let error = stages.first { $0["name"] as? String == "counts" }?["error"] as? String ?? ""
        #expect(error.contains("status 3") && error.contains("disk on fire"))
        #expect(project.temporaryFiles().isEmpty)
    }

    @Test func invalidPipelineExitsTwoWithPositions() throws {
        let project = try makeProject()
        try project.write("pipelines/bad.yaml", """
        pipeline: bad
        stages:
          seed:
            import: { from: raw_data/imports/products.csv, infer_typez: true }
            out: scraped_data/x.jsonl
          loop_a:
            command: { run: "cp {in} {out}", from: loop_b }
            out: a.txt
          loop_b:
            command: { run: "cp {in} {out}", from: loop_a }
            out: b.txt
        """)
        let result = try project.run(["validate", "pipelines/bad.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("pipelines/bad.yaml:4:52: stages.seed.import.infer_typez: unknown key 'infer_typez' (did you mean 'infer_types'?)"))
        #expect(result.stderr.contains("cycle: loop_a -> loop_b -> loop_a") || result.stderr.contains("cycle: loop_b -> loop_a -> loop_b"))
        let run = try project.run(["run", "pipelines/bad.yaml"])
        #expect(run.status == 2)

        // The same problems for scripts: one object per file, positions as numbers.
        let json = try project.run(["validate", "pipelines/bad.yaml", "pipelines/shop.yaml", "--json"])
        #expect(json.status == 2)
        let results = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(results.map { $0["valid"] as? Bool } == [false, true])
        let first = try #require((results[0]["diagnostics"] as? [[String: Any]])?.first)
        #expect(first["line"] as? Int == 4 && first["column"] as? Int == 52)
        #expect(first["key_path"] as? String == "stages.seed.import.infer_typez")
    }

    @Test func usageErrorsExit64() throws {
        let project = try Project()
        let result = try project.run(["run", "--no-such-flag", "x"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--no-such-flag"))
        #expect(try project.run(["run", "--help"]).status == 0)
    }

    @Test func missingLakeIsAClearError() throws {
        let project = try Project()
        try project.write("pipelines/shop.yaml", Self.pipeline)
        let result = try project.run(["run", "shop", "--lake", "nowhere"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no lake at"))
    }

    @Test func runsListsHistoryAndShowPrintsOneRun() throws {
        let project = try makeProject()
        let (_, manifest) = try project.runPipeline("shop")
        let runID = try #require(manifest["run_id"] as? String)
        let list = try project.run(["runs"])
        #expect(list.status == 0 && list.stdout.contains(runID) && list.stdout.contains("succeeded"))
        let show = try project.run(["runs", "show", String(runID.prefix(22))])
        #expect(show.status == 0)
        #expect(show.stdout.contains("processed_data/reports/count.txt"))
        #expect(project.exists("datalake/raw_data/logs/shop/\(runID).log"))
        #expect(try project.run(["runs", "show", "nope"]).status == 2)
    }
}
