import Foundation
import Lake

/// A fresh folder per test, `<Target>-<test>-XXXXXX` under the system's temporary folder (unique per test and
/// per run, so concurrent runs never share one), removed when the value goes away.
///
/// Hold it for the whole test (a stored property of the test's fixture, or `withTemporaryDirectory { … }`):
/// `try TemporaryDirectory().file("x")` drops the folder at once, and whatever then writes `x` recreates it
/// where nothing removes it.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The folder, symlinks resolved (so it compares equal to the paths a lake reports).
    public let path: String

    public init(_ function: String = #function, fileID: String = #fileID) throws {
        let target = fileID.prefix { $0 != "/" }
        let name = function.filter { $0.isLetter || $0.isNumber }.prefix(40)
        let template = NSTemporaryDirectory() + "/\(target)-\(name)-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        let madePath = String(cString: made)
        if let resolved = realpath(madePath, nil) {
            path = String(cString: resolved)
            free(resolved)
        } else {
            path = madePath
        }
    }

    deinit { remove() }

    /// Removes the folder and everything in it now.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// The absolute path of `relative` inside the folder.
    public func file(_ relative: String) -> String { path + "/" + relative }

    /// Writes `text` to `relative` (gzip-compressed when `gzip`), creating folders on the way; returns its path.
    @discardableResult
    public func write(_ relative: String, _ text: String, gzip: Bool = false) throws -> String {
        try write(relative, gzip ? try gzipped(Array(text.utf8)) : Array(text.utf8))
    }

    /// Writes `bytes` to `relative`, creating folders on the way; returns its path.
    @discardableResult
    public func write(_ relative: String, _ bytes: [UInt8]) throws -> String {
        let full = file(relative)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        return full
    }

    public func read(_ relative: String) throws -> [UInt8] { try FileInput.readAll(path: file(relative)) }
    public func readText(_ relative: String) throws -> String { String(decoding: try read(relative), as: UTF8.self) }
    public func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: file(relative)) }

    /// Names in a folder, hidden ones included, sorted.
    public func listing(_ relative: String = "") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: relative.isEmpty ? path : file(relative)).sorted()
    }
}

/// Runs `body` with a fresh temporary folder and removes the folder when `body` returns or throws.
public func withTemporaryDirectory<T>(_ function: String = #function, fileID: String = #fileID,
                                      _ body: (TemporaryDirectory) throws -> T) throws -> T {
    let directory = try TemporaryDirectory(function, fileID: fileID)
    defer { directory.remove() }
    return try body(directory)
}

/// Runs `body` with a fresh temporary folder and removes the folder when `body` returns or throws.
public func withTemporaryDirectory<T>(_ function: String = #function, fileID: String = #fileID,
                                      isolation: isolated (any Actor)? = #isolation,
                                      _ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory(function, fileID: fileID)
    defer { directory.remove() }
    return try await body(directory)
}
