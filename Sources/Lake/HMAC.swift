/// HMAC-SHA256 (RFC 2104) through libcrypto: signs webhook bodies (Notify) and is PBKDF2's PRF.
public enum HMACSHA256 {
    public static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { LibCrypto.hmac(.sha256, key: key, message: $0) }
    }

    /// The code as lowercase hex.
    public static func hex(for message: [UInt8], key: [UInt8]) -> String {
        SHA256.hex(authenticationCode(for: message, key: key))
    }

    /// Compares in time independent of where the first difference is.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool { LibCrypto.constantTimeEquals(a, b) }
}

/// PBKDF2 (RFC 8018) with HMAC-SHA256 through libcrypto: the admin password hashes (Store).
public enum PBKDF2 {
    /// The largest iteration count libcrypto takes.
    public static let maximumIterations = Int(Int32.max)

    /// The derived key, `keyLength` bytes. `iterations` is 1...`maximumIterations`.
    public static func sha256(password: [UInt8], salt: [UInt8], iterations: Int, keyLength: Int = 32) -> [UInt8] {
        LibCrypto.pbkdf2(.sha256, password: password, salt: salt, iterations: iterations, keyLength: keyLength)
    }
}
