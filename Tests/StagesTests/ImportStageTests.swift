import Foundation
import Logging
import Testing
import Lake
import Pipeline
import Stages

// One test at a time: each run fsyncs outputs, state and manifests, and on a 2-core machine the
// cooperative pool has two threads that other suites' time-limited tests need too.
@Suite(.serialized) struct ImportStageTests {
    private let productsCSV = #"""
        id,name,description,price,zip\#r
        1,"Widget, large","He said ""hi""",9.5,007\#r
        2,Gadget,"multi\#r
        line",12,00501\#r
        3,"",plain,0.25,10001\#r

        """#

    @Test func csvToJSONLGzipAndBackToCSV() async throws {
        let project = try Project()
        try project.put("raw_data/imports/products.csv", productsCSV)
        try project.writePipeline("""
            stages:
              products:
                import: { from: raw_data/imports/products.csv }
                out: processed_data/ml_datasets/products.jsonl.gz
              export:
                import: { from: products }
                out: processed_data/exports/products.csv
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")

        // Types are inferred; ZIP codes with leading zeros stay text; quoting is undone.
        let jsonl = try project.records("processed_data/ml_datasets/products.jsonl.gz")
        #expect(jsonl == [
            JSONObject([("id", 1), ("name", "Widget, large"), ("description", "He said \"hi\""), ("price", 9.5), ("zip", "007")]),
            JSONObject([("id", 2), ("name", "Gadget"), ("description", "multi\r\nline"), ("price", 12), ("zip", "00501")]),
            JSONObject([("id", 3), ("name", .null), ("description", "plain"), ("price", 0.25), ("zip", 10001)]),
        ])
        let products = try #require(manifest.stage("products"))
        #expect(products.counts == ["files_in": 1, "records_in": 3, "records_out": 3, "rejected": 0])
        #expect(products.outputs.first?.records == 3)

        // Back to CSV: the same cells as the source, read as text.
        #expect(try project.records("processed_data/exports/products.csv")
                == project.records("raw_data/imports/products.csv"))
        let exported = try project.read("processed_data/exports/products.csv")
        #expect(exported.hasPrefix("id,name,description,price,zip\n1,\"Widget, large\",\"He said \"\"hi\"\"\",9.5,007\n"))
        #expect(project.temporaries(in: "processed_data/exports").isEmpty)
    }

    @Test func gzipOutputIsReadableByGzip() async throws {
        let project = try Project()
        try project.put("raw_data/imports/products.csv", productsCSV)
        try project.writePipeline("""
            stages:
              products:
                import: { from: raw_data/imports/products.csv, infer_types: false }
                out: processed_data/products.jsonl.gz
            """)
        #expect(try await project.run().status == .succeeded)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
        process.arguments = ["-dc", project.lake.root + "/processed_data/products.jsonl.gz"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.first == #"{"id":"1","name":"Widget, large","description":"He said \"hi\"","price":"9.5","zip":"007"}"#)
    }

    @Test func onErrorSkipWritesRejectsWithLineNumbers() async throws {
        let project = try Project()
        try project.put("raw_data/imports/people.csv", "id,name\n1,a\n2,b,extra\n3,\"c\"d\n4,e\n")
        try project.writePipeline("""
            stages:
              people:
                import: { from: raw_data/imports/people.csv, on_error: skip }
                out: processed_data/people.jsonl
            """)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded)
        #expect(try project.records("processed_data/people.jsonl") == [
            JSONObject([("id", 1), ("name", "a")]), JSONObject([("id", 4), ("name", "e")]),
        ])
        #expect(manifest.stage("people")?.counts == ["files_in": 1, "records_in": 4, "records_out": 2, "rejected": 2])
        let rejects = try project.records("raw_data/logs/p/R1.people.rejects.jsonl")
        #expect(rejects.map { $0["line"] } == [3, 4])
        #expect(rejects.map { $0["file"] } == ["raw_data/imports/people.csv", "raw_data/imports/people.csv"])
        #expect(rejects.map { $0["reason"] } == ["expected 2 fields, found 3", "text after a closing quote"])
        #expect(rejects.first?["raw"] == "2,b,extra\n")
        // The one rejects format (docs/lake.md, "Rejects files"): every stage's lines have the same keys.
        #expect(rejects.first?.keys == ["stage", "file", "line", "url", "fetched_at", "reason", "raw"])
        #expect(rejects.first?["stage"] == "people")
    }

    @Test func onErrorSkipWithCSVOutputReportsEachRejectOnce() async throws {
        // A CSV output reads the inputs twice (once for the header): rejects must not double.
        let project = try Project()
        try project.put("raw_data/imports/people.csv", "id,name\n1,a\n2,b,extra\n4,e\n")
        try project.writePipeline("""
            stages:
              people:
                import: { from: raw_data/imports/people.csv, on_error: skip }
                out: processed_data/people.csv
            """)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded)
        #expect(try project.read("processed_data/people.csv") == "id,name\n1,a\n4,e\n")
        #expect(try project.records("raw_data/logs/p/R1.people.rejects.jsonl").map { $0["line"] } == [3])
        #expect(manifest.stage("people")?.counts["rejected"] == 1)
    }

    @Test func jsonlRejectsCarryTheirLineNumbers() async throws {
        let project = try Project()
        try project.put("raw_data/imports/events.jsonl", "{\"id\":1}\nnot json\n{\"id\":3}\n[4]\n")
        try project.writePipeline("""
            stages:
              events:
                import: { from: raw_data/imports/events.jsonl, on_error: skip }
                out: processed_data/events.jsonl
            """)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded)
        #expect(try project.records("processed_data/events.jsonl") == [JSONObject([("id", 1)]), JSONObject([("id", 3)])])
        let rejects = try project.records("raw_data/logs/p/R1.events.rejects.jsonl")
        #expect(rejects.map { $0["raw"] } == ["not json", "[4]"])
        #expect(rejects.map { $0["line"] } == [2, 4])
    }

    @Test func onErrorFailNamesFileAndLine() async throws {
        let project = try Project()
        try project.put("processed_data/people.jsonl", "{\"old\":true}\n")
        try project.put("raw_data/imports/people.csv", "id,name\n1,a\n2,b,extra\n4,e\n")
        try project.writePipeline("""
            stages:
              people:
                import: { from: raw_data/imports/people.csv, on_error: fail }
                out: processed_data/people.jsonl
            """)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .failed)
        let error = try #require(manifest.stage("people")?.error)
        #expect(error == "raw_data/imports/people.csv: line 3: expected 2 fields, found 3")
        #expect(try project.read("processed_data/people.jsonl") == "{\"old\":true}\n", "the earlier output is untouched")
        #expect(project.temporaries(in: "processed_data").isEmpty)
        #expect(!project.exists("raw_data/logs/p/R1.people.rejects.jsonl"))
    }

    @Test func failIsTheDefaultPolicy() async throws {
        let project = try Project()
        try project.put("raw_data/imports/bad.jsonl", "{\"a\":1}\n{broken\n")
        try project.writePipeline("""
            stages:
              bad:
                import: { from: raw_data/imports/bad.jsonl }
                out: processed_data/bad.jsonl
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        let error = try #require(manifest.stage("bad")?.error)
        #expect(error.hasPrefix("raw_data/imports/bad.jsonl: line "))
        #expect(error.contains("invalid JSON"))
        #expect(!project.exists("processed_data/bad.jsonl"))
    }

    @Test func jsonlToCSVIncludesAKeyFirstSeenOnTheLastLine() async throws {
        let project = try Project()
        try project.put("raw_data/imports/items.jsonl", """
            {"id":1,"name":"a"}
            {"id":2,"name":"b, with comma"}
            {"id":3,"name":"c","late":"only here"}
            """)
        try project.writePipeline("""
            stages:
              items:
                import: { from: raw_data/imports/items.jsonl }
                out: processed_data/exports/items.csv
            """)
        #expect(try await project.run().status == .succeeded)
        #expect(try project.read("processed_data/exports/items.csv")
                == "id,name,late\n1,a,\n2,\"b, with comma\",\n3,c,only here\n")
    }

    @Test func columnsChooseAndOrderTheCSV() async throws {
        let project = try Project()
        try project.put("raw_data/imports/items.jsonl", "{\"id\":1,\"name\":\"a\",\"secret\":\"x\"}\n{\"name\":\"b\"}\n")
        try project.writePipeline("""
            stages:
              items:
                import: { from: raw_data/imports/items.jsonl, columns: [name, id] }
                out: processed_data/exports/items.csv
            """)
        #expect(try await project.run().status == .succeeded)
        #expect(try project.read("processed_data/exports/items.csv") == "name,id\na,1\nb,\n")
    }

    @Test func manyInputFilesThroughAGlob() async throws {
        let project = try Project()
        try project.put("raw_data/imports/part-1.csv", "id\n1\n2\n")
        try project.put("raw_data/imports/part-2.csv", "id\n3\n")
        try project.put("raw_data/imports/.part-3.csv", "id\n99\n")
        try project.writePipeline("""
            stages:
              parts:
                import: { from: "raw_data/imports/part-*.csv" }
                out: processed_data/parts.jsonl
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded)
        #expect(try project.records("processed_data/parts.jsonl").map { $0["id"] } == [1, 2, 3])
        #expect(manifest.stage("parts")?.counts["files_in"] == 2)
        #expect(manifest.stage("parts")?.inputs.map(\.path) == ["raw_data/imports/part-1.csv", "raw_data/imports/part-2.csv"])
    }

    @Test func reportsProgressPerFile() async throws {
        final class Progress: @unchecked Sendable {
            let lock = NSLock()
            var steps: [String] = []
        }
        let project = try Project()
        try project.put("raw_data/imports/part-1.csv", "id\n1\n")
        try project.put("raw_data/imports/part-2.csv", "id\n2\n")
        try project.writePipeline("""
            stages:
              parts:
                import: { from: "raw_data/imports/part-*.csv" }
                out: processed_data/parts.jsonl
            """)
        let progress = Progress()
        let options = RunOptions()
        let runner = PipelineRunner(spec: try project.load().0, lake: project.lake,
                                    environment: PipelineEnvironment(variables: [:]),
                                    logger: .init(label: "t") { _ in SwiftLogNoOpLogHandler() }, options: options) { event in
            if case .stageProgress(let stage, let done, let total) = event {
                progress.lock.withLock { progress.steps.append("\(stage) \(done)/\(total ?? -1)") }
            }
        }
        #expect(await runner.run().status == .succeeded)
        #expect(progress.lock.withLock { progress.steps } == ["parts 1/2", "parts 2/2"])
    }

    @Test func repeatedColumnsAreAConfigurationError() async throws {
        // A CSV with a repeated column name is one RecordReader refuses to read back.
        let project = try Project()
        try project.put("raw_data/imports/items.jsonl", "{\"id\":1}\n")
        try project.writePipeline("""
            stages:
              items:
                import: { from: raw_data/imports/items.jsonl, columns: [id, id] }
                out: processed_data/items.csv
            """)
        let problems = try project.problems()
        #expect(problems == ["3:60: stages.items.import.columns: columns repeat 'id': a CSV header names each column once"])
    }

    @Test func headerOnlyInputGivesAnEmptyDataset() async throws {
        let project = try Project()
        try project.put("raw_data/imports/empty.csv", "id,name\n")
        try project.writePipeline("""
            stages:
              rows:
                import: { from: raw_data/imports/empty.csv }
                out: processed_data/rows.jsonl
              back:
                import: { from: raw_data/imports/empty.csv }
                out: processed_data/rows.csv
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded)
        #expect(try project.read("processed_data/rows.jsonl") == "")
        #expect(try project.read("processed_data/rows.csv") == "id,name\n")
        #expect(manifest.stage("rows")?.counts["records_out"] == 0)
    }

    @Test func jsonlToJSONLKeepsValuesAndKeyOrder() async throws {
        let project = try Project()
        let line = #"{"z":1,"a":1.0,"m":{"nested":[true,null,"x"]},"s":"é\n"}"#
        try project.put("raw_data/imports/in.jsonl", line + "\n")
        try project.writePipeline("""
            stages:
              copy:
                import: { from: raw_data/imports/in.jsonl }
                out: processed_data/copy.jsonl.gz
            """)
        #expect(try await project.run().status == .succeeded)
        let records = try project.records("processed_data/copy.jsonl.gz")
        #expect(records.count == 1)
        #expect(records.first.map { JSONValue.object($0).serialized() } == line)
    }

    @Test func misspeltChoiceGetsASuggestion() throws {
        let project = try Project()
        try project.put("raw_data/imports/a.csv", "x\n1\n")
        try project.writePipeline("""
            stages:
              a:
                import: { from: raw_data/imports/a.csv, on_error: skp }
                out: processed_data/a.jsonl
            """)
        let problems = try project.problems()
        #expect(problems == ["3:55: stages.a.import.on_error: expected one of fail, skip, found 'skp' (did you mean 'skip'?)"])
    }

    @Test func formatOverridesTheFileName() async throws {
        let project = try Project()
        try project.put("raw_data/uploads/export.txt", "a,b\n1,2\n")
        try project.writePipeline("""
            stages:
              upload:
                import: { from: raw_data/uploads/export.txt, format: csv }
                out: processed_data/upload.jsonl
            """)
        #expect(try await project.run().status == .succeeded)
        #expect(try project.records("processed_data/upload.jsonl") == [JSONObject([("a", 1), ("b", 2)])])
    }

    @Test func unknownInputFormatFails() async throws {
        let project = try Project()
        try project.put("raw_data/uploads/export.txt", "a,b\n1,2\n")
        try project.writePipeline("""
            stages:
              upload:
                import: { from: raw_data/uploads/export.txt }
                out: processed_data/upload.jsonl
            """)
        let manifest = try await project.run()
        #expect(manifest.stage("upload")?.error?.hasPrefix("cannot tell the format of raw_data/uploads/export.txt") == true)
    }

    @Test func configurationProblems() throws {
        let project = try Project()
        try project.put("raw_data/imports/a.csv", "x\n1\n")
        try project.writePipeline("""
            stages:
              a:
                import: { from: raw_data/imports/a.csv, on_error: ignore, infer_types: sometimes, colums: [x] }
                out: processed_data/a.parquet
              b:
                import: { on_error: skip }
                out: processed_data/b.jsonl
            """)
        let problems = try project.problems()
        #expect(problems == [
            "3:55: stages.a.import.on_error: expected one of fail, skip, found 'ignore'",
            "3:76: stages.a.import.infer_types: expected true or false, found 'sometimes'",
            "3:87: stages.a.import.colums: unknown key 'colums' (did you mean 'columns'?)",
            "6:13: stages.b.import: missing required key 'from'",
        ])
    }
}
