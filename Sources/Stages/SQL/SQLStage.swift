import Foundation
import Lake
import Pipeline
import Query
import Store

/// `sql`: makes each input a table of a scratch SQLite database and writes the rows a SQLite
/// query returns. A query that reads its tables in one loop streams the files (only the columns
/// it uses); a join or subquery has them loaded first (`SQLiteLoader.declare`).
///
/// ```yaml
/// reviews_per_product:
///   sql:
///     from: [products, reviews]                 # tables `products` and `reviews`
///     tables: { vendors: raw_data/imports/vendors.csv }
///     schema: { reviews: { product: text, stars: integer } }
///     query: |
///       SELECT p.slug, count(r.stars) AS reviews, avg(r.stars) AS avg_stars
///       FROM products p LEFT JOIN reviews r ON r.product = p.slug
///       GROUP BY p.slug ORDER BY p.slug
///   out: processed_data/reports/dt={run_date}/reviews_per_product.csv
/// ```
///
/// A stage input becomes a table named after the stage; a lake path after its file's base name
/// (`vendors` for `…/vendors.csv.gz`). `tables:` names any input explicitly (needed for globs).
public enum SQLStage {
    public static let kind = StageKind(spec: spec) { config, context in
        guard config.expectMapping() else { return nil }
        var ok = true
        var tables: [(name: String, input: StageInput)] = []
        var names = Set<String>()

        func add(_ name: String, _ input: StageInput, at value: ConfigValue) {
            if let problem = SQLIdentifier.problem(with: name) {
                value.error("'\(name)' cannot be a table name: \(problem); name it under tables:")
                ok = false
            } else if !names.insert(name.lowercased()).inserted {
                value.error("two inputs load into a table named '\(name)'; name one under tables:")
                ok = false
            } else {
                tables.append((name, input))
            }
        }

        let from = config.value("from")
        let tableMap = config.value("tables")
        if from == nil && tableMap == nil {
            config.error("missing required key 'from' (or 'tables')")
            ok = false
        }
        if let from {
            for item in from.isSequence ? from.asList() ?? [] : [from] {
                guard let input = context.inputs(item)?.first else { ok = false; continue }
                switch input {
                case .stage(let name): add(name, input, at: item)
                case .files(let pattern):
                    if let name = SQLiteLoader.tableName(forPath: pattern) {
                        add(name, input, at: item)
                    } else {
                        item.error("cannot name a table after '\(pattern)'; give it a name under tables: { name: \(pattern) }")
                        ok = false
                    }
                }
            }
        }
        if let tableMap, let entries = tableMap.entries() {
            for (name, item) in entries {
                guard let input = context.inputs(item) else { ok = false; continue }
                guard input.count == 1 else {
                    item.error("a table loads one stage, path or glob")
                    ok = false
                    continue
                }
                add(name, input[0], at: item)
            }
        }

        var schemas: [String: [SQLColumn]] = [:]
        if let schema = config.value("schema"), let entries = schema.entries() {
            for (table, columnsValue) in entries {
                guard tables.contains(where: { $0.name == table }) else {
                    columnsValue.error("no input is loaded as table '\(table)'\(Suggestion.didYouMean(table, in: tables.map(\.name)))")
                    ok = false
                    continue
                }
                guard let columnEntries = columnsValue.entries() else { ok = false; continue }
                if columnEntries.isEmpty { columnsValue.error("declare at least one column, e.g. { id: integer }"); ok = false }
                var columns: [SQLColumn] = []
                for (column, typeValue) in columnEntries {
                    guard let typeName = typeValue.asChoice(SQLColumnType.allCases.map(\.rawValue)),
                          let type = SQLColumnType(rawValue: typeName) else { ok = false; continue }
                    if columns.contains(where: { $0.name == column }) {
                        typeValue.error("column '\(column)' is declared twice")
                        ok = false
                    }
                    columns.append(SQLColumn(name: column, type: type))
                }
                schemas[table] = columns
            }
        }

        let query = config.string("query", required: true)
        if let query, query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            config.value("query")?.error("the query is empty")
            ok = false
        }
        let policy = config.choice("on_error", MalformedPolicy.allCases.map(\.rawValue)).flatMap(MalformedPolicy.init) ?? .fail
        let inferTypes = config.bool("infer_types") ?? true
        guard ok, let query, !tables.isEmpty else { return nil }
        var inputs: [StageInput] = []
        for table in tables where !inputs.contains(table.input) { inputs.append(table.input) }
        return Definition(inputs: inputs, tables: tables.map { Table(name: $0.name, input: $0.input, declared: schemas[$0.name]) },
                          query: query, policy: policy, inferTypes: inferTypes)
    }

    struct Table: Sendable {
        let name: String
        let input: StageInput
        let declared: [SQLColumn]?
    }

    struct Definition: StageDefinition {
        let inputs: [StageInput]
        let tables: [Table]
        let query: String
        let policy: MalformedPolicy
        let inferTypes: Bool

        func run(_ context: StageContext) async throws -> StageReport {
            let (output, outputType) = try context.singleRecordOutput(kind: "sql")
            let rejects = RejectsFile(path: context.rejectsPath, stage: context.stage)
            let loader = try SQLiteLoader(inferCSVTypes: inferTypes)
            // One table: its columns are named from each file's first records and the query's own
            // scan confirms them, as for `agentshop query` (the same answer as a whole survey
            // first); its records and rejects are counted by that scan. With more, a whole survey
            // each, so that their rejects come out table by table.
            if tables.count == 1 { loader.surveyPrefix = SQLiteLoader.defaultSurveyPrefix }
            var counts: [String: Int] = [:]
            var recordsIn = 0
            var rejected = 0
            let rowsOut: Int
            do {
                rowsOut = try rejects.publish {
                    var loaded: [LoadedTable] = []
                    for (index, table) in tables.enumerated() {
                        let source = SQLTableSource(table: try SQLIdentifier(table.name), files: context.files(for: table.input),
                                                    declared: table.declared)
                        loaded.append(try loader.declare(source, policy: policy, onReject: rejects.add))
                        context.progress(index + 1, of: tables.count + 1)
                    }
                    // The output's columns (a CSV header) are the query's, known once it compiles
                    // over the columns it answers with.
                    var names: [String] = []
                    var writer: RecordWriter?
                    do {
                        try loader.query(query, columns: { columns in
                            names = columns
                            writer = try context.recordWriter(path: output.absolute, type: outputType, columns: columns)
                        }, row: { row in
                            try writer?.write(JSONObject(zip(names, row).map { ($0, SQLiteLoader.jsonValue($1)) }))
                        })
                        for table in loaded {
                            let (rows, rejects) = try loader.wholeCounts(of: table)
                            counts["rows_" + table.name] = rows
                            recordsIn += rows
                            rejected += rejects
                        }
                    } catch {
                        writer?.abandon()
                        throw error
                    }
                    guard let writer else { throw QueryError("the query returns no columns\n  in: \(query)") }
                    try writer.commit()
                    return writer.recordCount
                }
            } catch let error as QueryError {
                throw StageError(error.message)
            } catch let error as StoreError {
                throw StageError("\(error)")
            }
            if rejected > 0 {
                context.logger.warning("records rejected", metadata: ["count": "\(rejected)", "rejects": "\(context.rejectsPath.relative)"])
            }
            counts["files_in"] = context.allInputFiles.count
            counts["records_in"] = recordsIn + rejected
            counts["rejected"] = rejected
            counts["records_out"] = rowsOut
            return StageReport(counts: counts, recordsPerOutput: [output.relative: rowsOut])
        }
    }
}
