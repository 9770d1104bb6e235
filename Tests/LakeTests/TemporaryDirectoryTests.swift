import Foundation
import Testing
import TestSupport

/// The shared test folder (Tests/TestSupport): unique per test and per run, and gone after the test.
struct TemporaryDirectoryTests {
    @Test func eachFolderIsNewAndNamedAfterItsTargetAndTest() throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        #expect(first.path != second.path)
        // The target, then the test's name cut at 40 characters.
        #expect((first.path as NSString).lastPathComponent.hasPrefix("LakeTests-eachFolderIsNewAndNamedAfterItsTargetAnd-"))
        #expect(try first.listing().isEmpty)
    }

    @Test func theFolderGoesWithTheValue() throws {
        var folder: TemporaryDirectory? = try TemporaryDirectory()
        let path = try #require(folder).path
        try folder?.write("a/b.txt", "x")
        #expect(FileManager.default.fileExists(atPath: path + "/a/b.txt"))
        folder = nil
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func theScopedFolderIsRemovedWhenTheBodyReturnsOrThrows() async throws {
        let kept = try withTemporaryDirectory { folder in
            try folder.write("f", "x")
            return folder.path
        }
        #expect(!FileManager.default.fileExists(atPath: kept))

        struct Broke: Error {}
        var thrownFrom = ""
        await #expect(throws: Broke.self) {
            try await withTemporaryDirectory { folder in
                thrownFrom = folder.path
                try folder.write("f", "x")
                throw Broke()
            }
        }
        #expect(!thrownFrom.isEmpty && !FileManager.default.fileExists(atPath: thrownFrom))
    }
}
