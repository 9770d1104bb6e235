import HTML
import Pipeline

extension ParseStage {
    /// The `parse` kind's settings: validation, fingerprint and docs/stages/parse.md come from here.
    public static let spec = StageKindSpec(
        name: "parse",
        summary: "extract typed records from fetched pages (WARC or HTML) with CSS, XPath, JSON-LD and meta fields",
        outputs: .required,
        settings: [
            SettingSpec("from", .strings, label: "stages, paths or globs", required: true,
                        "A stage, or lake paths/globs of `.warc.gz` or `.html` files."),
            SettingSpec("url", .strings, label: "glob or list of globs", default: "every page",
                        "Only pages whose URL matches (a list is any-of)."),
            SettingSpec("base_url", .string, default: "none",
                        "HTML files only: the page URL is `base_url` + the file's path under the glob's folder."),
            SettingSpec("records", .custom("CSS selector or {xpath: …}"), default: "one record per page",
                        "Many records per page, one per matching element."),
            SettingSpec("fields", .mapping(of: "name: selector or {css|xpath|jsonld|meta|itemprop|sources, type, …}"),
                        required: true,
                        "The record's fields: `name: \"h1::text\"` (CSS shorthand) or `name: { css: …, type: money, "
                        + "required: true, … }`; see the field keys below."),
            SettingSpec("currency", .string, label: "ISO 4217 code", default: "none",
                        "The site's currency for money fields that name none (and which `$` means)."),
            SettingSpec("max_rejects", .custom("count or share"), default: "no limit",
                        "More rejects than this (a count, or a share of records such as `5%`) fails the stage."),
            SettingSpec("max_page_bytes", .size(max: 1 << 30), default: "32MB",
                        "A larger page is rejected with the reason, not parsed (libxml2's tree takes about 30 times a page's size)."),
            // A tuning knob: the output does not depend on it.
            SettingSpec("batch", .integer(min: 1, max: 10_000), default: "32", fingerprint: false,
                        "Pages per parsing task (tasks run on every core; output order is kept)."),
        ])
}
