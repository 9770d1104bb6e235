// Micro-benchmarks of the lake's I/O, run by bench/run.sh against a peer in the same run.
//
//   agentshop-bench gzip-write IN.jsonl OUT.jsonl.gz   lines of IN through GzipWriter (level 6)
//   agentshop-bench gzip-read IN.jsonl.gz              lines out of GzipReader + LineReader
//   agentshop-bench jsonl-read IN.jsonl.gz             records out of RecordReader (JSON parsed)
//
// Each prints one line: `<name> bytes=<uncompressed bytes> lines=<n> seconds=<s>`.
import Foundation
import Lake

@main
struct Bench {
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count >= 3 else {
            FileHandle.standardError.write(Data("usage: agentshop-bench gzip-write IN OUT | gzip-read IN | jsonl-read IN\n".utf8))
            exit(64)
        }
        let start = Date()
        var bytes = 0
        var lines = 0
        switch args[1] {
        case "gzip-write":
            let reader = LineReader(try FileInput(path: args[2]))
            let file = try AtomicFile(path: args[3])
            let gzip = try GzipWriter(file.output, level: 6)
            let newline: [UInt8] = [0x0A]
            while let n = try reader.withNextLine({ line -> Int in
                try gzip.write(line)
                try newline.withUnsafeBytes { try gzip.write($0) }
                return line.count + 1
            }) {
                bytes += n
                lines += 1
            }
            try gzip.finish()
            try file.commit()
        case "gzip-read":
            let reader = LineReader(try GzipReader(try FileInput(path: args[2])))
            while let n = try reader.withNextLine({ $0.count }) {
                bytes += n + 1
                lines += 1
            }
        case "jsonl-read":
            let reader = try RecordReader(path: args[2])
            while let record = try reader.next() {
                lines += 1
                bytes += record.count
            }
        default:
            FileHandle.standardError.write(Data("unknown benchmark \(args[1])\n".utf8))
            exit(64)
        }
        let seconds = Date().timeIntervalSince(start)
        print("\(args[1]) bytes=\(bytes) lines=\(lines) seconds=\(String(format: "%.3f", seconds))")
    }
}
