import Foundation
@testable import Lake
import Testing

/// Projected parsing (what the aggregate stage reads with) must accept and reject exactly what
/// the full parser does, and give the same values; the fast number path must give the same doubles.
@Suite struct JSONProjectionTests {
    static let lines: [String] = [
        #"{"a":1,"b":"x","c":[1,{"d":null}],"e":{"f":"g"}}"#,
        #"{"b":"a long plain string that crosses several eight-byte words","a":2.5}"#,
        #"{"b":"tab\there \"quoted\" back\\slash \u00e9 \ud83d\ude00","a":-0}"#,
        #"{"b":"héllo wörld ✓","zz":"ünïcode in a skipped value","a":1e3}"#,
        #"{"a":1,"a":2}"#,
        #"{"k\u0061y":true,"a":false}"#,
        #"  { "a" : [ ] , "b" : { } }  "#,
        #"{}"#,
        #"{"skip":"unterminated}"#,
        #"{"skip":"bad escape \q","a":1}"#,
        #"{"skip":"lone surrogate \ud800","a":1}"#,
        #"{"skip":01,"a":1}"#,
        #"{"skip":1.,"a":1}"#,
        #"{"skip":-,"a":1}"#,
        #"{"skip":tru,"a":1}"#,
        #"{"skip":[1,2,,3],"a":1}"#,
        #"{"skip":{"x":1,}}"#,
        #"{"a":1}{"b":2}"#,
        #"{"a":1"#,
        #"[1,2]"#,
        #""just a string""#,
        "{\"skip\":\"control \u{01} character\",\"a\":1}",
        "{\"skip\":\"12345678\u{01}\",\"a\":1}",
        "{\"skipped-key-with-control-\u{02}\":1}",
    ]

    static let invalidUTF8: [[UInt8]] = [
        Array(#"{"skip":""#.utf8) + [0xC3, 0x28] + Array(#"","a":1}"#.utf8),
        Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8),
        Array(#"{""#.utf8) + [0xE2, 0x82] + Array(#"":1}"#.utf8),
    ]

    static func check(_ bytes: [UInt8]) {
        let projection = FieldProjection(keys: ["a", "b", "key"])
        let full: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) { return .success(try JSONParser.parse(raw)) } catch { return .failure(error) }
        }
        var values: [JSONValue] = Array(repeating: .null, count: 3)
        let projected: Result<Bool, JSONParseError> = bytes.withUnsafeBytes { raw in
            values.withUnsafeMutableBufferPointer { buffer in
                do throws(JSONParseError) { return .success(try JSONParser.parseProjected(raw, projection, into: buffer)) }
                catch { return .failure(error) }
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        switch (full, projected) {
        case (.success(.object(let object)), .success(true)):
            #expect(values == projection.keys.map { object[$0] ?? .null }, "\(text)")
        case (.success(let value), .success(false)):
            #expect(value.objectValue == nil, "\(text)")
        case (.failure(let a), .failure(let b)):
            #expect(a.message == b.message, "\(text): \(a) vs \(b)")
        default:
            Issue.record("full parse \(full) but projected parse \(projected) for \(text)")
        }
    }

    @Test(arguments: lines)
    func projectedParseAgreesWithFullParse(line: String) {
        Self.check(Array(line.utf8))
    }

    @Test(arguments: invalidUTF8)
    func invalidUTF8IsRejectedEitherWay(bytes: [UInt8]) {
        Self.check(bytes)
        let rejected = bytes.withUnsafeBytes { raw in (try? JSONParser.parse(raw)) == nil }
        #expect(rejected)
    }

    @Test(arguments: [
        [0x61, 0x62], [0xC3, 0xA9], [0xC3], [0xC3, 0x28], [0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0x80],
        [0xE2, 0x82, 0xAC], [0xE2, 0x82], [0xE0, 0x9F, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
        [0xEF, 0xBF, 0xBF], [0xF0, 0x9F, 0x98, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xF0, 0x9F, 0x98], [0x61, 0xE2, 0x28, 0xA1],
    ] as [[UInt8]])
    func utf8CheckAgreesWithTheStandardLibrary(bytes: [UInt8]) {
        let ours = bytes.withUnsafeBytes { UTF8Text.string($0) }
        #expect(ours == String(validating: bytes, as: UTF8.self), "\(bytes)")
    }

    @Test(arguments: ["0", "-0", "12", "-7", "123456789012345678", "1234567890123456789", "9223372036854775807",
                      "-9223372036854775808", "0.1", "-0.0", "3.14159", "20.5", "1e3", "2.5E-3", "0.30000000000000004",
                      "123.456789012345678", "9007199254740993.5", "0.000001", "99999999999999999999", "1.7976931348623157e308",
                      "4.35", "178.59", "0.1234567890123456789"])
    func numbersMatchTheGeneralPath(text: String) throws {
        let parsed = try JSONValue.parse(text)
        let isInteger = !text.contains(where: { ".eE".contains($0) })
        if isInteger, let exact = Int64(text) {
            #expect(parsed == .int(exact), "\(text)")
        } else {
            let expected = try #require(Double(text))
            #expect(parsed.doubleValue?.bitPattern == expected.bitPattern, "\(text): \(parsed) vs \(expected)")
        }
    }

    @Test func readerProjectsCSVAndJSONLAlike() throws {
        let folder = NSTemporaryDirectory() + "projection-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "{\"a\":1,\"b\":\"x\"}\n\n{\"b\":\"y\"}\nnope\n".write(toFile: folder + "/in.jsonl", atomically: true, encoding: .utf8)
        try "b,a\nx,1\ny,\n".write(toFile: folder + "/in.csv", atomically: true, encoding: .utf8)
        let projection = FieldProjection(keys: ["a", "b", "missing"])
        var rejected: [Int] = []
        for name in ["in.jsonl", "in.csv"] {
            let reader = try RecordReader(path: folder + "/" + name, policy: .skip, inferTypes: true) { rejected.append($0.line) }
            var values: [JSONValue] = []
            var rows: [[JSONValue]] = []
            while try reader.next(projecting: projection, into: &values) { rows.append(values) }
            #expect(rows == [[1, "x", nil], [nil, "y", nil]], "\(name)")
        }
        #expect(rejected == [4])

        try "\u{FEFF}{\"a\":7}\n".write(toFile: folder + "/bom.jsonl", atomically: true, encoding: .utf8)
        let reader = try RecordReader(path: folder + "/bom.jsonl")
        var values: [JSONValue] = []
        #expect(try reader.next(projecting: projection, into: &values))
        #expect(values == [7, nil, nil])
    }
}
