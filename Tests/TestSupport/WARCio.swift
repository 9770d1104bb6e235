import Foundation

/// An independent WARC reader: Python's warcio, through bench/check_warc.py (`warcio check` plus
/// every record read back and its digests recomputed). warcio lives in bench/.venv, which
/// `bench/check_warc.py --setup` creates. scripts/test.sh (and so CI) installs it and sets
/// AGENTSHOP_REQUIRE_WARCIO=1: there the tests that use it always run, and fail without it.
public enum WARCio {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    public static let checker = repository + "/bench/check_warc.py"
    public static let required = ProcessInfo.processInfo.environment["AGENTSHOP_REQUIRE_WARCIO"] == "1"
    /// Whether tests that need warcio run (when required they run, and fail without it).
    public static let enabled: Bool = required || (try? check(["--available"]).status) == 0
    public static let skipReason = "warcio is not installed in bench/.venv: run `bench/check_warc.py --setup` to check our WARC files with it"

    /// Runs the checker over `arguments` (files, or a flag): its exit status and everything it printed.
    public static func check(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", checker] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
