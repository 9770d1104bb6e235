import Foundation
@testable import Lake
import Testing

/// `RecordReader.nextKinds`: the keys and value kinds of each record, as a full parse would build
/// them, and the same rejects with the same messages.
@Suite struct JSONKindScanTests {
    static func kind(_ value: JSONValue) -> JSONKind {
        switch value {
        case .null: .null
        case .bool: .bool
        case .int: .int
        case .bigInteger: .bigInteger
        case .double: .double
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }

    static let lines = [
        #"{"a":1,"b":-0,"c":1.5,"d":1e3,"e":-2E-2,"f":123456789012345678,"g":1234567890123456789,"h":12345678901234567890}"#,
        #"{"i":-9223372036854775808,"j":-9223372036854775809,"k":true,"l":false,"m":null,"n":"x","o":[1,{"p":2}],"q":{}}"#,
        #"{"esc\"aped":1,"uni\u00e9":"é","\u0041":[],"dup":1,"dup":"one"}"#,
        #"  { "spaced" : 1 , "t" : [ ] }  "#,
        #"{}"#,
        #"not json"#,
        #"[1,2]"#,
        #"{"a":1,}"#,
        #"{"a":01}"#,
        #"{"a":1e400}"#,
        #"{"a":"\x"}"#,
        #"{"a":1} x"#,
        #"{"a":tru}"#,
        "",
        #"{"late":1}"#,
    ]

    @Test func kindsAndRejectsMatchAFullParse() throws {
        let path = NSTemporaryDirectory() + "kinds-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(([[0xEF, 0xBB, 0xBF]] + Self.lines.map { Array($0.utf8) }).enumerated()
            .flatMap { $0.offset == 0 ? $0.element : $0.element + [0x0A] }).write(to: URL(fileURLWithPath: path))

        var expected: [[String]] = []
        var expectedRejects: [RejectedRecord] = []
        let full = try RecordReader(path: path, policy: .skip) { expectedRejects.append($0) }
        while let record = try full.next() {
            expected.append(record.map { "\($0.key)=\(Self.kind($0.value))" })
        }

        var scanned: [[String]] = []
        var rejects: [RejectedRecord] = []
        let scan = try RecordReader(path: path, policy: .skip) { rejects.append($0) }
        var record: [(String, JSONKind)] = []
        while try scan.nextKinds({ key, kind in record.append((String(decoding: key, as: UTF8.self), kind)) }) {
            // A repeated key: the last kind, at the key's first place, as the parsed object keeps it.
            var merged: [(String, JSONKind)] = []
            for (key, kind) in record {
                if let i = merged.firstIndex(where: { $0.0 == key }) { merged[i].1 = kind } else { merged.append((key, kind)) }
            }
            scanned.append(merged.map { "\($0.0)=\($0.1)" })
            record = []
        }
        #expect(scanned == expected)
        #expect(scan.recordCount == full.recordCount)
        #expect(rejects.map(\.line) == expectedRejects.map(\.line))
        #expect(rejects.map(\.reason) == expectedRejects.map(\.reason))
        #expect(expected.count == 6 && expectedRejects.count == 8, "\(expected) \(expectedRejects.map(\.reason))")
    }
}
