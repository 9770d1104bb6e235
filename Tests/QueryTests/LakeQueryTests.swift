import Foundation
import Lake
import Query
import Testing

/// How `agentshop query` finds the datasets of a query and names their tables.
@Suite struct LakeQueryTests {
    /// `pipeline:stage`, as the command line's dataset references write it.
    static func stageName(_ reference: String) -> String? {
        let parts = reference.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 && !reference.contains("/") ? String(parts[1]) : nil
    }

    @Test(arguments: [
        ("SELECT * FROM 'processed_data/a/*.csv' AS a JOIN 'shop:by_vendor' v ON 1",
         "SELECT * FROM \"a\" AS a JOIN \"by_vendor\" v ON 1", ["a", "by_vendor"]),
        ("select 'x/y.csv' AS s from 'raw/reviews.jsonl.gz' -- from 'z/q.csv'\nWHERE s = 'from'",
         "select 'x/y.csv' AS s from \"reviews\" -- from 'z/q.csv'\nWHERE s = 'from'", ["reviews"]),
        ("SELECT * FROM /* c */ 'd/x.csv', \"from\" JOIN 'e/x.csv' JOIN 'd/x.csv'",
         "SELECT * FROM /* c */ \"x\", \"from\" JOIN \"x_2\" JOIN \"x\"", ["x", "x_2"]),
    ])
    func lakeQueryRewritesQuotedDatasets(sql: String, rewritten: String, tables: [String]) {
        let query = LakeQuery(sql, stageName: Self.stageName)
        #expect(query.sql == rewritten)
        #expect(query.datasets.map(\.table) == tables)
    }
}
