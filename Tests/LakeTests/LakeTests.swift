import Foundation
import Testing
import TestSupport
@testable import Lake

struct LakePathTests {
    @Test(arguments: [
        ("a.jsonl", "a.jsonl"),
        ("raw_data/imports/x.csv", "raw_data/imports/x.csv"),
        ("./raw_data//imports/./x.csv", "raw_data/imports/x.csv"),
        ("raw_data/imports/", "raw_data/imports"),
        ("dt=2026-01-01/part 1.jsonl.gz", "dt=2026-01-01/part 1.jsonl.gz"),
        ("..hidden-but-not-parent", "..hidden-but-not-parent"),
        ("a/...", "a/..."),
    ])
    func acceptsPathsInside(raw: String, relative: String) throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let path = try lake.resolve(raw)
        #expect(path.relative == relative)
        #expect(path.absolute == tmp.path + "/" + relative)
        #expect(path.description == relative)
    }

    @Test(arguments: ["..", "../x", "a/../b", "a/..", "raw_data/../../etc/passwd", "/etc/passwd", "/", "~/x", "~"])
    func refusesPathsLeadingOut(raw: String) throws {
        let tmp = try TemporaryDirectory()
        expectLakeError(.pathOutsideLake) { _ = try Lake(root: tmp.path).resolve(raw) }
    }

    @Test(arguments: ["", ".", "./", "./.", "a\u{0}b"])
    func refusesInvalidPaths(raw: String) throws {
        let tmp = try TemporaryDirectory()
        expectLakeError(.invalidPath) { _ = try Lake(root: tmp.path).resolve(raw) }
    }

    @Test func symlinkLeadingOutsideIsRefused() throws {
        let tmp = try TemporaryDirectory()
        let outside = try TemporaryDirectory()
        try outside.write("secret.txt", "secret")
        try FileManager.default.createDirectory(atPath: tmp.file("lake/raw"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("lake/raw/escape"), withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("lake/file-link"),
                                                   withDestinationPath: outside.file("secret.txt"))
        let lake = Lake(root: tmp.file("lake"))
        for raw in ["raw/escape", "raw/escape/secret.txt", "raw/escape/new/file.jsonl", "file-link"] {
            let error = expectLakeError(.pathOutsideLake) { _ = try lake.resolve(raw) }
            #expect(error?.reason.contains("symbolic link") == true, "\(raw)")
        }
    }

    @Test func danglingSymlinkLeadingOutsideIsRefused() throws {
        let tmp = try TemporaryDirectory()
        let outside = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: tmp.file("lake"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("lake/later"), withDestinationPath: outside.file("not-yet"))
        let lake = Lake(root: tmp.file("lake"))
        expectLakeError(.pathOutsideLake) { _ = try lake.resolve("later") }
    }

    @Test func symlinkStayingInsideIsAccepted() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("lake/real/data.csv", "a\n1\n")
        try FileManager.default.createSymbolicLink(atPath: tmp.file("lake/alias"), withDestinationPath: tmp.file("lake/real"))
        let path = try Lake(root: tmp.file("lake")).resolve("alias/data.csv")
        #expect(path.relative == "alias/data.csv")
        #expect(path.exists)
    }

    @Test func rootGivenThroughASymlinkIsResolved() throws {
        let tmp = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: tmp.file("real-lake"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("link-lake"), withDestinationPath: tmp.file("real-lake"))
        let lake = Lake(root: tmp.file("link-lake") + "/")
        #expect(lake.root == tmp.file("real-lake"))
        #expect(try lake.resolve("x/y.csv").absolute == tmp.file("real-lake/x/y.csv"))
    }

    @Test func folderFileNameAndExists() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let path = try lake.resolve("a/b/c.jsonl")
        #expect(path.folder == tmp.path + "/a/b")
        #expect(path.fileName == "c.jsonl")
        #expect(!path.exists)
        try tmp.write("a/b/c.jsonl", "{}\n")
        #expect(path.exists)
    }

    @Test func stateFolderAndStorePath() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        #expect(lake.stateFolder == tmp.path + "/.agentshop")
        #expect(lake.storePath == tmp.path + "/store/agentshop.sqlite")
    }
}

struct GlobTests {
    /// A lake holding datasets, hidden files and an AtomicFile leftover.
    private func makeLake(in tmp: TemporaryDirectory) throws -> Lake {
        for file in ["raw/a.csv", "raw/b.csv", "raw/c.jsonl", "raw/.hidden.csv", "raw/.a.csv.agentshop-tmp-123-456",
                     "raw/sub/d.csv", "raw/sub/deeper/e.csv", "raw/sub/.hid/f.csv", "raw/.hid/g.csv", "other/h.csv",
                     "raw/folder.csv/inside.txt"] {
            try tmp.write(file, "x\n")
        }
        return Lake(root: tmp.path)
    }

    @Test(arguments: [
        ("raw/*.csv", ["raw/a.csv", "raw/b.csv"]),
        ("raw/?.csv", ["raw/a.csv", "raw/b.csv"]),
        ("raw/[bc].*", ["raw/b.csv", "raw/c.jsonl"]),
        ("raw/*", ["raw/a.csv", "raw/b.csv", "raw/c.jsonl"]),
        ("raw/**/*.csv", ["raw/a.csv", "raw/b.csv", "raw/sub/d.csv", "raw/sub/deeper/e.csv"]),
        ("**/*.csv", ["other/h.csv", "raw/a.csv", "raw/b.csv", "raw/sub/d.csv", "raw/sub/deeper/e.csv"]),
        ("raw/*/*.csv", ["raw/sub/d.csv"]),
        ("raw/sub/**/e.csv", ["raw/sub/deeper/e.csv"]),
        ("*/*.txt", [String]()),
        ("*/*/*.txt", ["raw/folder.csv/inside.txt"]),
        ("raw/*.parquet", [String]()),
        ("nowhere/*.csv", [String]()),
        ("raw/a.csv", ["raw/a.csv"]),
        ("raw/missing.csv", [String]()),
    ])
    func expands(pattern: String, expected: [String]) throws {
        let tmp = try TemporaryDirectory()
        let lake = try makeLake(in: tmp)
        #expect(try lake.glob(pattern).map(\.relative) == expected)
    }

    @Test func neverMatchesHiddenOrTemporaryFiles() throws {
        let tmp = try TemporaryDirectory()
        let lake = try makeLake(in: tmp)
        let all = try lake.glob("**/*").map(\.relative)
        #expect(!all.isEmpty)
        #expect(!all.contains { $0.split(separator: "/").contains { $0.hasPrefix(".") } })
        #expect(!all.contains { $0.contains(AtomicFile.temporaryMarker) })
    }

    @Test func doubleStarAtTheEndMatchesEverythingBelow() throws {
        let tmp = try TemporaryDirectory()
        let lake = try makeLake(in: tmp)
        let matched = try lake.glob("raw/sub/**").map(\.relative)
        #expect(matched == ["raw/sub/d.csv", "raw/sub/deeper/e.csv"])
    }

    @Test func followsSymlinksThatStayInside() throws {
        let tmp = try TemporaryDirectory()
        let lake = try makeLake(in: tmp)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("linked"), withDestinationPath: tmp.file("raw/sub"))
        try FileManager.default.createSymbolicLink(atPath: tmp.file("raw/alias.csv"), withDestinationPath: tmp.file("raw/a.csv"))
        #expect(try lake.glob("linked/*.csv").map(\.relative) == ["linked/d.csv"])
        #expect(try lake.glob("raw/*.csv").map(\.relative) == ["raw/a.csv", "raw/alias.csv", "raw/b.csv"])
    }

    @Test func refusesSymlinksThatLeadOutside() throws {
        let tmp = try TemporaryDirectory()
        let outside = try TemporaryDirectory()
        try outside.write("secret.csv", "x\n")
        let lake = try makeLake(in: tmp)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("raw/secret.csv"), withDestinationPath: outside.file("secret.csv"))
        expectLakeError(.pathOutsideLake) { _ = try lake.glob("raw/*.csv") }
    }

    @Test(arguments: ["../*.csv", "raw/../../*", "/tmp/*.csv"])
    func patternsLeadingOutAreRefused(pattern: String) throws {
        let tmp = try TemporaryDirectory()
        let lake = try makeLake(in: tmp)
        expectLakeError(.pathOutsideLake) { _ = try lake.glob(pattern) }
    }
}

/// `file:` URLs (fetch seeds, seed lists, links of a saved site) are lake paths like any other: decoded,
/// resolved, then checked.
struct FileURLConfinementTests {
    private func lake(_ tmp: TemporaryDirectory, _ outside: TemporaryDirectory) throws -> Lake {
        try tmp.write("lake/raw_data/imports/site/index.html", "<html></html>")
        try outside.write("secret.txt", "secret")
        try FileManager.default.createSymbolicLink(atPath: tmp.file("lake/raw_data/imports/site/escape"), withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("lake/raw_data/imports/site/link.html"),
                                                   withDestinationPath: outside.file("secret.txt"))
        return Lake(root: tmp.file("lake"))
    }

    @Test func filesInsideTheLakeAreAccepted() throws {
        let tmp = try TemporaryDirectory(), outside = try TemporaryDirectory()
        let lake = try lake(tmp, outside)
        for url in ["file:raw_data/imports/site/index.html", "file:raw_data/imports/site/index%2Ehtml",
                    "file://" + lake.root + "/raw_data/imports/site/index.html", "file:" + lake.root + "/raw_data/imports/site/index.html",
                    "file://localhost" + lake.root + "/raw_data/imports/site/index.html?x#y"] {
            #expect(try lake.file(atURL: url).relative == "raw_data/imports/site/index.html", "\(url)")
        }
    }

    @Test func urlsLeadingOutAreRefused() throws {
        let tmp = try TemporaryDirectory(), outside = try TemporaryDirectory()
        let lake = try lake(tmp, outside)
        for url in ["file:../secret.txt", "file:raw_data/%2e%2e/%2E%2E/%2e%2e/etc/passwd", "file:raw_data/..%2f..%2fetc/passwd",
                    "file:raw_data/imports/site/escape/secret.txt", "file:raw_data/imports/site/link.html",
                    "file:///proc/self/environ", "file:///etc/passwd", "file://" + lake.root + "/../outside.txt",
                    "file://" + outside.path + "/secret.txt", "file://evil.example/etc/passwd"] {
            let error = expectLakeError(.pathOutsideLake) { _ = try lake.file(atURL: url) }
            #expect(error != nil, "\(url)")
        }
    }
}
