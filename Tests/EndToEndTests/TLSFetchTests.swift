import Foundation
import Testing
import TestSupport

/// HTTPS and SMTP with STARTTLS against loopback servers whose certificate a throwaway CA signed, through
/// the built binary: refused by default (verification is on), accepted with the pipeline's `ca_file` or
/// `NOTIFICATION_EMAIL_CA_FILE`.
@Suite(.serialized) struct TLSFetchTests {
    static func pipeline(seed: String, caFile: String?) -> String {
        """
        pipeline: tls
        stages:
          crawl:
            fetch:
              seeds: ["\(seed)"]
              robots: ignore
              timeout: 5s
              retries: 0
              allow_private_addresses: true
        \(caFile.map { "      ca_file: \($0)\n" } ?? "")    out: scraped_data/tls/pages.warc.gz
        """
    }

    static func stageError(_ manifest: [String: Any], _ name: String) -> String {
        let stages = manifest["stages"] as? [[String: Any]] ?? []
        return stages.first { $0["name"] as? String == name }?["error"] as? String ?? ""
    }

    @Test func anHTTPSSiteWithAPrivateCAFailsTheFetchWithoutCAFileAndIsCrawledWithIt() throws {
        let certificates = try TestCertificates()
        let server = try LoopbackTLSServer(.https, certificates: certificates)
        defer { server.stop() }
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("datalake/raw_data/imports/certs/shop-ca.pem", try String(contentsOfFile: certificates.caFile, encoding: .utf8))
        let warc = project.lake + "/scraped_data/tls/pages.warc.gz"

        try project.write("pipelines/tls.yaml", Self.pipeline(seed: server.base + "/", caFile: nil))
        let (refused, refusedManifest) = try project.runPipeline("tls")
        #expect(refused.status != 0, "a page behind an untrusted certificate was fetched")
        #expect(Project.statuses(refusedManifest)["crawl"] == "failed")
        let error = Self.stageError(refusedManifest, "crawl")
        #expect(error.lowercased().contains("certificate"), "not a certificate verification error: \(error)")
        #expect(server.requests("/") == 0)
        if let data = SecretsTests.gunzip(warc) {
            #expect(!String(decoding: data, as: UTF8.self).contains("WARC-Type: response"))
        }

        try project.write("pipelines/tls.yaml", Self.pipeline(seed: server.base + "/", caFile: "raw_data/imports/certs/shop-ca.pem"))
        let (accepted, acceptedManifest) = try project.runPipeline("tls")
        #expect(accepted.status == 0, "\(accepted.stderr) \(Self.stageError(acceptedManifest, "crawl"))")
        #expect(Project.statuses(acceptedManifest)["crawl"] == "ran")
        #expect(server.requests("/") == 1)
        let text = String(decoding: try #require(SecretsTests.gunzip(warc)), as: UTF8.self)
        #expect(text.contains("WARC-Type: response"))
        #expect(text.contains("WARC-Target-URI: \(server.base)/"))
        #expect(text.contains("served over TLS"))
    }

    @Test(arguments: ["/etc/ssl/certs/ca-certificates.crt", "raw_data/../../outside.pem", "~/ca.pem"])
    func aCAFileOutsideTheLakeIsAValidationErrorAtItsPosition(caFile: String) throws {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/tls.yaml", Self.pipeline(seed: "https://127.0.0.1:9/", caFile: "\"\(caFile)\""))
        let result = try project.run(["validate", "pipelines/tls.yaml"])
        #expect(result.status != 0)
        let output = result.stdout + result.stderr
        #expect(output.contains("tls.yaml:10:16") && output.contains("ca_file"), "\(output)")
    }

    @Test func aCAFileThroughASymlinkOutOfTheLakeOrMissingFailsTheRun() throws {
        let certificates = try TestCertificates()
        let project = try Project()
        try project.run(["init", "datalake"])
        try FileManager.default.createDirectory(atPath: project.lake + "/raw_data/imports/certs", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: project.lake + "/raw_data/imports/certs/linked.pem",
                                                   withDestinationPath: certificates.caFile)
        for (file, expected) in [("linked.pem", "outside"), ("missing.pem", "missing.pem")] {
            try project.write("pipelines/tls.yaml", Self.pipeline(seed: "https://127.0.0.1:9/", caFile: "raw_data/imports/certs/" + file))
            let (result, manifest) = try project.runPipeline("tls")
            #expect(result.status != 0)
            let error = Self.stageError(manifest, "crawl") + result.stderr + result.stdout
            #expect(error.contains("ca_file") || error.contains(file), "\(file): \(error)")
            #expect(error.lowercased().contains(expected), "\(file): \(error)")
        }
    }

    /// The failure mail of a run, over STARTTLS to a relay with a private CA.
    @Test func theRunsMailGoesOverSTARTTLSOnlyWithTheCAFile() throws {
        let certificates = try TestCertificates()
        let server = try LoopbackTLSServer(.smtpStartTLS, certificates: certificates)
        defer { server.stop() }
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/mailer.yaml", """
            pipeline: mailer
            notify: { on: [failure], email: [ops@example.com] }
            stages:
              work:
                command: { run: "echo broken >&2; exit 4" }
                out: processed_data/work.txt
            """)
        var environment = ["NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
                           "NOTIFICATION_EMAIL_USE_TLS": "starttls", "NOTIFICATION_EMAIL_USERNAME": "robot@example.com",
                           "NOTIFICATION_EMAIL_PASSWORD": "smtp-password-0815"]
        #expect(try project.run(["run", "mailer"], environment: environment).status == 1)
        let refused = server.sessions(atLeast: 1)
        #expect(refused.count == 1)
        #expect(refused.allSatisfy { !$0.tls && $0.data == nil && $0.user == nil }, "\(refused)")

        environment["NOTIFICATION_EMAIL_CA_FILE"] = certificates.caFile
        #expect(try project.run(["run", "mailer"], environment: environment).status == 1)
        let delivered = try #require(server.sessions(atLeast: 2).last)
        #expect(server.sessions.count == 2)
        #expect(delivered.tls, "the session was not upgraded with STARTTLS")
        #expect(delivered.user == "robot@example.com")
        #expect(delivered.recipients == ["<ops@example.com>"])
        #expect(delivered.data?.contains("mailer") == true)

        environment["NOTIFICATION_EMAIL_CA_FILE"] = certificates.folder + "/missing.pem"
        let misconfigured = try project.run(["run", "mailer", "--json"], environment: environment)
        let manifest = (try? JSONSerialization.jsonObject(with: Data(misconfigured.stdout.utf8))) as? [String: Any] ?? [:]
        let log = (try? project.read("datalake/" + (manifest["log_file"] as? String ?? ""))) ?? ""
        #expect((log + misconfigured.stderr).contains("NOTIFICATION_EMAIL_CA_FILE: no readable file"), "\(log) \(misconfigured.stderr)")
        #expect(server.sessions.count == 2)

        // A CA file with plain SMTP would check nothing: a settings error, not a silent plain-text mail.
        environment["NOTIFICATION_EMAIL_CA_FILE"] = certificates.caFile
        environment["NOTIFICATION_EMAIL_USE_TLS"] = "false"
        let plain = try project.run(["run", "mailer", "--json"], environment: environment)
        let plainManifest = (try? JSONSerialization.jsonObject(with: Data(plain.stdout.utf8))) as? [String: Any] ?? [:]
        let plainLog = (try? project.read("datalake/" + (plainManifest["log_file"] as? String ?? ""))) ?? ""
        #expect((plainLog + plain.stderr).contains("USE_TLS is false"), "\(plainLog) \(plain.stderr)")
        #expect(server.sessions.count == 2)
    }
}
