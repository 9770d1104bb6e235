import Foundation
import Lake
import LLM
import Pipeline
@testable import Stages
import TestSupport
import Testing

/// The limits past which a stage's run cannot be trusted: `min_pages` and `max_error_rate` for fetch,
/// `max_rejects` for import, parse and enrich, and an enrich run whose every answer was quarantined.
@Suite struct ThresholdTests {
    @Test(arguments: [
        ("10", RejectLimit.count(10)), ("0", .count(0)), ("5%", .ratio(0.05)), ("0.05", .ratio(0.05)),
        ("100%", .ratio(1)), ("\"12.5%\"", .ratio(0.125)),
    ])
    func maxRejectsReadsACountOrAShare(text: String, expected: RejectLimit) throws {
        let project = try Project()
        try project.put("raw_data/imports/a.csv", "id\n1\n")
        try project.writePipeline("""
            stages:
              a:
                import: { from: raw_data/imports/a.csv, on_error: skip, max_rejects: \(text) }
                out: processed_data/a.jsonl
            """)
        let definition = try #require(try project.load().0.stage(named: "a")?.definition as? ImportStage.Definition)
        #expect(definition.maxRejects == expected)
    }

    @Test func everyNewKeyIsValidatedAtItsPosition() throws {
        let project = try Project()
        try project.put("raw_data/imports/a.csv", "id\n1\n")
        try project.put("raw_data/imports/r.jsonl", "{\"text\":\"x\"}\n")
        try project.writePipeline("""
            stages:
              crawl:
                fetch: { seeds: [https://shop.example/], min_pages: -1, max_error_rate: 150% }
                out: [scraped_data/x/pages.warc.gz]
              crawl2:
                fetch: { seeds: [https://shop.example/], max_pages: 5, min_pages: 6, max_error_rate: 3 }
                out: [scraped_data/y/pages.warc.gz]
              a:
                import: { from: raw_data/imports/a.csv, max_rejects: lots }
                out: processed_data/a.jsonl
              p:
                parse: { from: crawl, fields: { t: "title::text" }, max_rejects: 1.5 }
                out: processed_data/p.jsonl
              e:
                enrich: { from: raw_data/imports/r.jsonl, task: sentiment, max_rejects: [1] }
                out: processed_data/e.jsonl
            """)
        let problems = try project.problems()
        let expected = [
            "3:57: stages.crawl.fetch.min_pages: must be at least 0, found -1",
            "3:77: stages.crawl.fetch.max_error_rate: expected a percentage from 0% to 100%, found '150%'",
            "6:71: stages.crawl2.fetch.min_pages: min_pages (6) is more than max_pages (5) lets the crawl fetch",
            "6:90: stages.crawl2.fetch.max_error_rate: expected a share between 0 and 1 (or 0% and 100%), found '3'",
            "9:58: stages.a.import.max_rejects: expected a count such as 10 or a share such as 5% or 0.05, found 'lots'",
            "12:70: stages.p.parse.max_rejects: a share is between 0 and 1 (or 0% and 100%); a count is a whole number, found '1.5'",
            "15:77: stages.e.enrich.max_rejects: expected a count such as 10 or a share such as 5% or 0.05",
        ]
        for line in expected { #expect(problems.contains(line), "\(line)\n\(problems.joined(separator: "\n"))") }
    }

    @Test func importOverMaxRejectsFailsAndKeepsThePreviousOutput() async throws {
        let project = try Project()
        try project.put("raw_data/imports/e.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n")
        let yaml = """
            stages:
              events:
                import: { from: raw_data/imports/e.jsonl, on_error: skip, max_rejects: LIMIT }
                out: processed_data/events.jsonl
            """
        try project.writePipeline(yaml.replacingOccurrences(of: "LIMIT", with: "1"))
        #expect(try await project.run().status == .succeeded)
        let before = try project.read("processed_data/events.jsonl")

        try project.put("raw_data/imports/e.jsonl", "{\"id\":1}\nnot json\n{\"id\":3}\n[4]\n")
        let manifest = try await project.run { $0.runID = "R2" }
        #expect(manifest.status == .failed)
        let error = manifest.stage("events")?.error ?? ""
        #expect(error.contains("2 of 4 (50%) records rejected, more than max_rejects (1) allows"), "\(error)")
        #expect(error.contains("raw_data/logs/p/R2.events.rejects.jsonl"))
        #expect(try project.read("processed_data/events.jsonl") == before)
        #expect(try project.records("raw_data/logs/p/R2.events.rejects.jsonl").count == 2)

        try project.writePipeline(yaml.replacingOccurrences(of: "LIMIT", with: "50%"))
        #expect(try await project.run().status == .succeeded)
    }

    @Test func parseOverMaxRejectsFailsAndKeepsThePreviousOutput() async throws {
        let project = try Project()
        try project.put("pages/a.html", "<html><h1>A</h1></html>")
        try project.put("pages/b.html", "<html><p>no title</p></html>")
        let yaml = """
            stages:
              items:
                parse: { from: pages/*.html, base_url: "https://shop.example/", fields: { name: { css: "h1::text", required: true } }, max_rejects: LIMIT }
                out: processed_data/items.jsonl
            """
        try project.writePipeline(yaml.replacingOccurrences(of: "LIMIT", with: "1"))
        #expect(try await project.run().status == .succeeded)
        let before = try project.read("processed_data/items.jsonl")

        try project.writePipeline(yaml.replacingOccurrences(of: "LIMIT", with: "0"))
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        let error = manifest.stage("items")?.error ?? ""
        #expect(error.contains("1 of 2 (50%) pages or records rejected, more than max_rejects (0) allows"), "\(error)")
        #expect(try project.read("processed_data/items.jsonl") == before)
    }

    @Test func enrichWhoseEveryAnswerIsQuarantinedFailsUnlessMaxRejectsAllowsIt() async throws {
        let project = try Project()
        let provider = ScriptedProvider { _ in #"{"label":"positive","score":7,"confidence":0.5}"# }
        try project.putReviews(["good", "fine"])
        let yaml = """
            pipeline: p
            stages:
              scored:
                enrich: { from: raw_data/imports/reviews.jsonl, task: sentiment, into: s EXTRA }
                out: processed_data/scored.jsonl
            """
        try project.writePipeline(yaml.replacingOccurrences(of: "EXTRA", with: ""))
        let manifest = try await project.run(registry: project.registry(provider))
        #expect(manifest.status == .failed)
        let error = manifest.stage("scored")?.error ?? ""
        #expect(error.contains("every answer was invalid and quarantined (2 of 2 records)"), "\(error)")
        #expect(!project.exists("processed_data/scored.jsonl"))
        #expect(try project.records("raw_data/logs/p/\(manifest.runID).scored.rejects.jsonl").count == 2)

        try project.writePipeline(yaml.replacingOccurrences(of: "EXTRA", with: ", max_rejects: 100%"))
        let allowed = try await project.run(registry: project.registry(provider))
        #expect(allowed.status == .succeeded, "\(allowed.error ?? "")")
    }

    /// Two of three pages answer 404: over a max_error_rate of 50%, the crawl is not published.
    @Test func fetchOverMaxErrorRateFails() async throws {
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.page("/a", "<html><title>A</title></html>")
            await site.route("/b") { _, _ in .text("gone", status: 404) }
            await site.route("/c") { _, _ in .text("gone", status: 404) }
        }) { base, _ in
            let config = """
                seeds: [BASE/a, BASE/b, BASE/c]
                allow_private_addresses: true
                per_host: { delay: 0s }
                retries: 0
                """.replacingOccurrences(of: "BASE", with: base)
            try project.writePipeline(FetchStageTests.pipeline(config + "\nmax_error_rate: 50%"))
            let manifest = try await project.run()
            #expect(manifest.status == .failed)
            let error = manifest.stage("crawl")?.error ?? ""
            #expect(error.contains("2 of 3 (66.67%) URLs failed, more than max_error_rate (50%) allows"), "\(error)")
            #expect(!project.exists(FetchStageTests.warc))

            // min_pages above what the crawl got fails too; within the limits it is published.
            try project.writePipeline(FetchStageTests.pipeline(config + "\nmin_pages: 2"))
            let few = try await project.run()
            #expect(few.stage("crawl")?.error?.contains("1 page fetched, fewer than min_pages (2): 2 URLs failed") == true,
                    "\(few.stage("crawl")?.error ?? "")")
            try project.writePipeline(FetchStageTests.pipeline(config + "\nmax_error_rate: 70%"))
            #expect(try await project.run().status == .succeeded)
        }
    }

    /// A refused crawl is over: the next run fetches again rather than resuming its failures from the journal.
    @Test func aCrawlThatFailedIsNotResumedNextTime() async throws {
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.route("/a") { _, hit in hit == 1 ? .text("down", status: 503) : .html("<html><title>A</title></html>") }
        }) { base, site in
            try project.writePipeline(FetchStageTests.pipeline("""
                seeds: [\(base)/a]
                allow_private_addresses: true
                per_host: { delay: 0s }
                retries: 0
                """))
            let failed = try await project.run()
            #expect(failed.status == .failed)
            #expect(failed.stage("crawl")?.error?.contains("every seed failed") == true, "\(failed.stage("crawl")?.error ?? "")")
            let again = try await project.run()
            #expect(again.status == .succeeded, "\(again.stage("crawl")?.error ?? "")")
            #expect(await site.paths.filter { $0 == "/a" }.count == 2)
            #expect(project.exists(FetchStageTests.warc))
        }
    }
}
