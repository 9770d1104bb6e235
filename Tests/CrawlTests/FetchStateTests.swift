import Foundation
import Lake
import Testing
@testable import Crawl

@Suite struct FetchStateTests {
    /// A page's records as the fetch stage encodes them: request + response, gzip members.
    static func encoded(_ url: String, body: String) throws -> (FetchEntry, EncodedRecords) {
        let memory = MemorySink()
        let warc = try WARCWriter(sink: memory)
        try warc.write(WARCRecord(type: .request, headers: [("WARC-Target-URI", url), ("Content-Type", "application/http; msgtype=request")],
                                  block: HTTPMessage(startLine: "GET / HTTP/1.1", headers: [], body: []).bytes))
        let at = warc.fileOffset
        try warc.write(WARCRecord(type: .response, headers: [("WARC-Target-URI", url), ("Content-Type", "application/http; msgtype=response")],
                                  block: HTTPMessage(startLine: "HTTP/1.1 200 OK", headers: [("Content-Length", "\(body.utf8.count)")],
                                                     body: Array(body.utf8)).bytes))
        let entry = FetchEntry(url: url, depth: 0, status: 200, bodySHA256: FetchState.sha256(Array(body.utf8)), fetchedAt: "", via: "direct")
        return (entry, EncodedRecords(bytes: memory.bytes, responseOffset: at, count: warc.recordCount))
    }

    static func packs(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter(FetchState.isPackName).sorted()
    }

    @Test func aJournalledPageThatIsNotWholeInThePackIsFetchedAgain() throws {
        let folder = NSTemporaryDirectory() + "agentshop-fetchstate-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let state = try FetchState(folder: folder, crawlKey: "k")
        for (url, body) in [("https://x.example/kept", "kept"), ("https://x.example/lost", "lost")] {
            var (entry, records) = try Self.encoded(url, body: body)
            entry.stored = try state.store(records)
            try state.journal(entry)
        }
        try state.syncJournal()
        // The last page cut short (a power loss before the pack reached the disk), and a torn last
        // journal line, as a kill in the middle of a write leaves.
        let pack = folder + "/" + state.packName
        let size = try #require(try FileManager.default.attributesOfItem(atPath: pack)[.size] as? Int)
        #expect(truncate(pack, off_t(size - 10)) == 0)
        let handle = try #require(FileHandle(forUpdatingAtPath: folder + "/journal.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"url\":\"https://x.example/torn\",\"de".utf8))
        try handle.close()

        let resumed = try FetchState(folder: folder, crawlKey: "k")
        #expect(resumed.packName == state.packName)
        #expect(Set(resumed.resumed.keys) == ["https://x.example/kept"])
        let kept = try resumed.entry(at: #require(resumed.resumed["https://x.example/kept"]))
        #expect(kept.url == "https://x.example/kept")
        #expect(try resumed.body(of: kept) == Array("kept".utf8))
        // Entries journalled after the torn line are read back too.
        var (entry, records) = try Self.encoded("https://x.example/new", body: "new")
        entry.stored = try resumed.store(records)
        try resumed.journal(entry)
        try resumed.syncJournal()
        #expect(Set(try FetchState(folder: folder, crawlKey: "k").resumed.keys) == ["https://x.example/kept", "https://x.example/new"])
        // A journal of another crawl configuration is not resumed, and gets a pack of its own.
        let other = try FetchState(folder: folder, crawlKey: "other")
        #expect(other.resumed.isEmpty)
        #expect(other.packName != state.packName)
    }

    @Test func aCompletedRunKeepsOnePackWithEveryPageItsStateRefersTo() throws {
        let folder = NSTemporaryDirectory() + "agentshop-fetchstate-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try FetchState(folder: folder, crawlKey: "k")
        var (entry, records) = try Self.encoded("https://x.example/a", body: "page a")
        entry.stored = try first.store(records)
        let update = try first.update()
        try update.keep(entry)
        try update.commit(crawlKey: "k")
        #expect(try Self.packs(folder) == [first.packName])

        // The next run does not visit /a: its page is copied into the new pack, the old pack goes.
        let second = try FetchState(folder: folder, crawlKey: "k")
        #expect(second.resumed.isEmpty && second.packName != first.packName)
        try second.update().commit(crawlKey: "k")
        #expect(try Self.packs(folder) == [second.packName])
        let third = try FetchState(folder: folder, crawlKey: "k")
        let known = try #require(third.known("https://x.example/a"))
        #expect(known.stored?.pack == second.packName)
        #expect(try third.body(of: known) == Array("page a".utf8))
    }

    /// A journal the previous version wrote (its entries have no `title`) is resumed as it is.
    @Test func aJournalOfThePreviousVersionResumes() throws {
        let folder = NSTemporaryDirectory() + "agentshop-fetchstate-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let state = try FetchState(folder: folder, crawlKey: "k")
        let page = try state.store(try Self.encoded("https://x.example/p", body: "page p").1)
        // The line exactly as the previous version's FetchEntry encoded it (sorted keys, no title).
        let line = #"{"attempt":1,"bodySHA256":""# + FetchState.sha256(Array("page p".utf8))
            + #"","bytes":6,"depth":0,"fetchedAt":"2026-11-18T10:00:01Z","fromCache":false,"headers":[],"isFile":false,"ms":4,"#
            + #""notModified":false,"redirects":[],"requestHeaders":[],"robotsDisallowed":false,"status":200,"stored":{"length":"#
            + "\(page.length),\"offset\":\(page.offset),\"pack\":\"\(page.pack)\",\"records\":\(page.records),"
            + "\"responseOffset\":\(page.responseOffset)},\"url\":\"https://x.example/p\",\"via\":\"direct\"}\n"
        let handle = try #require(FileHandle(forUpdatingAtPath: folder + "/journal.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
        try handle.close()

        let resumed = try FetchState(folder: folder, crawlKey: "k")
        let ref = try #require(resumed.resumed["https://x.example/p"])
        let read = try resumed.entry(at: ref)
        #expect(read.title == nil && read.status == 200 && read.attempt == 1)
        #expect(try resumed.body(of: read) == Array("page p".utf8))
        // And an entry of this version, title and all, writes the same keys in snake_case plus `title`.
        var titled = read
        titled.title = "P"
        let encoded = String(decoding: FetchState.encode(titled), as: UTF8.self)
        var snakeCase = String(line.dropLast()).replacingOccurrences(of: #","url":"#, with: #","title":"P","url":"#)
        for (old, new) in [("bodySHA256", "body_sha256"), ("fetchedAt", "fetched_at"), ("fromCache", "from_cache"), ("isFile", "is_file"),
                           ("notModified", "not_modified"), ("requestHeaders", "request_headers"),
                           ("robotsDisallowed", "robots_disallowed"), ("responseOffset", "response_offset")] {
            snakeCase = snakeCase.replacingOccurrences(of: "\"\(old)\":", with: "\"\(new)\":")
        }
        #expect(encoded == snakeCase)
    }
}
