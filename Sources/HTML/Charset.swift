import Foundation

/// Where a page's character encoding was learnt, in order of precedence.
public enum CharsetSource: String, Sendable, Equatable {
    /// `Content-Type: text/html; charset=…` from the HTTP response.
    case httpHeader = "http-header"
    /// A UTF-8 or UTF-16 byte order mark.
    case byteOrderMark = "bom"
    /// `<meta charset>` or `<meta http-equiv="Content-Type" content="…; charset=…">`.
    case meta
    /// Nothing said otherwise.
    case defaultUTF8 = "default"
}

/// Finds a page's character encoding and converts its bytes to UTF-8.
///
/// Precedence follows what browsers do for a fetched page: HTTP header, then BOM, then `<meta>`,
/// then UTF-8. ISO-8859-1 and US-ASCII labels are read as Windows-1252, as the HTML standard
/// requires, so that curly quotes and the euro sign (0x80–0x9F) come out right.
public enum Charset {
    public struct Detection: Sendable, Equatable {
        /// The canonical label: `utf-8`, `windows-1252`, `utf-16le`, `shift_jis`…
        public var name: String
        public var source: CharsetSource
    }

    /// Detects the charset of `bytes`; `contentType` is the HTTP header value, if any.
    public static func detect(_ bytes: UnsafeRawBufferPointer, contentType: String?) -> Detection {
        if let contentType, let label = charsetParameter(contentType), let name = canonical(label) {
            return Detection(name: name, source: .httpHeader)
        }
        if let bom = byteOrderMark(bytes) { return Detection(name: bom.name, source: .byteOrderMark) }
        if let label = metaCharset(bytes), let name = canonical(label) {
            // A page that says UTF-16 in a <meta> is necessarily wrong: the meta was readable as ASCII.
            return Detection(name: name.hasPrefix("utf-16") ? "utf-8" : name, source: .meta)
        }
        return Detection(name: "utf-8", source: .defaultUTF8)
    }

    /// The page as UTF-8 bytes (BOM removed, invalid sequences replaced by U+FFFD), or nil for a
    /// charset we leave to libxml2's iconv.
    public static func utf8Bytes(_ bytes: UnsafeRawBufferPointer, charset: String) -> [UInt8]? {
        var body = bytes
        if let bom = byteOrderMark(bytes), charset == bom.name { body = UnsafeRawBufferPointer(rebasing: bytes[bom.length...]) }
        switch charset {
        case "utf-8":
            if isValidUTF8(body) { return Array(body) }
            return Array(String(decoding: body, as: UTF8.self).utf8)
        case "windows-1252":
            return windows1252ToUTF8(body)
        case "utf-16le", "utf-16be":
            let little = charset == "utf-16le"
            var units: [UInt16] = []
            units.reserveCapacity(body.count / 2)
            var i = 0
            while i + 1 < body.count {
                let a = UInt16(body[i]), b = UInt16(body[i + 1])
                units.append(little ? a | b << 8 : a << 8 | b)
                i += 2
            }
            return Array(String(decoding: units, as: UTF16.self).utf8)
        default:
            return nil
        }
    }

    /// Windows-1252 to UTF-8 in one pass into a buffer sized for the worst case (3 bytes a byte),
    /// ASCII eight bytes at a time: pages are mostly markup.
    static func windows1252ToUTF8(_ body: UnsafeRawBufferPointer) -> [UInt8] {
        let n = body.count
        guard let source = body.baseAddress, n > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: n * 3) { out, written in
            let target = out.baseAddress!
            var i = 0, o = 0
            while i < n {
                if i + 8 <= n {
                    let word = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 == 0 {
                        UnsafeMutableRawPointer(target + o).storeBytes(of: word, as: UInt64.self)
                        i += 8
                        o += 8
                        continue
                    }
                }
                let byte = source.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                if byte < 0x80 {
                    target[o] = byte
                    o += 1
                    continue
                }
                let scalar = byte < 0xA0 ? windows1252High[Int(byte) - 0x80] : UInt32(byte)
                if scalar < 0x800 {
                    target[o] = UInt8(0xC0 | (scalar >> 6))
                    target[o + 1] = UInt8(0x80 | (scalar & 0x3F))
                    o += 2
                } else {
                    target[o] = UInt8(0xE0 | (scalar >> 12))
                    target[o + 1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
                    target[o + 2] = UInt8(0x80 | (scalar & 0x3F))
                    o += 3
                }
            }
            written = o
        }
    }

    /// The bytes after any UTF-8 BOM, when they are valid UTF-8; nil otherwise.
    static func validUTF8Body(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var body = bytes
        if let bom = byteOrderMark(bytes) {
            guard bom.name == "utf-8" else { return nil }
            body = UnsafeRawBufferPointer(rebasing: bytes[bom.length...])
        }
        return isValidUTF8(body) ? body : nil
    }

    /// The `charset` parameter of a Content-Type value.
    public static func charsetParameter(_ contentType: String) -> String? {
        for part in contentType.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "charset" else { continue }
            let value = pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// Maps a label to the name we use, following the WHATWG encoding labels for the common cases.
    public static func canonical(_ label: String) -> String? {
        let l = label.trimmingCharacters(in: .whitespaces).lowercased()
        switch l {
        case "": return nil
        case "utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8": return "utf-8"
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp1252", "windows-1252",
             "x-cp1252", "us-ascii", "ascii", "ansi_x3.4-1968", "cp819", "ibm819", "iso-ir-100":
            return "windows-1252"
        case "utf-16", "utf-16le", "unicode", "ucs-2": return "utf-16le"
        case "utf-16be": return "utf-16be"
        default:
            // Other labels go to iconv under their own name; refuse anything that is not a plain token.
            guard l.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else { return nil }
            return l
        }
    }

    static func byteOrderMark(_ bytes: UnsafeRawBufferPointer) -> (name: String, length: Int)? {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { return ("utf-8", 3) }
        if bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] == 0xFE { return ("utf-16le", 2) }
        if bytes.count >= 2 && bytes[0] == 0xFE && bytes[1] == 0xFF { return ("utf-16be", 2) }
        return nil
    }

    /// Prescans the first 4 KiB for `<meta charset=…>` or an http-equiv Content-Type.
    static func metaCharset(_ bytes: UnsafeRawBufferPointer) -> String? {
        let limit = min(bytes.count, 4096)
        var i = 0
        while i + 5 < limit {
            // "<meta" followed by whitespace or "/", case-insensitively.
            if bytes[i] == 0x3C, lower(bytes[i + 1]) == 0x6D, lower(bytes[i + 2]) == 0x65, lower(bytes[i + 3]) == 0x74,
               lower(bytes[i + 4]) == 0x61, isSpaceOrSlash(bytes[i + 5]) {
                var end = i + 5
                while end < bytes.count && bytes[end] != 0x3E { end += 1 }
                let tag = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(i + 5)..<end]), as: UTF8.self)
                let attributes = parseAttributes(tag)
                if let charset = attributes["charset"], !charset.isEmpty { return charset }
                if attributes["http-equiv"]?.lowercased() == "content-type", let content = attributes["content"],
                   let charset = charsetParameter(content) {
                    return charset
                }
                i = end
            }
            i += 1
        }
        return nil
    }

    /// Attributes of a tag's inside (`name=value`, quoted or not), names lowercased.
    static func parseAttributes(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        let chars = Array(text.unicodeScalars)
        var i = 0
        func skipSpace() { while i < chars.count && (chars[i].properties.isWhitespace || chars[i] == "/") { i += 1 } }
        while i < chars.count {
            skipSpace()
            var name = ""
            while i < chars.count && !chars[i].properties.isWhitespace && chars[i] != "=" && chars[i] != "/" {
                name.unicodeScalars.append(chars[i]); i += 1
            }
            while i < chars.count && chars[i].properties.isWhitespace { i += 1 }
            var value = ""
            if i < chars.count && chars[i] == "=" {
                i += 1
                while i < chars.count && chars[i].properties.isWhitespace { i += 1 }
                if i < chars.count && (chars[i] == "\"" || chars[i] == "'") {
                    let quote = chars[i]; i += 1
                    while i < chars.count && chars[i] != quote { value.unicodeScalars.append(chars[i]); i += 1 }
                    i += 1
                } else {
                    while i < chars.count && !chars[i].properties.isWhitespace { value.unicodeScalars.append(chars[i]); i += 1 }
                }
            }
            if !name.isEmpty && out[name.lowercased()] == nil { out[name.lowercased()] = value }
            if name.isEmpty { i += 1 }
        }
        return out
    }

    @inline(__always) private static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b + 0x20 : b }
    @inline(__always) private static func isSpaceOrSlash(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0C || b == 0x0D || b == 0x2F
    }

    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Fast path for ASCII runs; full check otherwise.
        var i = 0
        let n = bytes.count
        guard let base = bytes.baseAddress else { return true }
        while i < n {
            // Eight ASCII bytes at a time: pages are mostly markup.
            if i + 8 <= n && base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length: Int
            if b & 0xE0 == 0xC0 { length = 2; if b < 0xC2 { return false } }
            else if b & 0xF0 == 0xE0 { length = 3 }
            else if b & 0xF8 == 0xF0 { length = 4; if b > 0xF4 { return false } }
            else { return false }
            if i + length > n { return false }
            for k in 1..<length where bytes[i + k] & 0xC0 != 0x80 { return false }
            if length == 3 {
                let b1 = bytes[i + 1]
                if b == 0xE0 && b1 < 0xA0 { return false }  // overlong
                if b == 0xED && b1 >= 0xA0 { return false }  // surrogates
            } else if length == 4 {
                let b1 = bytes[i + 1]
                if b == 0xF0 && b1 < 0x90 { return false }
                if b == 0xF4 && b1 >= 0x90 { return false }
            }
            i += length
        }
        return true
    }

    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        if scalar < 0x80 { out.append(UInt8(scalar)) }
        else if scalar < 0x800 {
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        } else if scalar < 0x10000 {
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    /// Windows-1252 0x80–0x9F; undefined positions map to the C1 control of the same value, as browsers do.
    static let windows1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]
}
