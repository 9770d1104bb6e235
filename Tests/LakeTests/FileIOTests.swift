import Foundation
import Testing
import TestSupport
@testable import Lake

struct FileInputTests {
    @Test func readAllReadsEveryByte() throws {
        let tmp = try TemporaryDirectory()
        let data = pseudoRandomBytes(200_001)
        try tmp.write("f.bin", data)
        #expect(try FileInput.readAll(path: tmp.file("f.bin")) == data)
        let input = try FileInput(path: tmp.file("f.bin"))
        #expect(input.path == tmp.file("f.bin"))
        #expect(try readAll(input, chunk: 4093) == data)
    }

    @Test func missingFileIsNotFound() throws {
        let tmp = try TemporaryDirectory()
        let error = expectLakeError(.notFound) { _ = try FileInput(path: tmp.file("nope")) }
        #expect(error?.path == tmp.file("nope"))
    }

    @Test func readingAFolderIsAnIOErrorWithCause() throws {
        let tmp = try TemporaryDirectory()
        let error = expectLakeError(LakeError(.io, "")) { _ = try FileInput.readAll(path: tmp.path) }
        #expect(error?.cause != nil)
        #expect(error?.detailedDescription.contains("[at Lake/") == true)
    }
}

struct AtomicFileTests {
    private func temporaries(in tmp: TemporaryDirectory) throws -> [String] {
        try tmp.listing().filter { $0.contains(AtomicFile.temporaryMarker) }
    }

    @Test func nothingUnderTheFinalNameBeforeCommit() throws {
        let tmp = try TemporaryDirectory()
        let file = try AtomicFile(path: tmp.file("out.txt"))
        try file.output.write("hello ")
        try file.output.write(Array(repeating: UInt8(ascii: "x"), count: 300_000))  // more than the buffer
        #expect(!tmp.exists("out.txt"))
        #expect(FileManager.default.fileExists(atPath: file.temporaryPath))
        let name = (file.temporaryPath as NSString).lastPathComponent
        #expect(name.hasPrefix(".out.txt\(AtomicFile.temporaryMarker)\(getpid())-"))
        #expect((file.temporaryPath as NSString).deletingLastPathComponent == tmp.path)
        #expect(file.output.bytesWritten == 300_006)
        try file.commit()
        let text = try tmp.readText("out.txt")
        #expect(text.count == 300_006 && text.hasPrefix("hello x"))
        #expect(try temporaries(in: tmp).isEmpty)
    }

    @Test func oldContentStaysUntilCommit() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("out.txt", "old")
        let file = try AtomicFile(path: tmp.file("out.txt"))
        try file.output.write("new")
        #expect(try tmp.readText("out.txt") == "old")
        try file.commit()
        #expect(try tmp.readText("out.txt") == "new")
    }

    @Test func abandonKeepsOldContent() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("out.txt", "old")
        let file = try AtomicFile(path: tmp.file("out.txt"))
        try file.output.write("new")
        file.abandon()
        #expect(try tmp.readText("out.txt") == "old")
        #expect(try temporaries(in: tmp).isEmpty)
    }

    @Test func droppedWithoutCommitKeepsOldContent() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("out.txt", "old")
        var temporary = ""
        do {
            let file = try AtomicFile(path: tmp.file("out.txt"))
            try file.output.write("new, never committed")
            try file.output.flush()
            temporary = file.temporaryPath
            #expect(FileManager.default.fileExists(atPath: temporary))
        }
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(try tmp.readText("out.txt") == "old")
        #expect(try tmp.listing() == ["out.txt"])
    }

    @Test func permissionsAreApplied() throws {
        let tmp = try TemporaryDirectory()
        let file = try AtomicFile(path: tmp.file("private.txt"), permissions: 0o600)
        try file.output.write("secret")
        try file.commit()
        let attributes = try FileManager.default.attributesOfItem(atPath: tmp.file("private.txt"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func createsMissingFolders() throws {
        let tmp = try TemporaryDirectory()
        try AtomicFile.write("deep", to: tmp.file("a/b/c/out.txt"))
        #expect(try tmp.readText("a/b/c/out.txt") == "deep")
    }

    @Test func staticWriteReplaces() throws {
        let tmp = try TemporaryDirectory()
        try AtomicFile.write("one", to: tmp.file("f"))
        try AtomicFile.write(Array("two".utf8), to: tmp.file("f"))
        #expect(try tmp.readText("f") == "two")
        #expect(try tmp.listing() == ["f"])
    }

    @Test func twoWritersGetDistinctTemporaries() throws {
        let tmp = try TemporaryDirectory()
        let a = try AtomicFile(path: tmp.file("f"))
        let b = try AtomicFile(path: tmp.file("f"))
        #expect(a.temporaryPath != b.temporaryPath)
        try a.output.write("a")
        try b.output.write("b")
        try a.commit()
        try b.commit()
        #expect(try tmp.readText("f") == "b", "last commit wins, whole")
    }

    @Test func publishMovesACompleteFileIntoPlace() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("out.txt", "old")
        let temporary = AtomicFile.temporaryPath(for: tmp.file("out.txt"))
        try "written by a command".write(toFile: temporary, atomically: false, encoding: .utf8)
        try AtomicFile.publish(temporaryPath: temporary, to: tmp.file("out.txt"))
        #expect(try tmp.readText("out.txt") == "written by a command")
        #expect(try tmp.listing() == ["out.txt"])
        expectLakeError(LakeError(.io, "")) { try AtomicFile.publish(temporaryPath: temporary, to: tmp.file("out.txt")) }
    }

    /// The pid of a process that has exited and been reaped.
    private func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func removeStaleTemporariesRemovesOnlyThoseOfDeadProcesses() throws {
        let tmp = try TemporaryDirectory()
        let dead = try deadPID()
        let live = Process()
        live.executableURL = URL(fileURLWithPath: "/usr/bin/sleep")
        live.arguments = ["30"]
        try live.run()
        // SIGKILL: the test runner's blocked signals are inherited, so SIGTERM may wait.
        defer { kill(live.processIdentifier, SIGKILL); live.waitUntilExit() }
        let marker = AtomicFile.temporaryMarker
        let stale = [".a.jsonl\(marker)4194000-1", ".b.csv\(marker)\(dead)-2"]
        let kept = [".c.jsonl\(marker)\(getpid())-3", ".d.jsonl\(marker)\(live.processIdentifier)-4",
                    ".e\(marker)notapid-5", "plain.jsonl", ".hidden"]
        for name in stale + kept { try tmp.write(name, "x") }
        let removed = AtomicFile.removeStaleTemporaries(in: tmp.path)
        #expect(removed.sorted() == stale.sorted())
        #expect(try tmp.listing() == kept.sorted())
    }

    @Test func removeStaleTemporariesInMissingFolderIsQuiet() throws {
        let tmp = try TemporaryDirectory()
        #expect(AtomicFile.removeStaleTemporaries(in: tmp.file("missing")).isEmpty)
    }

    @Test func cannotCreateInAFolderThatIsAFile() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("file", "x")
        #expect(throws: (any Error).self) { _ = try AtomicFile(path: tmp.file("file/out.txt")) }
    }
}

/// One rule for every writer: a lake folder that is a symbolic link out of the lake is refused by all
/// of them (atomic files, append-only packs, published command outputs), whatever wrote the path.
struct LakeWriterConfinementTests {
    private func lakeWithEscapingLogs() throws -> (TemporaryDirectory, TemporaryDirectory, Lake) {
        let tmp = try TemporaryDirectory(), outside = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: tmp.file("lake/raw_data"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("lake/raw_data/logs"), withDestinationPath: outside.path)
        return (tmp, outside, Lake(root: tmp.file("lake")))
    }

    @Test func everyWriterRefusesAFolderLeadingOut() throws {
        let (tmp, outside, lake) = try lakeWithEscapingLogs()
        defer { withExtendedLifetime(tmp) {} }
        let target = lake.root + "/raw_data/logs/p/run.manifest.json"
        _ = expectLakeError(.pathOutsideLake) { try AtomicFile.write("{}", to: target) }
        _ = expectLakeError(.pathOutsideLake) { _ = try AtomicFile(path: lake.root + "/raw_data/logs/cache.json") }
        _ = expectLakeError(.pathOutsideLake) { _ = try AppendOnlyFile(path: lake.root + "/raw_data/logs/pack", opening: .new) }
        let temporary = NSTemporaryDirectory() + "/confine-\(UUID().uuidString)"
        try "x".write(toFile: temporary, atomically: false, encoding: .utf8)
        defer { unlink(temporary) }
        _ = expectLakeError(.pathOutsideLake) { try AtomicFile.publish(temporaryPath: temporary, to: lake.root + "/raw_data/logs/out.txt") }
        let error = expectLakeError(.pathOutsideLake) { try LakeConfinement.checkWrite(to: target) }
        #expect(error?.reason.contains("leads outside the lake") == true)
        #expect((try FileManager.default.contentsOfDirectory(atPath: outside.path)).isEmpty, "nothing was written outside")
    }

    @Test func aLakeRootThatIsALinkAndLinksInsideAreFine() throws {
        let tmp = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: tmp.file("real/raw_data/imports"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("link"), withDestinationPath: tmp.file("real"))
        try FileManager.default.createSymbolicLink(atPath: tmp.file("real/uploads"), withDestinationPath: tmp.file("real/raw_data/imports"))
        let lake = Lake(root: tmp.file("link"))
        try AtomicFile.write("ok", to: lake.root + "/raw_data/logs/p/a.log")
        try AtomicFile.write("ok", to: lake.root + "/uploads/b.csv")
        #expect(FileManager.default.fileExists(atPath: tmp.file("real/raw_data/imports/b.csv")))
        // Files in no lake are not this rule's business.
        let elsewhere = try TemporaryDirectory()
        try AtomicFile.write("ok", to: elsewhere.file("export.csv"))
    }
}
