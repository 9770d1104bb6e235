// Times the same digests through libcrypto (OpenSSL, via the COpenSSL shim) and swift-crypto (BoringSSL).
// Usage: crypto-bench [MiB per digest run, default 1024] [rounds, default 3]
// Prints one Markdown row per (work, implementation): the median wall time and CPU time of the rounds.
import COpenSSL
import Crypto
import _CryptoExtras
import HandWrittenSHA
import Foundation

let mebibytes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 1024
let rounds = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 3
let chunk = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
let small = [UInt8](chunk[0..<200])
let smallCount = 1_000_000
let pbkdf2Rounds = 600_000

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

func measure(_ body: () -> [UInt8]) -> (wall: Double, cpu: Double, digest: [UInt8]) {
    let wall0 = Date(), cpu0 = cpuSeconds()
    let digest = body()
    return (Date().timeIntervalSince(wall0), cpuSeconds() - cpu0, digest)
}

nonisolated(unsafe) let openSSLSHA256 = EVP_MD_fetch(nil, "SHA256", nil)!
nonisolated(unsafe) let openSSLSHA1 = EVP_MD_fetch(nil, "SHA1", nil)!

func openSSLStream(_ md: OpaquePointer) -> [UInt8] {
    let context = EVP_MD_CTX_new()!
    defer { EVP_MD_CTX_free(context) }
    EVP_DigestInit_ex(context, md, nil)
    chunk.withUnsafeBytes { bytes in
        for _ in 0..<mebibytes { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    EVP_DigestFinal_ex(context, &out, &length)
    return Array(out[0..<Int(length)])
}

func openSSLSmall(_ md: OpaquePointer) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    let context = EVP_MD_CTX_new()!
    defer { EVP_MD_CTX_free(context) }
    small.withUnsafeBytes { bytes in
        for _ in 0..<smallCount {
            EVP_DigestInit_ex(context, md, nil)
            EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
            EVP_DigestFinal_ex(context, &out, &length)
        }
    }
    return Array(out[0..<Int(length)])
}

func swiftCryptoStream<H: HashFunction>(_ type: H.Type) -> [UInt8] {
    var hasher = H()
    chunk.withUnsafeBytes { bytes in
        for _ in 0..<mebibytes { hasher.update(bufferPointer: bytes) }
    }
    return Array(hasher.finalize())
}

func handWrittenSHA256() -> [UInt8] {
    var hasher = HandWrittenSHA.SHA256()
    chunk.withUnsafeBytes { bytes in for _ in 0..<mebibytes { hasher.update(bytes) } }
    return hasher.finalize()
}

func handWrittenSHA1() -> [UInt8] {
    var hasher = HandWrittenSHA.SHA1()
    chunk.withUnsafeBytes { bytes in for _ in 0..<mebibytes { hasher.update(bytes) } }
    return hasher.finalize()
}

func swiftCryptoSmall<H: HashFunction>(_ type: H.Type) -> [UInt8] {
    var last: [UInt8] = []
    for _ in 0..<smallCount { last = Array(H.hash(data: small)) }
    return last
}

let password = Array("password".utf8), salt = Array("salt".utf8)

func openSSLPBKDF2() -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    _ = password.withUnsafeBufferPointer { p in
        PKCS5_PBKDF2_HMAC(UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(p.count),
                          salt, Int32(salt.count), Int32(pbkdf2Rounds), EVP_sha256(), 32, &out)
    }
    return out
}

func swiftCryptoPBKDF2() -> [UInt8] {
    let key = try! KDF.Insecure.PBKDF2.deriveKey(from: password, salt: salt, using: .sha256, outputByteCount: 32,
                                                 rounds: pbkdf2Rounds)
    return key.withUnsafeBytes { Array($0) }
}

let works: [(String, [(String, () -> [UInt8])])] = [
    ("SHA-256, \(mebibytes) MiB in 1 MiB updates", [("libcrypto (OpenSSL 3)", { openSSLStream(openSSLSHA256) }),
                                                   ("swift-crypto 3.12.3", { swiftCryptoStream(Crypto.SHA256.self) }),
                                                   ("hand-written (before)", handWrittenSHA256)]),
    ("SHA-1, \(mebibytes) MiB in 1 MiB updates", [("libcrypto (OpenSSL 3)", { openSSLStream(openSSLSHA1) }),
                                                 ("swift-crypto 3.12.3", { swiftCryptoStream(Insecure.SHA1.self) }),
                                                 ("hand-written (before)", handWrittenSHA1)]),
    ("SHA-256 of 1,000,000 200-byte messages", [("libcrypto (OpenSSL 3)", { openSSLSmall(openSSLSHA256) }),
                                                ("swift-crypto 3.12.3", { swiftCryptoSmall(Crypto.SHA256.self) })]),
    ("SHA-1 of 1,000,000 200-byte messages", [("libcrypto (OpenSSL 3)", { openSSLSmall(openSSLSHA1) }),
                                              ("swift-crypto 3.12.3", { swiftCryptoSmall(Insecure.SHA1.self) })]),
    ("PBKDF2-HMAC-SHA256, 600,000 iterations", [("libcrypto (OpenSSL 3)", openSSLPBKDF2),
                                                ("swift-crypto 3.12.3", swiftCryptoPBKDF2)]),
]

print("| work | implementation | wall s (median of \(rounds)) | CPU s | digest prefix |")
print("|---|---|---|---|---|")
for (work, implementations) in works {
    var results = implementations.map { _ in [(wall: Double, cpu: Double, digest: [UInt8])]() }
    for _ in 0..<rounds {  // interleaved: each round runs every implementation once
        for (index, implementation) in implementations.enumerated() { results[index].append(measure(implementation.1)) }
    }
    let digests = Set(results.map { $0[0].digest })
    precondition(digests.count == 1, "\(work): the implementations disagree")
    for (index, implementation) in implementations.enumerated() {
        let sorted = results[index].sorted { $0.wall < $1.wall }
        let median = sorted[sorted.count / 2]
        let prefix = median.digest.prefix(4).map { String(format: "%02x", $0) }.joined()
        print("| \(work) | \(implementation.0) | \(String(format: "%.3f", median.wall)) | \(String(format: "%.3f", median.cpu)) | \(prefix)… |")
    }
}
