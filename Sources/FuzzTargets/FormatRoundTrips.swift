import Foundation
import Lake

/// The format targets' property beyond "no crash": what the lake's reader accepts, the lake's writer
/// writes back so that the reader returns the same thing (JSONL and CSV records, WARC records, gzip
/// bytes). A difference is a bug: a file AgentShop wrote would not read back as what it wrote.
extension FuzzTargets {
    /// Every record the reader yields (skipping malformed ones), written as `format` and read back, is equal.
    static func recordsRoundTrip(_ path: String, csv: Bool) {
        guard let reader = try? RecordReader(path: path, policy: .skip) else { return }
        var records: [JSONObject] = []
        while records.count < 10_000, let record = try? reader.next() { records.append(record) }
        guard !records.isEmpty else { return }
        var columns: [String] = []
        for record in records { for key in record.keys where !columns.contains(key) { columns.append(key) } }
        for gzip in [false, true] {
            let copy = scratch + "/" + UUID().uuidString + (csv ? ".csv" : ".jsonl") + (gzip ? ".gz" : "")
            defer { unlink(copy) }
            do {
                let writer = try RecordWriter(path: copy, columns: csv ? columns : nil)
                for record in records { try writer.write(record) }
                try writer.commit()
            } catch {
                fatalError("records the reader accepted could not be written back: \(error)")
            }
            var back: [JSONObject] = []
            do {
                let again = try RecordReader(path: copy, policy: .fail)
                while let record = try again.next() { back.append(record) }
            } catch {
                fatalError("records written by RecordWriter do not read back: \(error)")
            }
            let expected = csv ? records.map { csvCells($0, columns) } : records.map(asWritten)
            guard back == expected else {
                let diff = zip(back, expected).first { $0 != $1 }
                fatalError("round trip changed the records (\(back.count) read back of \(expected.count)): "
                           + "\(diff.map { "\(JSONValue.object($0.1).serialized()) became \(JSONValue.object($0.0).serialized())" } ?? "")")
            }
        }
    }

    /// A record as JSON can carry it: a number beyond Double's range reads as infinity, which JSON cannot
    /// write, so it is written (and reads back) as null. Everything else must come back as it was.
    static func asWritten(_ record: JSONObject) -> JSONObject {
        func value(_ v: JSONValue) -> JSONValue {
            switch v {
            case .double(let d) where !d.isFinite: return .null
            case .array(let items): return .array(items.map(value))
            case .object(let object): return .object(asWritten(object))
            default: return v
            }
        }
        return JSONObject(record.entries.map { ($0.key, value($0.value)) })
    }

    /// A CSV record as it reads back: every column, as its text (a missing field is the empty string).
    static func csvCells(_ record: JSONObject, _ columns: [String]) -> JSONObject {
        JSONObject(columns.map { ($0, JSONValue.string(record[$0]?.plainText ?? "")) })
    }

    /// Every WARC record read, written again (plain and gzip) and read back: the same block, and every
    /// field it had with the same values (the writer only adds fields a record lacks).
    static func warcRoundTrip(_ records: [WARCRecord]) {
        for gzip in [false, true] {
            let sink = MemorySink()
            var written: [WARCRecord] = []
            do {
                let writer = try WARCWriter(sink: sink, gzip: gzip)
                for record in records {
                    // A record the writer refuses (no WARC-Type, a field name with a space…) is not written.
                    if (try? writer.write(record)) != nil { written.append(record) }
                }
                try writer.commit()
            } catch {
                fatalError("WARC writer over memory failed: \(error)")
            }
            var back: [WARCRecord] = []
            do {
                let reader = try WARCReader(bytes: sink.bytes, label: "round trip", maxRecordBytes: 4 << 20)
                while let record = try reader.next() { back.append(record) }
            } catch {
                fatalError("WARC records written by WARCWriter do not read back: \(error)")
            }
            guard back.count == written.count else { fatalError("wrote \(written.count) WARC records, read \(back.count)") }
            for (original, copy) in zip(written, back) {
                guard copy.block == original.block else { fatalError("a WARC record's block changed in the round trip") }
                let single: Set<String> = ["warc-type", "warc-record-id", "warc-date"]
                for (name, _) in original.headers where name.lowercased() != "content-length" {
                    let once = single.contains(name.lowercased())
                    let before = once ? [original.headers[name] ?? ""] : original.headers.all(name)
                    let after = once ? [copy.headers[name] ?? ""] : copy.headers.all(name)
                    guard before == after else { fatalError("WARC field \(name) changed: \(before) became \(after)") }
                }
            }
        }
    }

    /// `bytes` gzipped by GzipWriter and read by GzipReader come back unchanged.
    static func gzipRoundTrip(_ bytes: [UInt8]) {
        let sink = MemorySink()
        do {
            let writer = try GzipWriter(sink)
            try bytes.withUnsafeBytes { try writer.write($0) }
            try writer.finish()
        } catch {
            fatalError("gzip writer failed: \(error)")
        }
        var back: [UInt8] = []
        do {
            let reader = try GzipReader(MemoryInput(sink.bytes), label: "round trip")
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { break }
                back += buffer[0..<n]
            }
        } catch {
            fatalError("gzip written by GzipWriter does not read back: \(error)")
        }
        guard back == bytes else { fatalError("gzip round trip changed \(bytes.count) bytes into \(back.count)") }
    }
}
