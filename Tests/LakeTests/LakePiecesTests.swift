import Foundation
import Testing
import TestSupport
@testable import Lake

/// The pieces every stage shares: the rejects file, scoped publishing, the ordered concurrent map, dotted paths.
struct RejectsFileTests {
    @Test func everyRejectHasTheSameKeysInTheSameOrder() throws {
        let dir = try TemporaryDirectory()
        let lake = Lake(root: dir.path)
        let rejects = RejectsFile(path: try lake.resolve("raw_data/logs/p/R1.s.rejects.jsonl"), stage: "s")
        try rejects.add(RejectedRecord(file: "in.csv", line: 3, reason: "expected 2 fields, found 3", raw: "a,b,c\n"))
        try rejects.add(RejectedPage(url: "https://x.test/p", file: "pages.warc.gz", fetchedAt: "2026-11-25T08:00:00Z",
                                     reason: "price: required field not found"))
        try rejects.commit()
        let lines = try dir.readText("raw_data/logs/p/R1.s.rejects.jsonl").split(separator: "\n").map(String.init)
        #expect(lines == [
            #"{"stage":"s","file":"in.csv","line":3,"url":null,"fetched_at":null,"reason":"expected 2 fields, found 3","raw":"a,b,c\n"}"#,
            #"{"stage":"s","file":"pages.warc.gz","line":null,"url":"https://x.test/p","fetched_at":"2026-11-25T08:00:00Z","reason":"price: required field not found","raw":null}"#,
        ])
        #expect(rejects.count == 2)
    }

    @Test func nothingRejectedWritesNoFile() throws {
        let dir = try TemporaryDirectory()
        let rejects = RejectsFile(path: try Lake(root: dir.path).resolve("r.rejects.jsonl"), stage: "s")
        try rejects.publish {}
        #expect(!dir.exists("r.rejects.jsonl"))
    }

    @Test func resetForgetsWhatWasAdded() throws {
        let dir = try TemporaryDirectory()
        let rejects = RejectsFile(path: try Lake(root: dir.path).resolve("r.rejects.jsonl"), stage: "s")
        try rejects.add(RejectedRecord(file: "f", line: 1, reason: "x", raw: ""))
        rejects.reset()
        try rejects.add(RejectedRecord(file: "f", line: 2, reason: "x", raw: ""))
        try rejects.commit()
        #expect(rejects.count == 1)
        #expect(try dir.readText("r.rejects.jsonl").split(separator: "\n").count == 1)
    }
}

struct ScopedPublishTests {
    struct Refused: Error {}

    @Test func publishCommitsWhatTheBodyWrote() throws {
        let dir = try TemporaryDirectory()
        let writer = try RecordWriter(path: dir.file("out.jsonl"))
        let count = try writer.publish {
            try writer.write(JSONObject([("a", 1)]))
            return writer.recordCount
        }
        #expect(count == 1)
        #expect(try dir.readText("out.jsonl") == "{\"a\":1}\n")
    }

    @Test func aThrowingBodyLeavesTheOldFileAndNoTemporary() throws {
        let dir = try TemporaryDirectory()
        try dir.write("out.jsonl", "{\"old\":true}\n")
        let writer = try RecordWriter(path: dir.file("out.jsonl"))
        #expect(throws: Refused.self) {
            try writer.publish {
                try writer.write(JSONObject([("a", 1)]))
                throw Refused()
            }
        }
        #expect(try dir.readText("out.jsonl") == "{\"old\":true}\n")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names == ["out.jsonl"])
    }

    @Test func theAsyncFormAbandonsToo() async throws {
        let dir = try TemporaryDirectory()
        let writer = try RecordWriter(path: dir.file("out.jsonl"))
        await #expect(throws: Refused.self) {
            try await writer.publish {
                try writer.write(JSONObject([("a", 1)]))
                await Task.yield()
                throw Refused()
            }
        }
        #expect(!dir.exists("out.jsonl"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}

struct OrderedConcurrentMapTests {
    /// Later items finish first; the output still comes in input order, and the window bounds what is in flight.
    @Test(arguments: [1, 2, 7])
    func resultsComeInInputOrderWhateverTheFinishingOrder(window: Int) async throws {
        let inFlight = Counter()
        var out: [Int] = []
        try await orderedConcurrentMap(window: window, deliver: { out.append($0) }) { submit in
            for i in 0..<40 {
                try await submit {
                    await inFlight.enter()
                    try await Task.sleep(for: .microseconds((40 - i) * 50))
                    await inFlight.leave()
                    return i * i
                }
            }
        }
        #expect(out == (0..<40).map { $0 * $0 })
        #expect(await inFlight.peak <= window)
    }

    @Test func aFailingItemStopsTheMapAndIsRethrown() async throws {
        struct Bad: Error {}
        var out: [Int] = []
        await #expect(throws: Bad.self) {
            try await orderedConcurrentMap(window: 4, deliver: { out.append($0) }) { submit in
                for i in 0..<10 {
                    try await submit {
                        if i == 5 { throw Bad() }
                        return i
                    }
                }
            }
        }
        #expect(out.count <= 5)
        #expect(out == Array(0..<out.count))
    }

    actor Counter {
        var now = 0
        var peak = 0
        func enter() { now += 1; peak = max(peak, now) }
        func leave() { now -= 1 }
    }
}

struct DottedPathTests {
    let record = JSONObject([("price", 10), ("offer", .object(JSONObject([("price", 9), ("seller", .object(JSONObject([("name", "A")])))]))),
                             ("tags", .array(["x"])), ("none", .null)])

    @Test(arguments: [("price", JSONValue.int(10)), ("offer.price", .int(9)), ("offer.seller.name", .string("A")),
                      ("none", .null)])
    func findsNestedValues(path: String, value: JSONValue) {
        #expect(DottedPath(dotted: path).lookup(in: record) == value)
    }

    @Test(arguments: ["missing", "offer.missing", "price.x", "tags.0", "offer..price", ""])
    func aMissingStepIsNilAndNull(path: String) {
        #expect(DottedPath(dotted: path).lookup(in: record) == nil)
        #expect(DottedPath(dotted: path).value(in: record) == .null)
    }

    @Test func writtenAsGiven() {
        #expect(DottedPath(dotted: "offer.seller.name").parts == ["offer", "seller", "name"])
        #expect(DottedPath(["offer", "price"]).description == "offer.price")
    }
}
