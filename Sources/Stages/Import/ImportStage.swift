import Foundation
import Lake
import Pipeline

/// `import`: brings CSV or JSON Lines files (from raw_data/imports, uploads, or another stage)
/// into one dataset, converting between CSV and JSONL by the output's file name.
///
/// ```yaml
/// seed:
///   import: { from: raw_data/imports/products*.csv, infer_types: true, on_error: skip, max_rejects: 5% }
///   out: scraped_data/products/dt={run_date}/seed.jsonl.gz
/// ```
public enum ImportStage {
    public static let kind = StageKind(spec: spec) { config, context in
        guard config.expectMapping() else { return nil }
        let inputs = context.inputs(config.value("from", required: true))
        let inferTypes = config.bool("infer_types") ?? true
        let policy = config.choice("on_error", MalformedPolicy.allCases.map(\.rawValue)).flatMap(MalformedPolicy.init) ?? .fail
        let columns = config.strings("columns")
        if let columns, Set(columns).count != columns.count, let value = config.value("columns") {
            let repeated = Dictionary(grouping: columns, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            value.error("columns repeat \(repeated.map { "'\($0)'" }.joined(separator: ", ")): a CSV header names each column once")
        }
        let format = config.choice("format", ["auto", "csv", "jsonl", "csv.gz", "jsonl.gz"]) ?? "auto"
        var maxRejects: RejectLimit?
        var ok = true
        if let value = config.value("max_rejects") {
            maxRejects = RejectLimit.read(value)
            ok = maxRejects != nil
            if ok && policy == .fail { value.warning("on_error is fail: a malformed record fails the stage, so max_rejects never applies") }
        }
        guard let inputs, ok else { return nil }
        return Definition(inputs: inputs, inferTypes: inferTypes, policy: policy, columns: columns,
                          inputFormat: format == "auto" ? nil : format, maxRejects: maxRejects)
    }

    struct Definition: StageDefinition {
        let inputs: [StageInput]
        let inferTypes: Bool
        let policy: MalformedPolicy
        let columns: [String]?
        /// Forced input format; by file name when nil.
        let inputFormat: String?
        /// More rejected records than this fails the stage (its output is not published).
        var maxRejects: RejectLimit?

        func run(_ context: StageContext) async throws -> StageReport {
            let (output, outputType) = try context.singleRecordOutput(kind: "import")
            let files = context.allInputFiles
            let rejects = RejectsFile(path: context.rejectsPath, stage: context.stage)

            func reader(_ file: LakePath) throws -> RecordReader {
                let type = inputFormat.flatMap { RecordFileType(path: "x." + $0) } ?? RecordFileType(path: file.relative)
                guard let type else {
                    throw StageError("cannot tell the format of \(file.relative): name it .csv, .jsonl or .ndjson (optionally .gz), or set format")
                }
                return try RecordReader(path: file.absolute, displayPath: file.relative, type: type, policy: policy,
                                        inferTypes: inferTypes, onReject: rejects.add)
            }

            // CSV needs its header first: the given columns, or the union of keys over all records.
            var header: [String]?
            if outputType.format == .csv {
                if let columns {
                    header = columns
                } else {
                    let keys = try RecordReader.keyUnion(of: files, open: reader)
                    rejects.reset()  // the second pass reports the same rejects again
                    header = keys
                }
            }

            let writer = try context.recordWriter(path: output.absolute, type: outputType, columns: header)
            var recordsIn = 0
            var rejected = 0
            try writer.publish {
                try rejects.publish {
                    for (index, file) in files.enumerated() {
                        let input = try reader(file)
                        while var record = try input.next() {
                            if let header, columns != nil {
                                record = JSONObject(header.map { ($0, record[$0] ?? .null) })
                            }
                            try writer.write(record)
                            if input.recordCount % 10_000 == 0 { try Task.checkCancellation() }
                        }
                        recordsIn += input.recordCount
                        rejected += input.rejectedCount
                        context.progress(index + 1, of: files.count)
                    }
                }
                // The rejects file is published even when there are too many: it says which.
                try RejectLimit.check(maxRejects, key: "max_rejects", bad: rejected, of: recordsIn + rejected,
                                      what: "records rejected", rejects: rejected > 0 ? context.rejectsPath.relative : nil)
            }
            if rejected > 0 {
                context.logger.warning("records rejected", metadata: ["count": "\(rejected)", "rejects": "\(context.rejectsPath.relative)"])
            }
            return StageReport(counts: ["files_in": files.count, "records_in": recordsIn + rejected,
                                        "records_out": writer.recordCount, "rejected": rejected],
                               recordsPerOutput: [output.relative: writer.recordCount])
        }
    }
}
