import Foundation
import Testing
import Lake
import Pipeline
@testable import Stages

// One test at a time: each run fsyncs outputs, state and manifests, and on a 2-core machine the
// cooperative pool has two threads that other suites' time-limited tests need too.
@Suite(.serialized) struct CommandStageTests {
    @Test func successPublishesTheOutputOnlyAtTheEnd() async throws {
        let project = try Project()
        try project.put("raw_data/imports/in.txt", "input text\n")
        // The command fails (status 7) if the final name exists while it runs.
        try project.writePipeline("""
            stages:
              copy:
                command:
                  run: "cat {in} > {out} && test ! -e {lake}/processed_data/out.txt || exit 7"
                  from: raw_data/imports/in.txt
                out: processed_data/out.txt
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(try project.read("processed_data/out.txt") == "input text\n")
        #expect(project.temporaries(in: "processed_data").isEmpty)
        #expect(manifest.stage("copy")?.counts == ["exit_code": 0, "files_in": 1])
    }

    @Test func outputIsReplacedOnlyOnSuccessOfTheNextRun() async throws {
        let project = try Project()
        try project.put("processed_data/out.txt", "old\n")
        try project.writePipeline("""
            stages:
              write:
                command: { run: "test \\"$(cat {lake}/processed_data/out.txt)\\" = old && echo new > {out}" }
                out: processed_data/out.txt
            """)
        #expect(try await project.run().status == .succeeded)
        #expect(try project.read("processed_data/out.txt") == "new\n")
    }

    @Test func environmentAndWorkingDirectory() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              env:
                command:
                  run: 'printf "%s|%s|%s|%s|%s|%s" "$AGENTSHOP_PIPELINE" "$AGENTSHOP_STAGE" "$AGENTSHOP_RUN_ID" "$AGENTSHOP_RUN_DATE" "$GREETING" "$(pwd)" > {out}'
                  env: { GREETING: hello }
                out: processed_data/env.txt
            """)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let fields = try project.read("processed_data/env.txt").split(separator: "|").map(String.init)
        #expect(fields.prefix(5) == ["p", "env", "R1", "2026-01-02", "hello"])
        let cwd = try #require(fields.last)
        #expect(URL(fileURLWithPath: cwd).resolvingSymlinksInPath().path
                == URL(fileURLWithPath: project.projectFolder).resolvingSymlinksInPath().path)
    }

    @Test func nonZeroExitFailsWithStatusAndStderrAndKeepsTheEarlierOutput() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              build:
                command: { run: "echo v1 > {out}" }
                out: processed_data/build.txt
            """)
        #expect(try await project.run().status == .succeeded)
        try project.writePipeline("""
            stages:
              build:
                command: { run: "echo partial > {out}; echo working; echo 'first line' >&2; echo 'something broke' >&2; exit 3" }
                out: processed_data/build.txt
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        let build = try #require(manifest.stage("build"))
        #expect(build.status == .failed)
        #expect(build.error == "command exited with status 3: first line\nsomething broke")
        #expect(manifest.error == "stage 'build' failed: command exited with status 3: first line\nsomething broke")
        #expect(try project.read("processed_data/build.txt") == "v1\n")
        #expect(project.temporaries(in: "processed_data").isEmpty)
        // stdout and stderr captures are removed after the run.
        let stageState = project.lake.stateFolder + "/stages/p/build"
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: stageState)) ?? [])
            .filter { $0.hasSuffix(".stdout") || $0.hasSuffix(".stderr") }
        #expect(leftovers.isEmpty)
    }

    @Test func stderrTailIsBounded() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              noisy:
                command: { run: "i=0; while [ $i -lt 500 ]; do echo \\"noise line $i\\" >&2; i=$((i+1)); done; exit 1" }
                out: processed_data/noisy.txt
            """)
        let manifest = try await project.run()
        let error = try #require(manifest.stage("noisy")?.error)
        #expect(error.hasPrefix("command exited with status 1: "))
        #expect(error.hasSuffix("noise line 499"))
        #expect(!error.contains("noise line 0\n"))
        #expect(error.utf8.count < 2_200)
    }

    @Test func timeoutStopsTheCommand() async throws {
        let project = try Project()
        try project.put("processed_data/slow.txt", "earlier\n")
        try project.writePipeline("""
            stages:
              slow:
                command: { run: "echo started > {out}; sleep 30; echo finished > {out}", timeout: 300ms }
                out: processed_data/slow.txt
            """)
        let began = Date()
        let manifest = try await project.run()
        #expect(Date().timeIntervalSince(began) < 29, "before the command's 30s sleep could end")
        let error = try #require(manifest.stage("slow")?.error)
        #expect(error.hasPrefix("command timed out after"))
        #expect(!error.hasPrefix("command timed out after 0s"), "a 300ms timeout is not reported as 0s: \(error)")
        #expect(try project.read("processed_data/slow.txt") == "earlier\n")
        #expect(project.temporaries(in: "processed_data").isEmpty)
    }

    @Test func killedBySignal() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              doomed:
                command: { run: "echo bye >&2; kill -9 $$$$" }
                out: processed_data/doomed.txt
            """)
        let manifest = try await project.run()
        #expect(manifest.stage("doomed")?.error == "command was killed by signal 9: bye")
    }

    @Test func successWithoutWritingTheOutputFails() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              idle:
                command: { run: "true" }
                out: processed_data/idle.txt
            """)
        let (_, warnings) = try project.load()
        #expect(warnings.map { String($0.description.dropFirst(project.pipelineFile.count + 1)) }
                == ["3:21: warning: stages.idle.command.run: the command does not mention {out}; it must write the stage's outputs itself at their temporary names"])
        let manifest = try await project.run()
        #expect(manifest.stage("idle")?.error == "command succeeded but did not write {out} for processed_data/idle.txt")
        #expect(!project.exists("processed_data/idle.txt"))
    }

    @Test func depsChangeTheFingerprint() async throws {
        let project = try Project()
        try project.writeProjectFile("scripts/make.sh", "echo version one\n")
        try project.writePipeline("""
            stages:
              made:
                command: { run: "sh scripts/make.sh > {out}", deps: [scripts/make.sh] }
                out: processed_data/made.txt
            """)
        let first = try await project.run()
        #expect(first.stage("made")?.status == .ran)
        #expect(try project.read("processed_data/made.txt") == "version one\n")
        let second = try await project.run()
        #expect(second.stage("made")?.status == .skipped)
        try project.writeProjectFile("scripts/make.sh", "echo version two\n")
        let third = try await project.run()
        #expect(third.stage("made")?.status == .ran)
        #expect(third.stage("made")?.reason == "code or settings it depends on changed")
        #expect(try project.read("processed_data/made.txt") == "version two\n")
    }

    @Test func missingDepFailsTheStage() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              made:
                command: { run: "echo x > {out}", deps: [scripts/missing.sh] }
                out: processed_data/made.txt
            """)
        let manifest = try await project.run()
        let made = try #require(manifest.stage("made"))
        #expect(made.status == .failed)
        #expect(made.error?.hasPrefix("dependency scripts/missing.sh not found (looked in ") == true)
    }

    @Test func changedInputRerunsTheCommand() async throws {
        let project = try Project()
        try project.put("raw_data/imports/in.txt", "one\n")
        try project.writePipeline("""
            stages:
              count:
                command: { run: "wc -l < {in} | tr -d ' ' > {out}", from: "raw_data/imports/*.txt" }
                out: processed_data/count.txt
            """)
        #expect(try await project.run().stage("count")?.status == .ran)
        #expect(try await project.run().stage("count")?.status == .skipped)
        try project.put("raw_data/imports/in.txt", "one\ntwo\n")
        let manifest = try await project.run()
        #expect(manifest.stage("count")?.reason == "input changed: raw_data/imports/in.txt")
        #expect(try project.read("processed_data/count.txt") == "2\n")
    }

    @Test func pathsWithSpacesAndQuotesAreQuoted() async throws {
        let project = try Project()
        try project.put("raw_data/imports/first file.txt", "1\n")
        try project.put("raw_data/imports/it's.txt", "2\n")
        try project.writePipeline("""
            stages:
              joined:
                command: { run: "cat {in} > {out}", from: "raw_data/imports/*.txt" }
                out: "processed_data/it's here $HOME.txt"
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(try project.read("processed_data/it's here $HOME.txt") == "1\n2\n")
    }

    @Test(arguments: [
        ("plain/path-1.csv", "plain/path-1.csv"),
        ("", "''"),
        ("a b", "'a b'"),
        ("it's", "'it'\\''s'"),
        ("$HOME", "'$HOME'"),
        ("a;rm -rf x", "'a;rm -rf x'"),
        ("ünï", "ünï"),
    ])
    func shellQuoting(text: String, quoted: String) {
        #expect(shellQuote(text) == quoted)
    }

    @Test func workingDirectoryFromCwd() async throws {
        let project = try Project()
        try project.writeProjectFile("scripts/data/input.txt", "from scripts\n")
        try project.writePipeline("""
            stages:
              here:
                command: { run: "cat data/input.txt > {out}", cwd: scripts }
                out: processed_data/here.txt
              missing:
                command: { run: "echo x > {out}", cwd: no-such-folder }
                out: processed_data/missing.txt
            """)
        let manifest = try await project.run()
        #expect(try project.read("processed_data/here.txt") == "from scripts\n")
        let missing = try #require(manifest.stage("missing"))
        #expect(missing.status == .failed)
        #expect(missing.error?.hasPrefix("command exited with status 126") == true, "\(missing.error ?? "")")
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    private func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    @Test func cancellingTheRunStopsTheCommandAndWhatItStarted() async throws {
        let project = try Project()
        try project.put("processed_data/long.txt", "earlier\n")
        try project.writePipeline("""
            stages:
              long:
                command: { run: "echo partial > {out}; sleep 30 & echo $! > {lake}/grandchild.pid; wait" }
                out: processed_data/long.txt
            """)
        let task = Task { try await project.run() }
        var grandchild: pid_t?
        for _ in 0..<1000 {
            if let text = try? project.read("grandchild.pid"), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                grandchild = pid
                break
            }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        let pid = try #require(grandchild)
        defer { kill(pid, SIGKILL) }
        #expect(isAlive(pid))
        let began = Date()
        task.cancel()
        let manifest = try await task.value
        #expect(Date().timeIntervalSince(began) < 29, "before the command's 30s sleep could end")
        #expect(manifest.status == .interrupted)
        #expect(manifest.stage("long")?.error == "interrupted")
        var gone = false
        for _ in 0..<200 where !gone {
            gone = !isAlive(pid)
            if !gone { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        #expect(gone, "the command's own children are stopped with it")
        #expect(try project.read("processed_data/long.txt") == "earlier\n")
        #expect(project.temporaries(in: "processed_data").isEmpty)
    }

    @Test func everyOutputIsPublished() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              pair:
                command:
                  run: 'n=0; for f in {out}; do n=$((n+1)); echo "file $n" > "$f"; done'
                out: [processed_data/first.txt, processed_data/second.txt]
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(try project.read("processed_data/first.txt") == "file 1\n")
        #expect(try project.read("processed_data/second.txt") == "file 2\n")
        #expect(manifest.stage("pair")?.outputs.count == 2)
    }

    @Test func configurationProblems() throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              a:
                command: { rn: "echo", timeout: forever }
                out: processed_data/a.txt
            """)
        let problems = try project.problems()
        #expect(problems == [
            "3:14: stages.a.command: missing required key 'run'",
            "3:16: stages.a.command.rn: unknown key 'rn' (did you mean 'run'?)",
            "3:37: stages.a.command.timeout: expected a duration like 30s, 15m, 24h or 7d, found 'forever'",
        ])
    }
}
