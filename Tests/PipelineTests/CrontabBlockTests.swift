import Testing
@testable import Pipeline

@Suite struct CrontabBlockTests {
    let project = "/srv/shop"
    let foreign = "MAILTO=ops@example.com\n# nightly backup\n15 2 * * * /usr/local/bin/backup % weekly\n"

    @Test func installAppendsABlockAndKeepsForeignLines() throws {
        let installed = try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: foreign)
        #expect(installed == foreign + "\n# BEGIN agentshop /srv/shop\n0 3 * * * run a\n# END agentshop /srv/shop\n")
        #expect(CrontabBlock.installedLines(project: project, in: installed) == ["0 3 * * * run a"])
    }

    @Test func installingTwiceGivesTheSameText() throws {
        let once = try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: foreign)
        #expect(try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: once) == once)
    }

    @Test func installReplacesTheBlockInPlace() throws {
        let text = "A=1\n# BEGIN agentshop /srv/shop\nold\n# END agentshop /srv/shop\n* * * * * after\n"
        let updated = try CrontabBlock.installing(["new 1", "new 2"], project: project, into: text)
        #expect(updated == "A=1\n# BEGIN agentshop /srv/shop\nnew 1\nnew 2\n# END agentshop /srv/shop\n* * * * * after\n")
    }

    @Test func removeRestoresTheOriginal() throws {
        let installed = try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: foreign)
        #expect(try CrontabBlock.removing(project: project, from: installed) == foreign)
        #expect(try CrontabBlock.removing(project: project, from: foreign) == foreign)
        let fromEmpty = try CrontabBlock.installing(["x"], project: project, into: "")
        #expect(try CrontabBlock.removing(project: project, from: fromEmpty) == "")
    }

    @Test func otherProjectsBlocksAreLeftAlone() throws {
        let other = try CrontabBlock.installing(["other"], project: "/srv/other", into: foreign)
        let both = try CrontabBlock.installing(["mine"], project: project, into: other)
        #expect(CrontabBlock.installedLines(project: "/srv/other", in: both) == ["other"])
        #expect(try CrontabBlock.removing(project: project, from: both) == other)
        // A prefix of another project's path is another project.
        #expect(CrontabBlock.installedLines(project: "/srv", in: both) == nil)
    }

    @Test func aLastLineWithoutNewlineGetsOne() throws {
        let installed = try CrontabBlock.installing(["x"], project: project, into: "* * * * * a")
        #expect(installed.hasPrefix("* * * * * a\n\n# BEGIN"))
        #expect(installed.hasSuffix("\n"))
    }

    @Test(arguments: [
        "# BEGIN agentshop /srv/shop\nx\n",
        "x\n# END agentshop /srv/shop\n",
        "# END agentshop /srv/shop\n# BEGIN agentshop /srv/shop\n",
        "# BEGIN agentshop /srv/shop\n# END agentshop /srv/shop\n# BEGIN agentshop /srv/shop\n# END agentshop /srv/shop\n",
    ])
    func aBrokenBlockIsAnErrorNotAGuess(text: String) {
        #expect(throws: CrontabBlock.MalformedError.self) { try CrontabBlock.installing(["x"], project: project, into: text) }
        #expect(throws: CrontabBlock.MalformedError.self) { try CrontabBlock.removing(project: project, from: text) }
    }
}
