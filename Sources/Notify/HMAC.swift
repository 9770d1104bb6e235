import Lake

/// HMAC-SHA256 (RFC 2104) over the Lake module's SHA-256: signs webhook bodies.
public enum HMACSHA256 {
    static let blockSize = 64

    public static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        var key = key
        if key.count > blockSize {
            var hash = SHA256()
            hash.update(key)
            key = hash.finalize()
        }
        key += [UInt8](repeating: 0, count: blockSize - key.count)
        var inner = SHA256()
        inner.update(key.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA256()
        outer.update(key.map { $0 ^ 0x5c })
        outer.update(inner.finalize())
        return outer.finalize()
    }

    /// The code as lowercase hex.
    public static func hex(for message: [UInt8], key: [UInt8]) -> String {
        SHA256.hex(authenticationCode(for: message, key: key))
    }

    /// Compares in time independent of where the first difference is.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
