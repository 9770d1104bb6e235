import Foundation
import Testing
import TestSupport
@testable import Lake

struct LakeLayoutTests {
    @Test func createMakesEveryFolderWithAReadme() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        #expect(!lake.exists)
        let created = try LakeLayout.create(at: lake)
        #expect(created.first == ".")
        #expect(lake.exists)
        for folder in LakeLayout.folders {
            #expect(created.contains(folder.path + "/"))
            let readme = try tmp.readText("lake/" + folder.path + "/README.md")
            #expect(readme.hasPrefix("# \(folder.path.split(separator: "/").last!)\n"))
            #expect(readme.contains(folder.purpose))
        }
        #expect(FileManager.default.fileExists(atPath: lake.stateFolder))
    }

    @Test func parentsComeBeforeChildren() {
        var seen = Set<String>()
        for folder in LakeLayout.folders {
            let parent = (folder.path as NSString).deletingLastPathComponent
            #expect(parent.isEmpty || seen.contains(parent), "\(folder.path) before its parent")
            seen.insert(folder.path)
        }
    }

    @Test func secondCreateLeavesExistingFilesAlone() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        try LakeLayout.create(at: lake)
        try tmp.write("raw_data/README.md", "edited by hand\n")
        try FileManager.default.removeItem(atPath: tmp.file("store/README.md"))
        let created = try LakeLayout.create(at: lake)
        #expect(created == ["store/README.md"])
        #expect(try tmp.readText("raw_data/README.md") == "edited by hand\n")
    }
}
