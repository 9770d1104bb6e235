import Foundation
import Lake
import TestSupport

/// A fresh temporary folder per test, removed when the value goes.
final class TemporaryFolder {
    let path: String

    init(_ function: String = #function) throws {
        let name = function.filter { $0.isLetter || $0.isNumber }.prefix(40)
        var template = Array((NSTemporaryDirectory() + "/QueryTests-\(name)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = URL(fileURLWithPath: String(cString: made)).resolvingSymlinksInPath().path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` inside the folder (gzip-compressed when `gzip`), and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String, gzip: Bool = false) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let bytes = gzip ? try gzipped(Array(text.utf8)) : Array(text.utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
}
