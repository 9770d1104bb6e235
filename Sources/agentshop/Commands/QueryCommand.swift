import ArgumentParser
import Foundation
import Lake
import Pipeline
import Query
import Store

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run SQLite SQL over lake datasets and the store.",
        discussion: """
        A quoted dataset right after FROM or JOIN is read as a table: a lake path or glob
        (FROM 'processed_data/aggregations/by_category/*.csv'), or 'PIPELINE:STAGE' for the files
        that stage wrote in its latest successful run. Its columns are the union of the keys of
        all its records, typed by widening (integer, real, text; objects and arrays as JSON text).
        The table is named after the file (reviews for reviews.jsonl.gz), the glob's folder, or the
        stage; alias it with AS. A query over one dataset streams its files, reading only the
        columns it uses; a join or a subquery loads the datasets into temporary tables first.
        The store, when there is one, is attached read-only as `store`
        (SELECT * FROM store.products). Output: an aligned table on a terminal, CSV otherwise,
        or --format csv|json|jsonl|table.

        Examples:
          agentshop query "SELECT category, count(*) FROM 'demo:products' GROUP BY 1"
          agentshop query 'SELECT * FROM store.products LIMIT 5' --json
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The SQLite query.", valueName: "sql"))
    var sql: String

    @Option(help: "table, csv, json (one array) or jsonl (default: table on a terminal, else csv).")
    var format: RecordFormat?

    @Flag(help: "Print each referenced dataset's table name, rows and inferred columns instead of running the query.")
    var schema = false

    @Option(name: .customLong("on-error"), help: ArgumentHelp("fail: stop at the first malformed record; skip: report it on stderr and go on.", valueName: "fail|skip"))
    var onError: String = "fail"

    func validate() throws {
        guard MalformedPolicy(rawValue: onError) != nil else { throw ValidationError("--on-error takes fail or skip, found '\(onError)'") }
    }

    func run() async throws {
        let lake = try global.openLake()
        try refusePostgresStore(lake)
        let query = LakeQuery(sql, stageName: { DatasetReference.stageReference($0)?.stage })
        let loader: SQLiteLoader
        let tables: [LoadedTable]
        do {
            loader = try SQLiteLoader()
            loader.schemaCache = SchemaCache(lake: lake)  // a second query over unchanged files skips the schema pass
            // Columns from each file's first records; the query's own scan confirms their types
            // (--schema prints the whole files' rows and columns).
            if !schema { loader.surveyPrefix = SQLiteLoader.defaultSurveyPrefix }
            tables = try query.load(into: loader, lake: lake, resolve: { try DatasetReference.resolve($0, in: lake) }, policy: MalformedPolicy(rawValue: onError)!) { bad in
                Console.error("\(bad.file): line \(bad.line): \(bad.reason) (skipped)")
            }
        } catch {
            Console.error("\(error)")
            throw (error is QueryError || error is LakeError || error is DatasetReference.NotFound) ? ExitStatus.invalidInput : ExitStatus.internalError
        }

        if schema {
            if query.datasets.isEmpty { Console.error("the query names no lake dataset (quote one after FROM or JOIN)") }
            for (dataset, table) in zip(query.datasets, tables) {
                Console.out("\(table.name): \(dataset.reference) (\(table.rows) row\(table.rows == 1 ? "" : "s"), \(table.files.count) file\(table.files.count == 1 ? "" : "s"))")
                Console.out(Console.table(table.columns.map { ["  " + $0.name, $0.type.rawValue] }))
            }
            return
        }

        // --json is --format json (one array of objects); the two together must agree.
        if global.json, let format, format != .json {
            throw ValidationError("--json prints JSON; it cannot be combined with --format \(format.rawValue)")
        }
        let format = global.json ? RecordFormat.json : (format ?? RecordFormat.automatic)
        var printer: RecordPrinter?
        do {
            try loader.query(query.sql, columns: { names in
                printer = try RecordPrinter(format: format, columns: names, sink: StandardOutputSink())
            }, row: { row in
                try printer!.row(row.map(SQLiteLoader.jsonValue))
            })
            try printer?.finish()
            if format == .table, let printer, !global.quiet {
                Console.error("(\(printer.written) row\(printer.written == 1 ? "" : "s"))")
            }
        } catch {
            Console.error("\(error)")
            // A malformed record may be found here now (a survey of the whole files runs when the query needs it).
            throw (error is QueryError || error is LakeError) ? ExitStatus.invalidInput : ExitStatus.internalError
        }
    }
}

extension QueryCommand {
    /// A query that reads `store.` while the store is PostgreSQL (`AGENTSHOP_STORE_URL`) is refused, rather
    /// than answered from the lake's SQLite file (stale, or absent): `query` runs SQLite's dialect over a
    /// scratch database, and copying a PostgreSQL store's tables into it would be slow for a store a shop
    /// serves from and would show its timestamps, JSON and booleans differently from the SQLite store's.
    func refusePostgresStore(_ lake: Lake) throws {
        guard sql.range(of: #"\bstore\s*\."#, options: [.regularExpression, .caseInsensitive]) != nil,
              let location = try? StoreLocation.resolve(nil, environment: global.environment(projectFolder: nil).variables,
                                                        defaultPath: lake.storePath),
              location.postgresURL != nil else { return }
        Console.error("the store is PostgreSQL (\(location)): `agentshop query` attaches only a SQLite store as `store`; "
                      + "query it with psql (psql \"$AGENTSHOP_STORE_URL\"), and lake datasets here")
        throw ExitStatus.invalidInput
    }
}
