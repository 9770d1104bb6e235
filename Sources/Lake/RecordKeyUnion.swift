extension RecordReader {
    /// The keys of every record in `files`, in first-seen order: the header of a CSV written from records that
    /// do not all share their keys (`import` and `export` to CSV). A file's own header comes first; a CSV file's
    /// records have exactly its header's keys, so its rows are not read.
    public static func keyUnion<File>(of files: [File], open: (File) throws -> RecordReader) throws -> [String] {
        var seen = Set<String>()
        var keys: [String] = []
        for file in files {
            let input = try open(file)
            keys += input.columns.filter { seen.insert($0).inserted }
            if input.type.format == .csv { continue }
            while let record = try input.next() {
                for key in record.keys where seen.insert(key).inserted { keys.append(key) }
                if input.recordCount % 10_000 == 0 { try Task.checkCancellation() }
            }
        }
        return keys
    }
}
