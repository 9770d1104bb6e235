import Foundation
import Testing
import Lake
@testable import Inspect

@Suite struct SchemaProfileTests {
    @Test func keyFirstSeenOnTheLastRowNestedPathsNullsAndMissing() throws {
        let t = try TestLake()
        var lines = (1...500).map { #"{"id":\#($0),"price":\#($0 % 2 == 0 ? "\($0).5" : "\($0)"),"offer":{"currency":"USD","seller":{"name":"s\#($0 % 3)"}},"tags":["a","b"],"note":null}"# }
        lines.append(#"{"id":501,"price":"n/a","late":true}"#)
        try t.put("scraped_data/products/dt=2026-01-02/p.jsonl", lines.joined(separator: "\n") + "\n")
        let profile = try SchemaProfile.of([t.path("scraped_data/products/dt=2026-01-02/p.jsonl")])
        #expect(profile.rows == 501)
        let byPath = Dictionary(uniqueKeysWithValues: profile.fields.map { ($0.path, $0) })
        #expect(profile.fields.map(\.path) == ["id", "price", "offer", "offer.currency", "offer.seller", "offer.seller.name",
                                              "tags", "tags[]", "note", "late"])
        let late = try #require(byPath["late"])
        #expect(late.typesDescription == "boolean")
        #expect(profile.missing(late) == 500)
        #expect(late.example == "true")
        let price = try #require(byPath["price"])
        #expect(price.types.map(\.name) == ["integer", "number", "string"])
        #expect(price.types.map(\.count) == [250, 250, 1])
        #expect(byPath["note"]?.nulls == 500)
        #expect(byPath["note"]?.typesDescription == "null")
        #expect(byPath["offer.seller.name"]?.distinct.count == 3)
        #expect(byPath["offer.seller.name"].map { profile.missing($0) } == 1)
        #expect(byPath["tags[]"]?.present == 1000)
        #expect(byPath["tags[]"].flatMap { profile.missing($0) } == nil)
        #expect(byPath["id"]?.distinct.count == 501)
        #expect(byPath["id"]?.distinct.isExact == true)
    }

    @Test func csvCellsAreTypedAndGzipIsRead() throws {
        let t = try TestLake()
        try t.putRecords("raw_data/imports/x.csv.gz", [.of(["a": "1", "b": ""]), .of(["a": "x", "b": "2.5"])], columns: ["a", "b"])
        let profile = try SchemaProfile.of([t.path("raw_data/imports/x.csv.gz")])
        #expect(profile.fields.map(\.typesDescription) == ["integer 1, string 1", "number"])
        #expect(profile.fields[1].nulls == 1)
    }

    @Test func distinctIsExactUpToTheBoundThenHyperLogLogWithinTwoPercent() {
        var counter = DistinctCounter()
        for i in 0..<DistinctCounter.exactLimit { counter.add(.int(Int64(i))) }
        for i in 0..<100 { counter.add(.int(Int64(i))) }  // repeats change nothing
        #expect(counter.isExact)
        #expect(counter.count == DistinctCounter.exactLimit)
        for i in DistinctCounter.exactLimit..<200_000 { counter.add(.string("v\(i)")) }
        #expect(!counter.isExact)
        let error = abs(Double(counter.count) - 200_000) / 200_000
        #expect(error < 0.02, "estimate \(counter.count)")
    }
}
