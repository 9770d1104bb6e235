import Testing
@testable import HTML

struct CharsetTests {
    static func detect(_ bytes: [UInt8], _ contentType: String? = nil) -> Charset.Detection {
        bytes.withUnsafeBytes { Charset.detect($0, contentType: contentType) }
    }

    @Test(arguments: [
        (Array("<p>x</p>".utf8), "text/html; charset=ISO-8859-1", "windows-1252", CharsetSource.httpHeader),
        (Array("<meta charset=utf-8>".utf8), "text/html; charset=\"Shift_JIS\"", "shift_jis", .httpHeader),
        ([0xEF, 0xBB, 0xBF] + Array("<meta charset=latin1>".utf8), nil, "utf-8", .byteOrderMark),
        ([0xFF, 0xFE, 0x3C, 0x00], "text/html", "utf-16le", .byteOrderMark),
        ([0xFE, 0xFF, 0x00, 0x3C], nil, "utf-16be", .byteOrderMark),
        (Array("<html><head><META CHARSET='windows-1252'></head>".utf8), nil, "windows-1252", .meta),
        (Array("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">".utf8), nil, "windows-1252", .meta),
        (Array("<meta name=x content=y><meta charset=\"UTF-8\"/>".utf8), nil, "utf-8", .meta),
        (Array("<meta charset=utf-16>".utf8), nil, "utf-8", .meta),
        (Array("<p>no declaration</p>".utf8), "text/html", "utf-8", .defaultUTF8),
    ] as [([UInt8], String?, String, CharsetSource)])
    func detects(bytes: [UInt8], contentType: String?, name: String, source: CharsetSource) {
        let detection = Self.detect(bytes, contentType)
        #expect(detection.name == name)
        #expect(detection.source == source)
    }

    /// Bytes in a legacy or Unicode encoding, and the text they must become.
    @Test(arguments: [
        // Windows-1252 declared as ISO-8859-1: 0x80 is €, 0x93/0x94 are curly quotes, 0x97 an em dash.
        (Array("<meta charset=iso-8859-1><p>caf".utf8) + [0xE9, 0x20, 0x80, 0x35, 0x20, 0x93, 0x78, 0x94, 0x20, 0x97] + Array("</p>".utf8),
         nil, "café €5 “x” —"),
        (Array("<meta http-equiv=Content-Type content='text/html; charset=windows-1252'><p>M".utf8) + [0xFC] + Array("ller</p>".utf8),
         nil, "Müller"),
        // The HTTP header wins over a wrong <meta>.
        (Array("<meta charset=utf-8><p>".utf8) + [0xC4, 0xD6] + Array("</p>".utf8), "text/html; charset=latin1", "ÄÖ"),
        // UTF-8 with BOM, declared wrongly in <meta>.
        ([0xEF, 0xBB, 0xBF] + Array("<meta charset=windows-1252><p>naïve €</p>".utf8), nil, "naïve €"),
        // UTF-16LE with BOM.
        ([0xFF, 0xFE] + Array("<p>Grüße</p>".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, nil, "Grüße"),
        // Shift_JIS through libxml2's iconv.
        (Array("<meta charset=shift_jis><p>".utf8) + [0x93, 0xFA, 0x96, 0x7B] + Array("</p>".utf8), nil, "日本"),
        // Invalid UTF-8 becomes U+FFFD, the rest survives.
        (Array("<p>ok ".utf8) + [0xFF, 0xC3] + Array(" end</p>".utf8), nil, "ok \u{FFFD}\u{FFFD} end"),
    ] as [([UInt8], String?, String)])
    func decodesToUTF8(bytes: [UInt8], contentType: String?, text: String) throws {
        let document = try HTMLDocument(bytes: bytes, contentType: contentType)
        #expect(try document.css("p") == [text])
    }

    /// The one-pass Windows-1252 converter gives what decoding each byte to its code point gives,
    /// for every byte, at every offset against its eight-byte steps.
    @Test func windows1252ConvertsEveryByte() {
        for offset in 0..<9 {
            let bytes = Array("<p>abcdefghijklmnop".utf8.prefix(offset)) + (0...255).map { UInt8($0) } + Array("tail of ascii text".utf8)
            var expected = ""
            for byte in bytes {
                let scalar = byte >= 0x80 && byte < 0xA0 ? Charset.windows1252High[Int(byte) - 0x80] : UInt32(byte)
                expected.unicodeScalars.append(Unicode.Scalar(scalar)!)
            }
            let converted = bytes.withUnsafeBytes { Charset.windows1252ToUTF8($0) }
            #expect(converted == Array(expected.utf8), "offset \(offset)")
            #expect(bytes.withUnsafeBytes { Charset.utf8Bytes($0, charset: "windows-1252") } == converted)
        }
        #expect([UInt8]().withUnsafeBytes { Charset.windows1252ToUTF8($0) } == [])
    }
}
