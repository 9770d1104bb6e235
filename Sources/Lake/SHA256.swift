/// SHA-256 (FIPS 180-4), streaming, through libcrypto. Lake files and fingerprints are identified by it.
public struct SHA256: Sendable {
    private var digest = StreamingDigest(.sha256)

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { digest.update(bytes) }

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { digest.update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { digest.update($0) } }
    }

    public mutating func update(_ string: String) {
        var copy = string
        copy.withUTF8 { digest.update(UnsafeRawBufferPointer($0)) }
    }

    /// The digest as 32 bytes; the hasher starts again empty afterwards.
    public mutating func finalize() -> [UInt8] { digest.finalize() }

    /// The digest as 64 lowercase hex characters.
    public mutating func hexDigest() -> String { Self.hex(finalize()) }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var chars: [UInt8] = []
        chars.reserveCapacity(bytes.count * 2)
        for byte in bytes { chars.append(digits[Int(byte >> 4)]); chars.append(digits[Int(byte & 0x0f)]) }
        return String(decoding: chars, as: UTF8.self)
    }

    /// Digest of a string's UTF-8 bytes, as hex.
    public static func hex(of string: String) -> String {
        var hasher = SHA256()
        hasher.update(string)
        return hasher.hexDigest()
    }
}
