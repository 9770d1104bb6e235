/// SHA-1 (FIPS 180-4), streaming, through libcrypto. Only for WARC digests, where `sha1:` + Base32 is
/// what every WARC tool (warcio, wget, Heritrix, pywb CDX indexes) writes and checks; not for security.
public struct SHA1: Sendable {
    private var digest = StreamingDigest(.sha1)

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { digest.update(bytes) }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { digest.update($0) } }

    /// The digest as 20 bytes.
    public mutating func finalize() -> [UInt8] { digest.finalize() }
}

/// RFC 4648 Base32 (upper case, `=` padding), the encoding of WARC `sha1:` digests.
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt64 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt64(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt64(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt64(5 - bits)) & 31)]) }
        while out.count % 8 != 0 { out.append(UInt8(ascii: "=")) }
        return String(decoding: out, as: UTF8.self)
    }
}
