import Foundation
import Testing
import TestSupport
@testable import Lake

struct SHA256Tests {
    /// FIPS 180-4 / NIST example vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hex(of: input) == digest)
    }

    @Test func millionTimesA() {
        var hasher = SHA256()
        hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, checked against sha256sum.
    @Test(arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
        (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
        (128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"),
    ])
    func paddingBoundaries(length: Int, digest: String) {
        #expect(SHA256.hex(of: String(repeating: "a", count: length)) == digest)
    }

    /// Streaming in uneven chunks gives the same digest as one update, whatever the chunk size.
    @Test(arguments: [1, 3, 7, 55, 63, 64, 65, 127, 1000, 4099])
    func streamingInChunks(chunk: Int) {
        let data = pseudoRandomBytes(10_007)
        var whole = SHA256()
        whole.update(data)
        var streamed = SHA256()
        var offset = 0
        while offset < data.count {
            let end = min(offset + chunk, data.count)
            data[offset..<end].withUnsafeBytes { streamed.update($0) }
            offset = end
        }
        #expect(streamed.hexDigest() == whole.hexDigest())
    }

    @Test func streamingMillionAInOddChunks() {
        var hasher = SHA256()
        let sizes = [1, 2, 61, 64, 67, 1023, 9999]
        var remaining = 1_000_000
        var i = 0
        while remaining > 0 {
            let n = min(sizes[i % sizes.count], remaining)
            hasher.update(String(repeating: "a", count: n))
            remaining -= n
            i += 1
        }
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A copy is a value: updating one copy leaves the other as it was (the libcrypto context is copied on write).
    @Test func copiesAreIndependent() {
        var prefix = SHA256()
        prefix.update("ab")
        var first = prefix
        var second = prefix
        first.update("c")
        second.update("d")
        #expect(first.hexDigest() == SHA256.hex(of: "abc"))
        #expect(second.hexDigest() == SHA256.hex(of: "abd"))
        #expect(prefix.hexDigest() == SHA256.hex(of: "ab"))
    }

    @Test func finalizeStartsAgainEmpty() {
        var hasher = SHA256()
        hasher.update("abc")
        _ = hasher.finalize()
        #expect(hasher.hexDigest() == SHA256.hex(of: ""))
    }

    @Test func emptyUpdatesChangeNothing() {
        var hasher = SHA256()
        hasher.update([UInt8]())
        hasher.update("ab")
        hasher.update("")
        hasher.update([UInt8(ascii: "c")])
        #expect(hasher.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func finalizeGivesThirtyTwoBytesAndHexIsLowercase() {
        var hasher = SHA256()
        hasher.update("abc")
        let bytes = hasher.finalize()
        #expect(bytes.count == 32)
        #expect(bytes.first == 0xba && bytes.last == 0xad)
        #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    }

    @Test func multiByteUTF8IsHashedAsBytes() {
        // "é" is two bytes in UTF-8: c3 a9.
        var hasher = SHA256()
        hasher.update([0xC3, 0xA9])
        #expect(SHA256.hex(of: "é") == hasher.hexDigest())
    }

    @Test func fileDigestMatchesInMemoryDigest() throws {
        let tmp = try TemporaryDirectory()
        let data = pseudoRandomBytes(300_000)  // more than FileDigest's 256 KiB chunk
        try tmp.write("data.bin", data)
        var hasher = SHA256()
        hasher.update(data)
        #expect(try FileDigest.sha256(path: tmp.file("data.bin")) == hasher.hexDigest())
    }

    @Test func fileDigestOfMissingFileIsNotFound() throws {
        let tmp = try TemporaryDirectory()
        expectLakeError(.notFound) { _ = try FileDigest.sha256(path: tmp.file("missing")) }
    }
}
