import Foundation
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

struct HashCacheTests {
    /// Writes new bytes of the same length into a file in place and puts its mtime back, which
    /// is the one change a (size, mtime, inode) cache cannot see: it shows whether the cache was used.
    private func overwriteKeepingStat(_ path: String, with text: String) throws {
        var info = stat()
        #expect(stat(path, &info) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
        var times = [info.st_atim, info.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    @Test func digestMatchesTheFileAndIsCached() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        try tmp.write("lake/data/a.txt", "first")
        let file = try lake.resolve("data/a.txt")
        let cache = HashCache(path: tmp.file("cache"))
        let first = try cache.digest(of: file)
        #expect(first.sha256 == SHA256.hex(of: "first"))
        #expect(first.size == 5)
        try overwriteKeepingStat(file.absolute, with: "FIRST")
        #expect(try cache.digest(of: file).sha256 == first.sha256, "unchanged size, mtime and inode: from the cache")
        // A real change moves the size or mtime, and the digest is computed again.
        try tmp.write("lake/data/a.txt", "second version")
        #expect(try cache.digest(of: file).sha256 == SHA256.hex(of: "second version"))
    }

    @Test func savedCacheIsUsedByTheNextInstance() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        try tmp.write("lake/data/a b.txt", "content")
        let file = try lake.resolve("data/a b.txt")
        let cache = HashCache(path: tmp.file("state/cache"))
        let digest = try cache.digest(of: file)
        try cache.save(lake: lake)
        try overwriteKeepingStat(file.absolute, with: "CONTENT")
        #expect(try HashCache(path: tmp.file("state/cache")).digest(of: file).sha256 == digest.sha256)
    }

    /// What a no-op rerun relies on: a cache loaded from the saved file answers every unchanged file from its
    /// (size, mtime, inode) and reads none of them, counted; a file changed since is read again, and only that one.
    @Test func aReloadedCacheReadsNoUnchangedFile() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        var files: [LakePath] = []
        for index in 0..<50 {
            try tmp.write("lake/in/part \(index).csv", "id\n\(index)\n")
            files.append(try lake.resolve("in/part \(index).csv"))
        }
        let first = HashCache(path: tmp.file("state/cache"))
        let digests = try files.map { try first.digest(of: $0).sha256 }
        #expect(first.statistics.fromCache == 0 && first.statistics.read == 50)
        try first.save(lake: lake)

        let second = HashCache(path: tmp.file("state/cache"))
        #expect(try files.map { try second.digest(of: $0).sha256 } == digests)
        #expect(second.statistics.fromCache == 50 && second.statistics.read == 0)
        try tmp.write("lake/in/part 7.csv", "id\n70\n")
        #expect(try second.digest(of: files[7]).sha256 == SHA256.hex(of: "id\n70\n"))
        #expect(second.statistics.fromCache == 50 && second.statistics.read == 1)
    }

    @Test func saveDropsFilesThatAreGone() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        try tmp.write("lake/keep.txt", "k")
        try tmp.write("lake/gone-file.txt", "g")
        let cache = HashCache(path: tmp.file("cache"))
        _ = try cache.digest(of: lake.resolve("keep.txt"))
        _ = try cache.digest(of: lake.resolve("gone-file.txt"))
        try FileManager.default.removeItem(atPath: tmp.file("lake/gone-file.txt"))
        try cache.save(lake: lake)
        let saved = try tmp.readText("cache")
        #expect(saved.contains("keep.txt"))
        #expect(!saved.contains("gone-file.txt"))
    }

    @Test func unreadableCacheStartsEmpty() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("cache", "{{{ not a cache")
        try tmp.write("lake/a.txt", "a")
        let lake = Lake(root: tmp.file("lake"))
        #expect(try HashCache(path: tmp.file("cache")).digest(of: lake.resolve("a.txt")).sha256 == SHA256.hex(of: "a"))
    }

    @Test func missingFileIsNotFound() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        #expect(throws: LakeError.self) { _ = try HashCache(path: tmp.file("cache")).digest(of: lake.resolve("nope.txt")) }
    }
}
