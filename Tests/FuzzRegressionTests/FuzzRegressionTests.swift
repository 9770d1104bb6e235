import Foundation
import FuzzTargets
import Testing

/// Replays every kept fuzz input — the seed corpora and each input that once crashed a target —
/// through the same function the fuzzer drives, so that a fixed bug stays fixed.
@Suite struct FuzzRegressionTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("fuzz/corpus").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("fuzz").path
    }()

    /// fuzz/corpus/<target>/* and fuzz/regressions/<target>/*.
    static func inputs(_ target: String) -> [String] {
        ["corpus", "regressions"].flatMap { kind -> [String] in
            let folder = root + "/\(kind)/\(target)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { folder + "/" + $0 }
        }
    }

    @Test(arguments: FuzzTargets.all.keys.sorted()) func keptInputsStillPass(target: String) throws {
        let inputs = Self.inputs(target)
        #expect(!inputs.isEmpty, "no seed corpus for \(target) under \(Self.root)/corpus")
        let body = try #require(FuzzTargets.all[target])
        for path in inputs {
            body(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }
}
