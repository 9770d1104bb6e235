internal import COpenSSL

/// The one place Lake calls libcrypto (OpenSSL 3): chosen over hand-written code and over
/// swift-crypto by measurement (bench/CRYPTO_RESULTS.md).
enum LibCrypto {
    enum Algorithm: Sendable {
        case sha1, sha256

        var digestLength: Int { self == .sha1 ? 20 : 32 }
    }

    // Fetched once: EVP_DigestInit_ex with EVP_sha256() would fetch the implementation again on every init.
    nonisolated(unsafe) private static let sha1 = EVP_MD_fetch(nil, "SHA1", nil)
    nonisolated(unsafe) private static let sha256 = EVP_MD_fetch(nil, "SHA256", nil)

    fileprivate static func implementation(_ algorithm: Algorithm) -> OpaquePointer {
        guard let md = algorithm == .sha1 ? sha1 : sha256 else {
            fatalError(loadError ?? "libcrypto has no \(algorithm) implementation (is the default provider disabled?)")
        }
        return md
    }

    /// Why libcrypto cannot be loaded (it is opened on first use), nil when it can.
    static var loadError: String? { agentshop_crypto_load_error().map { String(cString: $0) } }

    /// HMAC (RFC 2104) in one call.
    static func hmac(_ algorithm: Algorithm, key: [UInt8], message: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // A zero-length key still needs a valid pointer.
        let keyBytes = key.isEmpty ? [0] : key
        let result = keyBytes.withUnsafeBytes { keyPointer in
            withUnsafeBytes(of: 0 as UInt8) { empty in
                HMAC(implementation(algorithm), keyPointer.baseAddress, Int32(key.count),
                     (message.baseAddress ?? empty.baseAddress)!.assumingMemoryBound(to: UInt8.self), message.count,
                     &out, &length)
            }
        }
        precondition(result != nil && Int(length) == algorithm.digestLength, "libcrypto HMAC failed")
        return Array(out[0..<Int(length)])
    }

    /// PBKDF2 (RFC 8018) with HMAC over `algorithm`.
    static func pbkdf2(_ algorithm: Algorithm, password: [UInt8], salt: [UInt8], iterations: Int, keyLength: Int) -> [UInt8] {
        precondition(iterations >= 1 && iterations <= Int(Int32.max) && keyLength >= 1 && keyLength <= Int(Int32.max))
        var out = [UInt8](repeating: 0, count: keyLength)
        let passwordBytes = password.isEmpty ? [0] : password, saltBytes = salt.isEmpty ? [0] : salt
        let result = passwordBytes.withUnsafeBytes { passwordPointer in
            saltBytes.withUnsafeBufferPointer { saltPointer in
                PKCS5_PBKDF2_HMAC(passwordPointer.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(password.count),
                                  saltPointer.baseAddress, Int32(salt.count), Int32(iterations),
                                  implementation(algorithm), Int32(keyLength), &out)
            }
        }
        precondition(result == 1, "libcrypto PBKDF2 failed")
        return out
    }

    /// Compares in time independent of where the first difference is (CRYPTO_memcmp).
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 } }
    }
}

/// A streaming digest with value semantics: the EVP context is copied when a shared copy is
/// updated (copy on write), so `var inner = self.inner` behaves as with a plain struct.
struct StreamingDigest: @unchecked Sendable {
    private final class Context {
        let pointer: OpaquePointer

        init(_ algorithm: LibCrypto.Algorithm) {
            guard let pointer = EVP_MD_CTX_new() else { fatalError(LibCrypto.loadError ?? "EVP_MD_CTX_new: out of memory") }
            self.pointer = pointer
            reset(algorithm)
        }

        init(copying other: Context) {
            guard let pointer = EVP_MD_CTX_new() else { fatalError(LibCrypto.loadError ?? "EVP_MD_CTX_new: out of memory") }
            self.pointer = pointer
            precondition(EVP_MD_CTX_copy_ex(pointer, other.pointer) == 1, "EVP_MD_CTX_copy_ex failed")
        }

        func reset(_ algorithm: LibCrypto.Algorithm) {
            precondition(EVP_DigestInit_ex(pointer, LibCrypto.implementation(algorithm), nil) == 1, "EVP_DigestInit_ex failed")
        }

        deinit { EVP_MD_CTX_free(pointer) }
    }

    // Never mutated while shared (copy on write), hence @unchecked Sendable.
    private var context: Context
    private let algorithm: LibCrypto.Algorithm

    init(_ algorithm: LibCrypto.Algorithm) {
        self.algorithm = algorithm
        context = Context(algorithm)
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
        precondition(EVP_DigestUpdate(context.pointer, base, bytes.count) == 1, "EVP_DigestUpdate failed")
    }

    /// The digest; the hasher starts again empty afterwards.
    mutating func finalize() -> [UInt8] {
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context.pointer, &out, &length) == 1, "EVP_DigestFinal_ex failed")
        context.reset(algorithm)
        return Array(out[0..<Int(length)])
    }
}
