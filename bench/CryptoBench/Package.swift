// swift-tools-version:6.0
// bench/crypto_bench.sh: SHA-256, SHA-1, HMAC-SHA256 and PBKDF2 through the system's libcrypto
// (OpenSSL 3, the shim AgentShop uses) against apple/swift-crypto (BoringSSL), release builds,
// to choose the implementation by measurement (issue #18). A package of its own so that the
// product does not carry swift-crypto only to be compared with it.
import PackageDescription

let package = Package(
    name: "CryptoBench",
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // The hand-written SHA-1/SHA-256 AgentShop had before (the "before" rows).
        .target(name: "HandWrittenSHA"),
        .executableTarget(name: "crypto-bench", dependencies: [
            "COpenSSL", "HandWrittenSHA",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
