import Foundation
import Testing

/// libcurl and libpq (and their dependency trees: TLS, Kerberos, LDAP, SSH…) are opened on first use, not
/// at start: a command that neither fetches nor talks to PostgreSQL does not load them. The dynamic
/// loader says what it loads, and why, under `LD_DEBUG=files`.
@Suite struct LazyLibraryTests {
    /// The loader's lines naming `soname`, from a run of `arguments` under `LD_DEBUG=files`.
    static func loads(_ arguments: [String], in project: Project) throws -> (Project.Result, [String: [String]]) {
        let result = try project.run(arguments, environment: ["LD_DEBUG": "files"])
        var lines: [String: [String]] = [:]
        for soname in ["libc.so.6", "libcurl.so.4", "libpq.so.5"] {
            lines[soname] = result.stderr.split(separator: "\n").map(String.init)
                .filter { $0.contains("file=\(soname) ") }
        }
        return (result, lines)
    }

    @Test func aCommandThatDoesNotFetchLoadsNeitherLibcurlNorLibpq() throws {
        let project = try Project()
        let (result, lines) = try Self.loads(["stages"], in: project)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(lines["libc.so.6"]?.isEmpty == false, "LD_DEBUG=files printed nothing: \(result.stderr.prefix(500))")
        #expect(lines["libcurl.so.4"] == [], "\(lines)")
        #expect(lines["libpq.so.5"] == [], "\(lines)")
    }

    @Test func libcurlIsLoadedWhenFirstUsed() throws {
        let project = try Project()
        // `--version` names libcurl's version: the first use, so libcurl is loaded then, with dlopen.
        let (result, lines) = try Self.loads(["--version"], in: project)
        #expect(result.status == 0)
        #expect(result.stdout.contains("libcurl  "), "\(result.stdout)")
        #expect(lines["libcurl.so.4"]?.contains { $0.contains("dynamically loaded by") } == true, "\(lines)")
        #expect(lines["libpq.so.5"] == [], "\(lines)")
    }
}
