import Foundation
import Testing

/// `agentshop extract` run as a user would: stdout, stderr and exit status.
struct ExtractTests {
    static let page = """
        <html><head><title>Kettle</title>
        <script type="application/ld+json">{"@type":"Product","name":"Kettle","offers":{"price":"5.00"}}</script></head>
        <body><h1>Kettle <small>XL</small></h1><span class=price>$5.00</span>
        <div class=review><b>Ana</b><i>5</i></div><div class=review><b>Bo</b><i>x</i></div></body></html>
        """

    @Test func showsSelectorMatchesAndExitsByOutcome() throws {
        let project = try Project()
        try project.write("page.html", Self.page)
        let css = try project.run(["extract", "page.html", "--css", ".price::text, h1 ::text"])
        #expect(css.status == 0, "\(css.stderr)")
        #expect(css.stdout == "Kettle\nXL\n$5.00\n")
        let xpath = try project.run(["extract", "page.html", "--xpath", "count(//div[@class='review'])"])
        #expect(xpath.stdout == "2\n")
        let jsonld = try project.run(["extract", "page.html", "--jsonld"])
        #expect(jsonld.stdout == "{\"@type\":\"Product\",\"name\":\"Kettle\",\"offers\":{\"price\":\"5.00\"}}\n")
        let none = try project.run(["extract", "page.html", "--css", ".nothing"])
        #expect(none.status == 1 && none.stdout.isEmpty)
        let bad = try project.run(["extract", "page.html", "--css", "a:hover"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("unsupported pseudo-class ':hover' at position 2"))
        let two = try project.run(["extract", "page.html", "--css", "a", "--xpath", "//a"])
        #expect(two.status == 64)
        let missing = try project.run(["extract", "nope.html", "--css", "a"])
        #expect(missing.status == 2)
    }

    @Test func showsAParseStagesRecords() throws {
        let project = try Project()
        try project.write("page.html", Self.page)
        try project.write("pipelines/shop.yaml", """
            pipeline: shop
            stages:
              reviews:
                parse:
                  from: raw_data/uploads/*.html
                  records: ".review"
                  fields:
                    author: "b::text"
                    stars: { css: "i::text", type: int, on_error: reject }
                out: scraped_data/reviews/reviews.jsonl.gz
            """)
        let result = try project.run(["extract", "page.html", "--fields", "pipelines/shop.yaml#reviews", "--url", "https://x.org/p"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("{\"url\":\"https://x.org/p\",\"fetched_at\":") == true)
        #expect(lines.first?.hasSuffix("\"author\":\"Ana\",\"stars\":5}") == true)
        #expect(result.stderr.contains("rejected: record 2: stars: cannot read 'x' as an integer"))
        let wrong = try project.run(["extract", "page.html", "--fields", "pipelines/shop.yaml#nope"])
        #expect(wrong.status == 2 && wrong.stderr.contains("no stage named 'nope'"))
    }

    @Test func fetchesAURL() throws {
        let project = try Project()
        try project.write("site/p.html", Self.page)
        // A throwaway HTTP server (Python's) on a port picked at random; retried until it listens.
        let port = Int.random(in: 20_000...60_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", project.folder + "/site"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        var attempts = 0
        while attempts < 50 {
            let probe = try project.run(["extract", "http://127.0.0.1:\(port)/p.html", "--css", "h1"])
            if probe.status == 0 { break }
            attempts += 1
            usleep(100_000)
        }
        let result = try project.run(["extract", "http://127.0.0.1:\(port)/p.html", "--css", ".price::text"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "$5.00\n")
        let missing = try project.run(["extract", "http://127.0.0.1:\(port)/gone.html", "--css", "h1"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("HTTP status 404"))
    }
}
