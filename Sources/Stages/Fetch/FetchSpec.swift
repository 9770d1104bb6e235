import Crawl
import Pipeline
import Transport

extension FetchStage {
    /// The `fetch` kind's settings: validation, fingerprint, the crawl journal's key and
    /// docs/stages/fetch.md come from here. Every setting says whether it changes which URLs a crawl
    /// visits (`journal: true`: an interrupted crawl under other such settings is not resumed).
    public static let spec = StageKindSpec(
        name: "fetch",
        summary: "crawl pages (directly or through Scoup) politely into a WARC file and a crawl log",
        outputs: .required,
        journal: true,
        settings: [
            SettingSpec("via", .choice(["direct", "scoup"]), default: "direct", journal: true,
                        "`direct`: libcurl; `scoup`: `POST /scrape` on `SCOUP_BASE_URL` (default `http://localhost:3001`) "
                        + "with `Authorization: Bearer $SCOUP_API_KEY`."),
            SettingSpec("scoup", .object(scoupSettings), default: "none", journal: true,
                        "`via: scoup` only: what Scoup does with each page, sent as the `options` of `POST /scrape`. "
                        + "Every key changes what a page's answer holds (its links, its records), so a change starts "
                        + "the crawl afresh. See [Scoup](#scoup) for the presets and the records output."),
            SettingSpec("seeds", .custom("URL, lake path, {sitemap: URL}, or a list"), required: true, journal: true,
                        "One or a list of: an http(s) URL; `file:path` (a saved site, path relative to the lake) or "
                        + "`file:///abs/path` inside the lake (anything leading out, through `..`, `%2e%2e` or a symbolic "
                        + "link, fails the stage); a lake path to a URL list (one per line, `#` comments; it is an input of "
                        + "the stage); `{sitemap: URL}` (urlset, sitemap index, `.xml.gz`)."),
            SettingSpec("base_url", .string, label: "URL", default: "none", journal: true,
                        "`file:` seeds only: the URL the saved site had; its pages are recorded (WARC, crawl log) as "
                        + "`base_url` + their path under the first file seed's folder, so outputs do not depend on where "
                        + "the lake is."),
            SettingSpec("follow", .custom("CSS selector, {css: …}, {xpath: …}, or a list"), default: "none", journal: true,
                        "Which links of a fetched page to crawl, in document order; without it only the seeds are fetched."),
            SettingSpec("allow_domains", .strings, default: "the seeds' hosts", journal: true,
                        "Domains (and their subdomains) a crawl stays on."),
            SettingSpec("include", .custom("glob, {regex: …}, or a list"), default: "none", journal: true,
                        "Only URLs matching one of these: globs over the normalised URL (`*` any run of characters), or "
                        + "`{regex: …}`."),
            SettingSpec("exclude", .custom("glob, {regex: …}, or a list"), default: "none", journal: true,
                        "URLs matching one of these are not crawled; `exclude` wins over `include`."),
            SettingSpec("max_depth", .integer(min: 0, max: 1000), default: "10", journal: true,
                        "Links from a seed (a seed is depth 0)."),
            SettingSpec("max_pages", .integer(min: 1, max: 100_000_000), default: "10000", journal: true,
                        "URLs kept, the first in breadth-first order."),
            SettingSpec("concurrency", .integer(min: 1, max: 1024), default: "8", journal: false,
                        "Requests in flight, all hosts together."),
            SettingSpec("per_host", .object([
                SettingSpec("concurrency", .integer(min: 1, max: 1024), default: "1", journal: false,
                            "Requests in flight to one host."),
                SettingSpec("delay", .duration, default: "1s", journal: false,
                            "Time between the starts of requests to one host; a longer robots.txt `Crawl-delay` wins "
                            + "(capped at 60 s)."),
            ]), default: "{ concurrency: 1, delay: 1s }", journal: false, "Politeness per host."),
            SettingSpec("politeness", .boolean, default: "on", journal: false,
                        "`off` (benchmarks against your own server): no per-host limit beyond `concurrency`, no delay, no "
                        + "Crawl-delay."),
            SettingSpec("robots", .choice(["obey", "ignore"]), default: "obey", journal: true, "`ignore` skips robots.txt."),
            SettingSpec("retries", .integer(min: 0, max: 20), default: "3", journal: false,
                        "Further attempts after a 429, a retryable 5xx, a timeout or a connection error."),
            SettingSpec("retry_backoff", .duration, default: "1s", journal: false,
                        "The first backoff, doubled per attempt (at most 60 s), half of it random; `Retry-After` (seconds "
                        + "or HTTP date, at most 120 s) replaces it on 429/503 and pauses the whole host."),
            SettingSpec("timeout", .duration, default: "30s", journal: false, "Per request, redirects included."),
            SettingSpec("max_page_bytes", .size(), default: "10MB", journal: true,
                        "A bigger body aborts the transfer (`KB`, `MB`, `GB` or bytes)."),
            SettingSpec("refresh", .duration, default: "none", journal: false,
                        "A page fetched this long ago or less is reused from the stage's state without a request."),
            SettingSpec("user_agent", .string, default: HTTPRequest.defaultUserAgent, journal: true,
                        "robots.txt groups are matched (case-insensitively) on its product token: the first product's "
                        + "name of a header (`Foo Bar/1.0 (+url)` → `Foo`), or the whole value when it has no `/` or `(`."),
            SettingSpec("allow_private_addresses", .boolean, default: "false", journal: true,
                        "Loopback, private (with 100.64/10), link-local and unspecified addresses are refused unless this "
                        + "is `true`, checked on the address each connection actually reaches (after DNS): pages, "
                        + "redirects, robots.txt, sitemaps. Behind a proxy (`http_proxy`), the proxy's address is the one "
                        + "checked."),
            SettingSpec("ca_file", .string, label: "lake path", default: "the system's CAs", journal: false,
                        "A PEM file of CA certificates that verify HTTPS sites (a private CA), in place of the system's, "
                        + "for pages, redirects, robots.txt and sitemaps; confined like every lake path; `via: direct` "
                        + "only. Verification is never turned off."),
            SettingSpec("min_pages", .integer(min: 0, max: 100_000_000), default: "1", journal: false,
                        "Fewer pages fetched (from the network, the refresh window or a 304) fails the stage, and so does "
                        + "every seed failing; `0` accepts an empty crawl."),
            SettingSpec("max_error_rate", .custom("share"), default: "no limit", journal: false,
                        "A larger share of failed URLs (`20%`, `0.2`) fails the stage."),
            // In the fingerprint: the WARC's bytes change with it. Not in the journal's settings, but in its
            // key all the same (`FetchRun`): a resumed crawl copies its pages' records as they were compressed.
            SettingSpec("warc_gzip_level", .integer(min: 1, max: 9), default: "\(FetchStage.defaultWARCGzipLevel)",
                        journal: false,
                        "The deflate level of the WARC's gzip members (one per record): 1 is fastest, 9 smallest. "
                        + "The default was measured on 20 KB shop pages: level 1 deflates at 0.38 of level 6's CPU "
                        + "for a file 24% larger (bench/CRAWL_RESULTS.md). No effect on a `.warc` file."),
        ])

    /// The keys of `scoup:`, each sent as the Scoup option named in its description.
    static let scoupSettings: [SettingSpec] = [
        SettingSpec("preset", .choice(ScoupPreset.allCases.map(\.rawValue)), default: "none", journal: true,
                    "The seed's presets, each a set of the options below for a kind of page; the keys given beside "
                    + "it win (`custom_selectors` name by name): "
                    + ScoupPreset.allCases.map { "`\($0.rawValue)`: \($0.summary)" }.joined(separator: "; ") + "."),
        SettingSpec("custom_selectors", .mapping(of: "field name → CSS selector"), default: "none", journal: true,
                    "`customSelectors`: Scoup reads each selector in the page and answers its value in `customData` "
                    + "under the field's name; the fields become columns of the records output."),
        SettingSpec("wait_for", .custom("milliseconds (integer) or CSS selector"), default: "none", journal: true,
                    "`waitFor`: how long to wait, or which element to wait for, before the page is read."),
        SettingSpec("javascript", .boolean, default: "Scoup's", journal: true,
                    "`javascript`: render the page in Scoup's headless browser."),
        SettingSpec("mobile", .boolean, default: "Scoup's", journal: true, "`mobile`: emulate a mobile device."),
        SettingSpec("screenshot", .boolean, default: "Scoup's", journal: true,
                    "`screenshot`: take a screenshot; its URL goes into the records as `screenshot_url`."),
        SettingSpec("cookies", .custom("mapping of name → value, or a list of cookie objects"), default: "none",
                    journal: true, "`cookies`: sent to the page as Scoup accepts them."),
        SettingSpec("proxy", .string, label: "URL", default: "none", journal: true, "`proxy`: the proxy Scoup goes through."),
        SettingSpec("headers", .mapping(of: "header name → value"), default: "none", journal: true,
                    "`headers`: extra request headers Scoup sends to the page."),
        SettingSpec("user_agent", .string, default: "the stage's `user_agent`", journal: true,
                    "`userAgent`: the User-Agent Scoup sends to the page."),
        SettingSpec("extract_links", .boolean, default: "true", journal: true,
                    "`extractLinks`: links are always asked for (a page Scoup answers without usable HTML is "
                    + "followed through them); `true` here also writes them into the records as `links`; `false` "
                    + "stops asking."),
        SettingSpec("extract_images", .boolean, default: "false", journal: true,
                    "`extractImages`: the page's images, into the records as `images`."),
        SettingSpec("extract_text", .boolean, default: "false", journal: true,
                    "`extractText`: the page's text, into the records as `text`."),
    ]
}
