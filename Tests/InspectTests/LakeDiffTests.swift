import Foundation
import Testing
import Lake
@testable import Inspect

@Suite struct LakeDiffTests {
    @Test func addedRemovedAndChangedFieldsByDottedPath() throws {
        let t = try TestLake()
        try t.put("scraped_data/products/dt=2026-01-01/p.jsonl", """
        {"slug":"a","price":10,"offer":{"currency":"USD","stock":3}}
        {"slug":"b","price":5,"name":"B"}
        {"slug":"c","price":7}

        """)
        try t.put("scraped_data/products/dt=2026-01-02/p.jsonl", """
        {"slug":"a","price":10.0,"offer":{"currency":"EUR","stock":3}}
        {"slug":"c","price":7}
        {"slug":"d","price":1}
        {"slug":"b","price":6}

        """)
        let diff = try LakeDiff(old: [t.path("scraped_data/products/dt=2026-01-01/p.jsonl")],
                                new: [t.path("scraped_data/products/dt=2026-01-02/p.jsonl")], key: ["slug"])
        #expect(diff.added.map { $0["slug"] } == [.string("d")])
        #expect(diff.removed.isEmpty)
        #expect(diff.unchanged == 1)
        #expect(diff.changed.map(\.key) == [.string("a"), .string("b")])
        #expect(diff.changed[0].fields == [LakeDiff.FieldChange(field: "offer.currency", old: .string("USD"), new: .string("EUR"))])
        #expect(diff.changed[1].fields == [LakeDiff.FieldChange(field: "price", old: .int(5), new: .int(6)),
                                           LakeDiff.FieldChange(field: "name", old: .string("B"), new: nil)])
        let back = try LakeDiff(old: [t.path("scraped_data/products/dt=2026-01-02/p.jsonl")],
                                new: [t.path("scraped_data/products/dt=2026-01-01/p.jsonl")], key: ["slug"])
        #expect(back.removed.map { $0["slug"] } == [.string("d")])
    }

    @Test func compositeKeysAndKeyProblems() throws {
        let t = try TestLake()
        try t.put("a.jsonl", "{\"k\":1,\"day\":\"x\",\"v\":1}\n{\"k\":1,\"day\":\"y\",\"v\":2}\n")
        try t.put("b.jsonl", "{\"k\":1,\"day\":\"y\",\"v\":3}\n")
        let diff = try LakeDiff(old: [t.path("a.jsonl")], new: [t.path("b.jsonl")], key: ["k", "day"])
        #expect(diff.removed.count == 1)
        #expect(diff.changed.first?.key == .array([.int(1), .string("y")]))
        #expect(throws: LakeDiff.DuplicateKey.self) { try LakeDiff(old: [t.path("a.jsonl")], new: [t.path("b.jsonl")], key: ["k"]) }
        #expect(throws: LakeDiff.MissingKey.self) { try LakeDiff(old: [t.path("a.jsonl")], new: [t.path("b.jsonl")], key: ["nope"]) }
    }
}
