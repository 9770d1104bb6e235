import ArgumentParser
import Foundation
import HTML
import Lake
import Pipeline
import Stages
import Transport

struct ExtractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Show what a selector or a parse stage's fields yield on one page, to try selectors before a run.",
        discussion: """
        FILE is an HTML file or a WARC file (.warc.gz); in a WARC, --url picks one page, else every page is shown.
        An http(s) URL is fetched once (nothing is stored).
        Examples:
          agentshop extract page.html --css '.price::text'
          agentshop extract https://shop.example/p/1 --jsonld
          agentshop extract pages.warc.gz --url https://shop.example/p/1 --xpath '//h1/text()'
          agentshop extract page.html --jsonld
          agentshop extract page.html --fields pipelines/shop.yaml#products
        Exit codes: 0 something matched, 1 nothing matched, 2 bad selector, file or pipeline.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("An HTML or WARC file, or an http(s) URL.", valueName: "file-or-url"))
    var file: String

    @Option(help: ArgumentHelp("A CSS selector (parsel-style ::text and ::attr(name) allowed).", valueName: "selector"))
    var css: String?

    @Option(help: ArgumentHelp("An XPath 1.0 expression.", valueName: "expression"))
    var xpath: String?

    @Flag(help: "Print the page's JSON-LD items, one per line.")
    var jsonld = false

    @Flag(help: "Print <meta> (OpenGraph, description…), title, canonical and microdata itemprop values.")
    var meta = false

    @Option(help: ArgumentHelp("A parse stage's fields: pipeline.yaml#stage.", valueName: "pipeline#stage"))
    var fields: String?

    @Option(help: ArgumentHelp("The page URL: picks a page in a WARC; the base for relative links in an HTML file.", valueName: "url"))
    var url: String?

    func validate() throws {
        let chosen = [css != nil, xpath != nil, jsonld, meta, fields != nil].filter { $0 }.count
        guard chosen == 1 else { throw ValidationError("give exactly one of --css, --xpath, --jsonld, --meta, --fields") }
    }

    func run() async throws {
        let query: ExtractPreview.Query
        do {
            if let css { _ = try CSSSelector(css); query = .css(css) }
            else if let xpath { _ = try XPathExpression(xpath); query = .xpath(xpath) }
            else if jsonld { query = .jsonLD }
            else if meta { query = .meta }
            else { query = try fieldQuery(fields!) }
        } catch let error as HTMLError {
            Console.error(error.description)
            throw ExitStatus.invalidInput
        }
        let pages: [FetchedPage]
        do {
            pages = isURL ? [try await fetch(file)] : try ExtractPreview.pages(file: file, url: url)
        } catch {
            Console.error("\(error)")
            throw ExitStatus.invalidInput
        }
        if pages.isEmpty {
            Console.error(url.map { "\(file): no HTML page with URL \($0)" } ?? "\(file): no HTML page")
            throw ExitStatus.invalidInput
        }
        var matched = false
        for page in pages {
            let (lines, problems) = try ExtractPreview.run(query, on: page)
            if pages.count > 1 && !global.json { Console.out("# \(page.url)") }
            if global.json {
                Console.out(JSONValue.object(JSONObject([
                    ("url", .string(page.url)),
                    ("values", .array(lines.map { .string($0) })),
                    ("problems", .array(problems.map { .string($0) })),
                ])).serialized())
            } else {
                for line in lines { Console.out(line) }
            }
            for problem in problems where !global.quiet { Console.error("\(page.url): \(problem)") }
            matched = matched || !lines.isEmpty
        }
        if !matched { throw ExitStatus.runFailed }
    }

    private var isURL: Bool { file.lowercased().hasPrefix("http://") || file.lowercased().hasPrefix("https://") }

    /// One GET, following redirects; the page keeps its final URL and the server's Content-Type.
    private func fetch(_ address: String) async throws -> FetchedPage {
        let response = try await HTTPClient(maxConnections: 1).send(HTTPRequest(url: address))
        guard (200..<300).contains(response.status) else {
            throw StageError("\(response.url): HTTP status \(response.status)")
        }
        return FetchedPage(url: response.url, fetchedAt: WARCRecord.formatDate(Date()), bytes: response.body,
                           contentType: response.header("Content-Type"), file: address)
    }

    private func fieldQuery(_ reference: String) throws -> ExtractPreview.Query {
        let parts = reference.split(separator: "#", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            Console.error("--fields expects pipeline.yaml#stage, found '\(reference)'")
            throw ExitStatus.invalidInput
        }
        let lake = Lake(root: global.lakePath)
        let spec = try global.loadPipeline(parts[0], lake: lake.exists ? lake : nil)
        guard let stage = spec.stages.first(where: { $0.name == parts[1] }) else {
            Console.error("\(spec.file): no stage named '\(parts[1])' (stages: \(spec.stages.map(\.name).joined(separator: ", ")))")
            throw ExitStatus.invalidInput
        }
        guard let set = ParseStage.fieldSet(of: stage.definition) else {
            Console.error("\(spec.file): stage '\(stage.name)' is a '\(stage.kind)' stage, not a parse stage")
            throw ExitStatus.invalidInput
        }
        return .fields(set.fields, records: set.records)
    }
}
