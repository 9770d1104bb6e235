import Foundation
import Testing

/// libcurl, libpq, libcrypto and libxml2 (and their dependency trees: TLS, Kerberos, LDAP, SSH, ICU, lzma…) are
/// opened on first use, not at start: a command that neither fetches, hashes, parses nor talks to PostgreSQL
/// does not load them. The dynamic loader says what it loads, and why, under `LD_DEBUG=files`.
@Suite struct LazyLibraryTests {
    /// The loader's lines naming a library whose soname starts with each key, from a run of `arguments`
    /// under `LD_DEBUG=files`.
    static func loads(_ arguments: [String], in project: Project) throws -> (Project.Result, [String: [String]]) {
        let result = try project.run(arguments, environment: ["LD_DEBUG": "files"])
        var lines: [String: [String]] = [:]
        for soname in ["libc.so.6", "libcurl.so.4", "libpq.so.5", "libcrypto.so.3", "libxml2.so.2", "libicuuc.so.", "liblzma.so."] {
            lines[soname] = result.stderr.split(separator: "\n").map(String.init)
                .filter { $0.contains("file=\(soname)") }
        }
        return (result, lines)
    }

    @Test(arguments: [["stages"], ["--version"]])
    func aCommandThatDoesNotFetchLoadsNeitherLibcurlNorLibpq(arguments: [String]) throws {
        let project = try Project()
        let (result, lines) = try Self.loads(arguments, in: project)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(lines["libc.so.6"]?.isEmpty == false, "LD_DEBUG=files printed nothing: \(result.stderr.prefix(500))")
        #expect(lines["libcurl.so.4"] == [], "\(lines)")
        #expect(lines["libpq.so.5"] == [], "\(lines)")
        #expect(lines["libcrypto.so.3"] == [], "\(lines)")
        #expect(lines["libxml2.so.2"] == [], "\(lines)")
        #expect(lines["libicuuc.so."] == [], "\(lines)")
        #expect(lines["liblzma.so."] == [], "\(lines)")
    }

    @Test func libcurlIsLoadedWhenFirstUsed() throws {
        let project = try Project()
        // `doctor` names the libcurl running: the first use, so libcurl is loaded then, with dlopen.
        let (result, lines) = try Self.loads(["doctor"], in: project)
        // The TLS library is named by the loaded libcurl only (`--version` gives the built-against version).
        let row = result.stdout.split(separator: "\n").first { $0.contains(" libcurl ") }
        #expect(row?.contains("OpenSSL/") == true, "\(result.stdout)")
        #expect(lines["libcurl.so.4"]?.contains { $0.contains("dynamically loaded by") } == true, "\(lines)")
        #expect(lines["libpq.so.5"] == [], "\(lines)")
    }

    @Test func libxml2IsLoadedWhenFirstUsed() throws {
        let project = try Project()
        // `doctor` names the libxml2 running: the first use, so libxml2 (and the ICU it needs) is loaded then.
        let (result, lines) = try Self.loads(["doctor"], in: project)
        let row = result.stdout.split(separator: "\n").first { $0.contains(" libxml2 ") }
        #expect(row?.contains(" 2.") == true, "\(result.stdout)")
        #expect(lines["libxml2.so.2"]?.contains { $0.contains("dynamically loaded by") } == true, "\(lines)")
        #expect(lines["libicuuc.so."]?.contains { $0.contains("needed by") && $0.contains("libxml2.so.2") } == true, "\(lines)")
    }
}
