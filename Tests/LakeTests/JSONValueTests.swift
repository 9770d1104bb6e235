import Foundation
import Testing
@testable import Lake

struct JSONValueTests {
    // MARK: Parsing

    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .int(0)),
        ("-0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("9223372036854775807", .int(Int64.max)),
        ("-9223372036854775808", .int(Int64.min)),
        ("9223372036854775808", .bigInteger("9223372036854775808")),
        ("-9223372036854775809", .bigInteger("-9223372036854775809")),
        ("12345678901234567890", .bigInteger("12345678901234567890")),
        ("9223372036854775808.0", .double(9223372036854775808.0)),
        ("1e-400", .double(0)),
        ("1.5", .double(1.5)),
        ("2.0", .double(2.0)),
        ("-0.25", .double(-0.25)),
        ("1e3", .double(1000)),
        ("1E-2", .double(0.01)),
        ("2.5e+2", .double(250)),
        ("\"\"", .string("")),
        ("\"plain\"", .string("plain")),
        (#""\"\\\/\b\f\n\r\t""#, .string("\"\\/\u{08}\u{0C}\n\r\t")),
        (#""\u00e9\u00E9""#, .string("éé")),
        (#""\u0000""#, .string("\u{0}")),
        (#""\ud83d\ude00""#, .string("😀")),
        (#""a\uD834\uDD1Eb""#, .string("a𝄞b")),
        ("\"héllo 😀 直接\"", .string("héllo 😀 直接")),
        ("[]", .array([])),
        ("{}", .object(JSONObject())),
        ("[1,\"a\",null,[true]]", .array([.int(1), .string("a"), .null, .array([.bool(true)])])),
        (" \t\r\n {\"a\" : [ 1 , 2 ] } \n", .object(JSONObject([("a", .array([.int(1), .int(2)]))]))),
    ])
    func parsesValues(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(text) == expected)
    }

    @Test(arguments: [
        "", " ", "nul", "tru", "nulll", "True", "NaN", "Infinity", "-Infinity", "'a'",
        "[1,]", "[1 2]", "[", "]", "{", "{\"a\":1,}", "{a:1}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{1:2}",
        "01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"\\ud800x\"", "\"tab\there\"", "\"new\nline\"", "\"\\",
        "1 2", "{} x", "[]]", "nullnull", "\"a\"\"b\"",
    ])
    func rejectsInvalidText(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test(arguments: [
        [0x22, 0xFF, 0x22],                    // invalid byte
        [0x22, 0xC3, 0x22],                    // truncated two-byte sequence
        [0x22, 0xC0, 0x80, 0x22],              // overlong NUL
        [0x22, 0x80, 0x22],                    // lone continuation byte
        [0x22, 0xED, 0xA0, 0x80, 0x22],        // UTF-8-encoded surrogate
        [0x22, 0x5C, 0x6E, 0xFF, 0x22],        // after an escape (the slow path)
        [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D],  // in a key
    ] as [[UInt8]])
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        #expect(throws: JSONParseError.self) { try bytes.withUnsafeBytes { try JSONValue.parse(bytes: $0) } }
    }

    @Test func errorCarriesTheOffset() {
        do throws(JSONParseError) {
            _ = try JSONValue.parse("[1,]")
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 3)
            #expect(error.description.hasSuffix("at byte 4"))
        }
    }

    @Test func trailingGarbageIsNamedInTheError() {
        do throws(JSONParseError) {
            _ = try JSONValue.parse("{\"a\":1} trailing")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("after the JSON value"))
            #expect(error.offset == 8)
        }
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(tooDeep) }
        #expect(error?.message.contains("nesting deeper than 512") == true)
        let objects = String(repeating: "{\"a\":", count: 600) + "1" + String(repeating: "}", count: 600)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(objects) }
        // Depth is nesting, not the number of containers.
        let wide = "[" + Array(repeating: "[[]]", count: 2_000).joined(separator: ",") + "]"
        #expect(throws: Never.self) { try JSONValue.parse(wide) }
    }

    @Test func keyOrderIsKept() throws {
        let text = #"{"zeta":1,"alpha":2,"mid":{"y":true,"x":false}}"#
        let value = try JSONValue.parse(text)
        #expect(value.objectValue?.keys == ["zeta", "alpha", "mid"])
        #expect(value.serialized() == text)
    }

    @Test func duplicateKeysLastWinsInFirstPosition() throws {
        let value = try JSONValue.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(value.objectValue?.keys == ["a", "b"])
        #expect(value.objectValue?["a"] == .int(3))
    }

    @Test func integersStayExactDoublesStayDoubles() throws {
        let value = try JSONValue.parse(#"[9007199254740993, 1.0, 3]"#)
        #expect(value == .array([.int(9_007_199_254_740_993), .double(1.0), .int(3)]))
        #expect(value.serialized() == "[9007199254740993,1.0,3]")
    }

    // MARK: Numbers (RFC 8259 §6)

    /// Integers beyond 64 bits keep their digits through read and write (issue #22: they became
    /// doubles, `12345678901234567890` → `1.2345678901234567e+19`).
    @Test(arguments: [
        "12345678901234567890",
        "-98765432109876543210123456789",
        "[18446744073709551616,1,-1]",
        #"{"id":340282366920938463463374607431768211457,"n":2}"#,
        "9223372036854775808",
    ])
    func bigIntegersStayExact(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == text)
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    @Test func bigIntegersAreStillNumbers() throws {
        let value = try JSONValue.parse("12345678901234567890")
        #expect(value == .bigInteger("12345678901234567890"))
        #expect(value.doubleValue == 12345678901234567890.0)
    }

    /// A number no double holds is refused with the reason and its place, never read as infinity
    /// (which was written back as `null`).
    @Test(arguments: ["1e400", "-1e400", "[1, 2e999]", "1.5E+309", #"{"a":1e400}"#,
                      "1" + String(repeating: "0", count: 400) + ".0"])
    func overflowIsRefused(text: String) {
        do throws(JSONParseError) {
            let value = try JSONValue.parse(text)
            Issue.record("accepted \(text) as \(value.serialized())")
        } catch {
            #expect(error.message.hasPrefix("number out of range"), "\(error)")
        }
    }

    @Test func overflowIsRefusedByTheProjectedParserToo() throws {
        let text = #"{"a":1,"skipped":1e400}"#
        var values = [JSONValue](repeating: .null, count: 1)
        let projection = FieldProjection(keys: ["a"])
        #expect(throws: JSONParseError.self) {
            try text.utf8CString.withUnsafeBytes { raw in
                try values.withUnsafeMutableBufferPointer { buffer in
                    _ = try JSONParser.parseProjected(UnsafeRawBufferPointer(rebasing: raw.dropLast()), projection, into: buffer)
                }
            }
        }
    }

    @Test func overflowNamesTheLineInAMultiLineText() {
        do throws(JSONParseError) {
            _ = try JSONValue.parse("{\n  \"a\": 1,\n  \"b\": 1e400\n}")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 8)
            #expect(error.description == "number out of range: 1e400 is beyond the largest double (about 1.8e308) at line 3, column 8")
        }
    }

    @Test func overflowInAJSONLinesFileIsRejectedWithItsLine() throws {
        let dir = NSTemporaryDirectory() + "agentshop-json-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/r.jsonl"
        try Data("{\"a\":1}\n{\"a\":1e400}\n".utf8).write(to: URL(fileURLWithPath: path))
        let reader = try RecordReader(path: path)
        #expect(try reader.next()?["a"] == .int(1))
        do {
            _ = try reader.next()
            Issue.record("expected a rejected record")
        } catch {
            #expect("\(error)".hasSuffix("r.jsonl: line 2: invalid JSON: number out of range: 1e400 is beyond the largest double (about 1.8e308) at byte 6"), "\(error)")
        }
    }

    /// `-0.0` keeps its sign when written back (it was written `0.0`).
    @Test func negativeZeroKeepsItsSign() throws {
        let value = try JSONValue.parse("-0.0")
        guard case .double(let d) = value else { Issue.record("not a double: \(value)"); return }
        #expect(d == 0 && d.sign == .minus)
        #expect(value.serialized() == "-0.0")
        #expect(JSONValue.double(0).serialized() == "0.0")
        #expect(try JSONValue.parse("[-0.0,-0e0,0.0]").serialized() == "[-0.0,-0.0,0.0]")
    }

    // MARK: Writing

    @Test(arguments: [
        (JSONValue.null, "null"),
        (.bool(true), "true"),
        (.bool(false), "false"),
        (.int(-5), "-5"),
        (.int(Int64.min), "-9223372036854775808"),
        (.double(1.5), "1.5"),
        (.double(2.0), "2.0"),
        (.double(-3.0), "-3.0"),
        (.double(0.1), "0.1"),
        (.double(1e20), "1e+20"),
        (.double(.nan), "null"),
        (.double(.infinity), "null"),
        (.double(-.infinity), "null"),
        (.string("a\"b\\c"), #""a\"b\\c""#),
        (.string("\n\r\t"), #""\n\r\t""#),
        (.string("\u{01}\u{1F}\u{08}\u{0C}"), #""\u0001\u001f\u0008\u000c""#),
        (.string("/ é 😀 \u{7F}"), "\"/ é 😀 \u{7F}\""),
        (.array([]), "[]"),
        (.object(JSONObject()), "{}"),
        (["b": 1, "a": [nil, "x"]] as JSONValue, #"{"b":1,"a":[null,"x"]}"#),
    ])
    func serializes(value: JSONValue, expected: String) {
        #expect(value.serialized() == expected)
    }

    @Test(arguments: [
        JSONValue.string("every \"escape\" \\ / \u{0} \u{1F} \n é 😀 𝄞"),
        .double(2.0), .double(-1e-7), .double(123_456_789.125), .double(1e15), .double(Double.greatestFiniteMagnitude),
        .int(Int64.max), .int(Int64.min),
        ["k": ["nested": [1, 2.5, "three", nil, true]], "": ""] as JSONValue,
    ])
    func serializeThenParseRoundTrips(value: JSONValue) throws {
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    @Test func canonicalTextSortsKeysAtEveryDepth() throws {
        let a = try JSONValue.parse(#"{"b":{"d":1,"c":2},"a":[{"z":1,"y":2}]}"#)
        let b = try JSONValue.parse(#"{"a":[{"y":2,"z":1}],"b":{"c":2,"d":1}}"#)
        #expect(a.canonicalText() == #"{"a":[{"y":2,"z":1}],"b":{"c":2,"d":1}}"#)
        #expect(a.canonicalText() == b.canonicalText())
        #expect(a.serialized() != b.serialized(), "serialized keeps file order")
        // Arrays keep their order: they are not sets.
        #expect(JSONValue.array([2, 1]).canonicalText() == "[2,1]")
    }

    // MARK: Accessors

    @Test(arguments: [
        (JSONValue.null, ""),
        (.string("text, with \"quotes\""), "text, with \"quotes\""),
        (.int(7), "7"),
        (.double(2.5), "2.5"),
        (.bool(false), "false"),
        (.array([1, "a"]), #"[1,"a"]"#),
        (["k": "v"] as JSONValue, #"{"k":"v"}"#),
    ])
    func plainText(value: JSONValue, expected: String) {
        #expect(value.plainText == expected)
    }

    @Test func accessors() {
        #expect(JSONValue.int(3).doubleValue == 3.0)
        #expect(JSONValue.double(0.5).doubleValue == 0.5)
        #expect(JSONValue.string("3").doubleValue == nil)
        #expect(JSONValue.string("s").stringValue == "s")
        #expect(JSONValue.int(1).stringValue == nil)
        #expect(JSONValue.array([1]).arrayValue == [1])
        #expect(JSONValue.null.isNull)
        #expect(!JSONValue.string("").isNull)
    }

    @Test func objectSubscriptReplacesInPlaceAndRemoves() {
        var object = JSONObject([("a", 1), ("b", 2), ("c", 3)])
        object["b"] = "two"
        #expect(object.keys == ["a", "b", "c"])
        #expect(object["b"] == "two")
        object["a"] = nil
        #expect(object.keys == ["b", "c"])
        object["d"] = .null
        #expect(object.keys == ["b", "c", "d"])
        #expect(object["d"] == .null, "a null value is present, not missing")
        #expect(object["missing"] == nil)
        #expect(object.count == 3)
        #expect(object.map(\.key) == ["b", "c", "d"])
    }

    @Test func objectInitWithRepeatedKeysKeepsTheLast() {
        let object = JSONObject([("a", 1), ("a", 2)])
        #expect(object.count == 1)
        #expect(object["a"] == 2)
    }

    @Test func codableRoundTripOfScalarsAndArrays() throws {
        let value: JSONValue = [1, 2.5, "s", true, nil, [3]]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }
}
