import Lake
import Pipeline

extension StageContext {
    /// The single JSONL/CSV file a record-writing stage (`import`, `parse`, `aggregate`) writes,
    /// and its format from the file name.
    func singleRecordOutput(kind: String) throws -> (path: LakePath, type: RecordFileType) {
        guard outputs.count == 1, let output = outputs.first else {
            throw StageError("a\(kind.first.map { "aeiou".contains($0) } == true ? "n" : "") \(kind) stage writes exactly one file; 'out' names \(outputs.count)")
        }
        guard let type = RecordFileType(path: output.relative) else {
            throw StageError("cannot tell the output format of \(output.relative): name it .jsonl, .csv, .jsonl.gz or .csv.gz")
        }
        return (output, type)
    }

    /// A writer for one of the stage's outputs; a CSV one writes cells as the stage's `csv:` says.
    func recordWriter(path: String, type: RecordFileType? = nil, columns: [String]? = nil) throws -> RecordWriter {
        let writer = try RecordWriter(path: path, type: type, columns: columns)
        writer.csvCells = csvCells
        return writer
    }
}
