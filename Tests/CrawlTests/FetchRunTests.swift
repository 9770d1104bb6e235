import Crawl
import Foundation
import Lake
import Logging
import TestSupport
import Testing

/// The crawler on its own, without the fetch stage or the HTML module: links come from whatever
/// `LinkReader` the caller hands in (here a few lines that find `href="…"`).
@Suite struct FetchRunTests {
    struct HrefReader: LinkReader {
        func read(_ page: [UInt8], url: String, contentType: String?, schemes: Set<String>) -> PageLinks? {
            let text = String(decoding: page, as: UTF8.self)
            let links = text.components(separatedBy: "href=\"").dropFirst().compactMap { part in
                part.split(separator: "\"").first.map { URLResolver.resolve(String($0), against: url) } ?? nil
            }
            let title = text.components(separatedBy: "<title>").dropFirst().first?.components(separatedBy: "</title>").first
            return PageLinks(links: links, title: title)
        }
    }

    @Test func crawlsWithAHandedInReaderAndLogsTitles() async throws {
        let root = NSTemporaryDirectory() + "agentshop-fetchrun-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let lake = Lake(root: root)
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.page("/", #"<html><head><title>Home</title></head><a href="/a">a</a> <a href="b">b</a></html>"#)
            await site.page("/a", "<html><head><title>A</title></head></html>")
            await site.page("/b", #"<html><head><title>B</title></head><a href="/">home</a></html>"#)
        }) { base, site in
            var settings = CrawlSettings()
            settings.seeds = [.url(base + "/")]
            settings.politeness = .off(concurrency: 2)
            settings.allowPrivateAddresses = true
            settings.crawlKey = "test"
            let warc = try lake.resolve("scraped_data/site/pages.warc.gz")
            let log = try lake.resolve("raw_data/logs/crawl/crawl.jsonl")
            let target = CrawlTarget(lake: lake, warc: warc, log: log, stateFolder: root + "/.state", environment: [:],
                                     isPartOf: "test/crawl", logger: Logger(label: "test"))
            let report = try await FetchRun(settings: settings, target: target, reader: HrefReader()).run()
            #expect(report.counts["pages_fetched"] == 3)
            let reader = try RecordReader(path: log.absolute)
            var entries: [CrawlLogEntry] = []
            while let line = try reader.next() { entries.append(try #require(CrawlLogEntry(line))) }
            #expect(entries.map(\.url) == [base + "/", base + "/a", base + "/b"])
            #expect(entries.map(\.title) == ["Home", "A", "B"])
            #expect(await site.paths.filter { $0 != "/robots.txt" }.count == 3)
        }
    }

    @Test func aRefusedCrawlPublishesNothing() async throws {
        let root = NSTemporaryDirectory() + "agentshop-fetchrun-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let lake = Lake(root: root)
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.page("/", "<html><head><title>Home</title></head></html>")
        }) { base, _ in
            var settings = CrawlSettings()
            settings.seeds = [.url(base + "/")]
            settings.politeness = .off(concurrency: 1)
            settings.allowPrivateAddresses = true
            settings.refusal = { $0.fetched < 2 ? "only \($0.fetched) page" : nil }
            let warc = try lake.resolve("pages.warc.gz")
            let target = CrawlTarget(lake: lake, warc: warc, log: nil, stateFolder: root + "/.state", environment: [:],
                                     isPartOf: "test/crawl", logger: Logger(label: "test"))
            await #expect {
                try await FetchRun(settings: settings, target: target, reader: HrefReader()).run()
            } throws: { error in
                (error as? CrawlError)?.message.hasPrefix("only 1 page; nothing was published") == true
            }
            #expect(!FileManager.default.fileExists(atPath: warc.absolute))
        }
    }
}
