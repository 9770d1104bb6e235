import Foundation
import Lake
import Testing
@testable import Inspect

@Suite struct RecordBrowserTests {
    /// `lake show`'s first pass: the kept records' columns and, while they are few, the records
    /// themselves (printed without a second pass); rejects go out only with the records.
    @Test func oneOrTwoPassesGiveTheSameColumnsAndRecords() throws {
        let t = try TestLake()
        try t.put("s.jsonl", """
        {"a":1,"b":"x"}
        {"a":5,"c":true}
        not json
        {"a":7,"d":null}
        {"a":2}

        """)
        let files = [try t.path("s.jsonl")]
        let keep: (JSONObject) -> Bool = { ($0["a"]?.doubleValue ?? 0) > 3 }
        var rejects = 0
        let browser = RecordBrowser(files: files, predicate: keep, policy: .skip) { _ in rejects += 1 }
        var records: [JSONObject] = []
        try browser.forEach { records.append($0) }
        #expect(rejects == 1)
        let columns = try browser.columns()
        #expect(columns == ["a", "c", "d"])
        #expect(rejects == 1, "the column pass is quiet")

        let held = try browser.columnsAndRecords(holding: 2)
        #expect(held.columns == columns)
        #expect(held.records == records)
        #expect(rejects == 2, "held records come with their rejects")

        let over = try browser.columnsAndRecords(holding: 1)
        #expect(over.columns == columns)
        #expect(over.records == nil)
        #expect(rejects == 2, "past the limit the printing pass reports them")
    }
}
