import ArgumentParser
import Crawl
import Foundation
import Transport

/// `agentshop scoup …`: talk to the Scoup crawler service by hand — is it up, what does it make of a page or a sitemap.
struct ScoupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scoup",
        abstract: "Call the Scoup crawler service: health, scrape URL, sitemap URL, info URL.",
        discussion: """
        Scoup's address is SCOUP_BASE_URL (default http://localhost:3001) and its key SCOUP_API_KEY, sent as \
        `Authorization: Bearer`; both come from the environment, else from ./.env (or --env-file). The key is \
        never printed. scrape, sitemap and info check GET /health first, so a Scoup that is down fails at once.
        Examples:
          agentshop scoup health
          agentshop scoup scrape https://shop.example/p/1 --selector price=.price --selector name=h1 --extract-links
          agentshop scoup scrape https://shop.example/ --javascript --wait-for '#app' --json
          agentshop scoup scrape https://shop.example/p/1 --preset ecommerce_product --selector price=.price-box
          agentshop scoup sitemap https://shop.example/sitemap.xml
          agentshop scoup info https://shop.example/p/1
        Exit codes: 0 ok, 1 Scoup answered with an error (or the scraped page had an HTTP error status), \
        2 invalid input, 64 usage error, 69 Scoup is not reachable or unhealthy, 77 Scoup refused the API key.
        """,
        subcommands: [Health.self, Scrape.self, Sitemap.self, Info.self]
    )

    /// Flags shared by every scoup subcommand.
    struct Connection: ParsableArguments {
        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("How long to wait for one Scoup call: seconds, or 30s, 2m.", valueName: "duration"))
        var timeout = Seconds(30)

        @Option(help: ArgumentHelp("Attempts per call, the first included (default 4); 1 turns retries off.", valueName: "n"))
        var attempts: Int = 4

        func validate() throws {
            guard attempts >= 1 else { throw ValidationError("--attempts must be at least 1") }
        }

        /// SCOUP_BASE_URL and SCOUP_API_KEY from the environment over the .env files.
        func client() -> ScoupClient {
            var configuration = ScoupConfiguration.fromEnvironment(global.environment(projectFolder: nil).variables)
            configuration.timeout = timeout.value
            configuration.healthTimeout = min(timeout.value, configuration.healthTimeout)
            configuration.retry.maxAttempts = attempts
            return ScoupClient(configuration: configuration, client: HTTPClient(maxConnections: 4))
        }
    }

    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check that Scoup is up (GET /health).",
            discussion: "Examples:\n  agentshop scoup health")
        @OptionGroup var connection: Connection

        func run() async throws {
            let client = connection.client()
            let health = try await ScoupCommand.guarded { try await client.health() }
            if connection.global.json {
                Console.json(HealthReport(baseURL: client.configuration.baseURL, status: health.status ?? "ok",
                                          response: health.body))
            } else {
                Console.out("Scoup at \(client.configuration.baseURL) is up (status: \(health.status ?? "ok"))")
                if case .object(let fields)? = health.body {
                    for key in fields.keys.sorted() where key != "status" {
                        Console.out("  \(key): \(ScoupCommand.inline(fields[key]!))")
                    }
                }
            }
        }
    }

    struct Scrape: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scrape one page through Scoup (POST /scrape) and show what came back.",
            discussion: "Without --json: status, title, text excerpt, links, custom selector values. With --json: Scoup's whole answer.\n\nExamples:\n  agentshop scoup scrape https://shop.example/p/1 --selector price=.price"
        )
        @OptionGroup var connection: Connection

        @Argument(help: "The page URL (http or https).")
        var url: String

        @Option(help: ArgumentHelp("A page preset (ecommerce_product, blog_article, competitor_analysis, social_media): "
                                   + "its selectors and flags, under the options given here.", valueName: "name"))
        var preset: String?

        @Option(name: .customLong("selector"),
                help: ArgumentHelp("A custom selector, name=css; repeatable. Values come back as customData.", valueName: "name=css"))
        var selectors: [String] = []

        @Flag(help: "Ask for the page's links.")
        var extractLinks = false

        @Flag(help: "Ask for the page's images.")
        var extractImages = false

        @Flag(help: "Ask for the page's text.")
        var extractText = false

        @Option(help: ArgumentHelp("Milliseconds to wait, or a CSS selector to wait for, before reading the page.", valueName: "ms-or-css"))
        var waitFor: String?

        @Flag(help: "Render the page with JavaScript (a headless browser on Scoup's side).")
        var javascript = false

        @Flag(help: "Emulate a mobile device.")
        var mobile = false

        @Flag(help: "Take a screenshot; its URL is shown.")
        var screenshot = false

        @Option(help: ArgumentHelp("The User-Agent Scoup sends to the page.", valueName: "text"))
        var userAgent: String?

        @Flag(help: "Print the page's HTML (human output only).")
        var html = false

        func validate() throws {
            try ScoupCommand.checkWebURL(url)
            _ = try customSelectors()
            if let preset, ScoupPreset(rawValue: preset) == nil {
                throw ValidationError("--preset: expected one of \(ScoupPreset.allCases.map(\.rawValue).joined(separator: ", ")), found '\(preset)'")
            }
        }

        func customSelectors() throws -> [String: String]? {
            guard !selectors.isEmpty else { return nil }
            var out: [String: String] = [:]
            for spec in selectors {
                guard let eq = spec.firstIndex(of: "=") else {
                    throw ValidationError("--selector expects name=css, found '\(spec)'")
                }
                let name = spec[..<eq].trimmingCharacters(in: .whitespaces)
                let css = spec[spec.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, !css.isEmpty else { throw ValidationError("--selector expects name=css, found '\(spec)'") }
                guard out[name] == nil else { throw ValidationError("--selector: '\(name)' is given twice") }
                out[name] = css
            }
            return out
        }

        var options: ScrapeOptions {
            let wait: JSONValue? = waitFor.map { value in
                Int(value).map { .number(Double($0)) } ?? .string(value)
            }
            let own = ScrapeOptions(userAgent: userAgent, waitFor: wait, screenshot: screenshot ? true : nil,
                                    extractLinks: extractLinks ? true : nil, extractImages: extractImages ? true : nil,
                                    extractText: extractText ? true : nil, customSelectors: try? customSelectors(),
                                    javascript: javascript ? true : nil, mobile: mobile ? true : nil)
            return preset.flatMap(ScoupPreset.init(rawValue:)).map { own.over($0.options) } ?? own
        }

        func run() async throws {
            let client = connection.client()
            let result = try await ScoupCommand.guarded {
                _ = try await client.health()
                return try await client.scrape(url, options: options)
            }
            if connection.global.json {
                Console.json(result)
            } else {
                ScoupCommand.printPage(result, url: url)
                if html, let page = result.html { Console.out(page) }
            }
            try ScoupCommand.checkPageStatus(result, url: url)
        }
    }

    struct Sitemap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the page URLs of a sitemap through Scoup (POST /scrape/sitemap), one per line.",
            discussion: "Examples:\n  agentshop scoup sitemap https://shop.example/sitemap.xml"
        )
        @OptionGroup var connection: Connection

        @Argument(help: "The sitemap URL (http or https).")
        var url: String

        @Option(help: ArgumentHelp("Scoup's `filters`, as a JSON value.", valueName: "json"))
        var filters: String?

        func validate() throws {
            try ScoupCommand.checkWebURL(url)
            _ = try parsedFilters()
        }

        func parsedFilters() throws -> JSONValue? {
            guard let filters else { return nil }
            do {
                return try JSONDecoder().decode(JSONValue.self, from: Data(filters.utf8))
            } catch {
                throw ValidationError("--filters is not valid JSON: \(filters)")
            }
        }

        func run() async throws {
            let client = connection.client()
            let filters = try parsedFilters()
            let result = try await ScoupCommand.guarded {
                _ = try await client.health()
                return try await client.sitemap(url, filters: filters)
            }
            if connection.global.json {
                Console.json(result)
            } else {
                for page in result.urls { Console.out(page) }
                if !connection.global.quiet {
                    Console.error("\(result.urls.count) URL\(result.urls.count == 1 ? "" : "s") in \(url)")
                }
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A page's status, title and meta without its body (POST /info).",
            discussion: "Without --json: every field of Scoup's answer as a table (nested objects one row per key, "
                + "e.g. `meta description`). With --json: Scoup's answer as it came.\n\nExamples:\n  agentshop scoup info https://shop.example/"
        )
        @OptionGroup var connection: Connection

        @Argument(help: "The page URL (http or https).")
        var url: String

        func validate() throws { try ScoupCommand.checkWebURL(url) }

        func run() async throws {
            let client = connection.client()
            let result = try await ScoupCommand.guarded {
                _ = try await client.health()
                return try await client.info(url)
            }
            if connection.global.json {
                Console.json(result.answer)
            } else {
                var rows: [[String]] = [["url", url]]
                rows += result.rows.filter { $0.name != "url" }.map { [$0.name, ScoupCommand.inline($0.value)] }
                Console.out(Console.table(rows))
            }
            try ScoupCommand.checkPageStatus(result.page, url: url)
        }
    }

    // MARK: Shared

    struct HealthReport: Encodable {
        let baseURL: String
        let status: String
        let response: JSONValue?

        enum CodingKeys: String, CodingKey { case baseURL = "base_url", status, response }
    }

    /// The exit codes of the scoup commands beyond the shared ones (sysexits.h names).
    static let unavailable = ExitCode(69)
    static let keyRefused = ExitCode(77)

    /// Runs one Scoup exchange, printing a failure on stderr and turning it into its exit code.
    static func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ScoupError {
            Console.error("error: \(error)")
            switch error.kind {
            case .unavailable: throw unavailable
            case .unauthorized: throw keyRefused
            case .serverError where error.url.hasSuffix("/health"): throw unavailable
            case .serverError, .rateLimited, .rejected, .invalidResponse: throw ExitStatus.runFailed
            }
        }
    }

    static func checkWebURL(_ text: String) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host?.isEmpty == false else {
            throw ValidationError("expected an http(s) URL, found '\(text)'")
        }
    }

    /// A page Scoup reached but that answered 4xx/5xx is a failure of the command, after its output.
    static func checkPageStatus(_ result: ScrapeResult, url: String) throws {
        if let status = result.statusCode, status >= 400 {
            Console.error("error: \(url) answered HTTP \(status)")
            throw ExitStatus.runFailed
        }
    }

    static func printPage(_ result: ScrapeResult, url: String) {
        var rows: [[String]] = [["url", url]]
        if let status = result.statusCode { rows.append(["status", String(status)]) }
        if let title = result.title { rows.append(["title", title]) }
        if case .object(let meta)? = result.meta {
            for key in meta.keys.sorted() { rows.append(["meta \(key)", inline(meta[key]!)]) }
        }
        if let html = result.html { rows.append(["html", "\(html.utf8.count) bytes"]) }
        if let text = result.text {
            let flat = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            rows.append(["text", flat.count > 200 ? String(flat.prefix(200)) + "…" : flat])
        }
        if case .object(let custom)? = result.customData {
            for key in custom.keys.sorted() { rows.append(["\(key)", inline(custom[key]!)]) }
        }
        if let links = result.links { rows.append(["links", String(links.count)]) }
        if let images = result.images { rows.append(["images", String(images.count)]) }
        if let shot = result.screenshotUrl { rows.append(["screenshot", shot]) }
        Console.out(Console.table(rows))
        for link in result.linkURLs { Console.out("  link \(link)") }
    }

    /// A JSON value on one line: strings bare, everything else as JSON.
    static func inline(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}
