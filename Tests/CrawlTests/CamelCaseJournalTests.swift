import Foundation
import Lake
import Testing
@testable import Crawl

/// A fetch stage's per-URL state written by an earlier version (camelCase keys) still reads: the
/// next crawl keeps its validators and pages instead of fetching everything again.
struct CamelCaseJournalTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/camelcase-keys").path

    @Test func urlsOfAnEarlierVersionAreKnown() throws {
        let folder = NSTemporaryDirectory() + "agentshop-camelcase-journal-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixtures + "/urls.jsonl", toPath: folder + "/urls.jsonl")

        let state = try FetchState(folder: folder, crawlKey: "k")
        let url = "file:///srv/shop/datalake/raw_data/imports/demo/site/list/page-1.html"
        let known = try #require(state.known(url))
        #expect(known.finalURL == url && known.status == 200 && known.depth == 1)
        #expect(known.bodySHA256 == "a38661db1e584afa2aaf13bd1759241e25775a608a969b6069e952789969eae2")
        #expect(known.contentType == "text/html" && known.fetchedAt == "2026-12-06T22:52:44Z")
        #expect(known.isFile && !known.fromCache && !known.notModified && !known.robotsDisallowed)
        #expect(known.header("Last-Modified") == "Sun, 06 Dec 2026 22:52:43 GMT")
        #expect(known.stored?.offset == 391 && known.stored?.length == 633 && known.stored?.responseOffset == 0)
        #expect(state.known("file:///srv/shop/datalake/raw_data/imports/demo/site/index.html")?.bytes == 221)

        // Written again, the entry has snake_case keys only.
        let line = String(decoding: FetchState.encode(known), as: UTF8.self)
        let keys = try JSONValue.parse(line).objectValue?.keys ?? []
        #expect(keys.contains("final_url") && keys.contains("body_sha256") && keys.contains("fetched_at"))
        #expect(!keys.contains { $0.contains(where: \.isUppercase) }, "\(keys)")
        #expect(line.contains(#""response_offset":0"#))
    }
}
