import Foundation

/// The folder tree of a lake, and what belongs in each folder.
public enum LakeLayout {
    public struct Folder: Sendable {
        public let path: String
        public let purpose: String
    }

    /// Every folder `agentshop init` creates, parents before children.
    public static let folders: [Folder] = [
        Folder(path: "raw_data", purpose: "Inputs that people bring: seed URL lists, uploaded CSV/JSON files, and run logs."),
        Folder(path: "raw_data/imports", purpose: "Seed URL lists and files to import (CSV with a header row, JSON Lines). Pipelines read them with `import` and `fetch` stages."),
        Folder(path: "raw_data/uploads", purpose: "Files uploaded by people or other systems, to be brought into datasets by `import` stages."),
        Folder(path: "raw_data/logs", purpose: "One folder per pipeline: a log (`<run id>.log`) and a manifest (`<run id>.manifest.json`) for every run. `agentshop runs` reads them."),
        Folder(path: "raw_data/analytics", purpose: "Raw analytics events and exports from other tools."),
        Folder(path: "scraped_data", purpose: "Fetched pages and the records parsed from them, partitioned by date (`dt=YYYY-MM-DD`)."),
        Folder(path: "scraped_data/products", purpose: "Product pages (WARC 1.1, gzip, one member per record) and product records (JSON Lines, gzip)."),
        Folder(path: "scraped_data/reviews", purpose: "Review pages and review records."),
        Folder(path: "scraped_data/market_research", purpose: "Pages and records about markets, competitors and prices."),
        Folder(path: "scraped_data/content", purpose: "Other fetched content: articles, category pages, sitemaps."),
        Folder(path: "external_apis", purpose: "Payloads from outside services, kept so that reruns do not pay twice."),
        Folder(path: "external_apis/llm_responses", purpose: "The LLM response cache, content-addressed by provider, model, prompt and parameters."),
        Folder(path: "external_apis/payment_data", purpose: "Payment provider exports."),
        Folder(path: "external_apis/shipping_info", purpose: "Shipping and carrier data."),
        Folder(path: "external_apis/third_party", purpose: "Other third-party API payloads."),
        Folder(path: "processed_data", purpose: "What pipelines make from the raw and scraped data."),
        Folder(path: "processed_data/exports", purpose: "CSV and JSON exports for people and other systems."),
        Folder(path: "processed_data/ml_datasets", purpose: "Enriched, cleaned records ready for analysis or training."),
        Folder(path: "processed_data/aggregations", purpose: "Aggregates (group-by results) as CSV or JSON Lines."),
        Folder(path: "processed_data/reports", purpose: "Self-contained HTML reports."),
        Folder(path: "db_dumps", purpose: "Compressed dumps of the marketplace store, each with a checksum sidecar."),
        Folder(path: "db_dumps/daily", purpose: "Daily store dumps, rotated by the retention policy."),
        Folder(path: "db_dumps/weekly", purpose: "Weekly store dumps, rotated by the retention policy."),
        Folder(path: "db_dumps/manual", purpose: "Dumps taken by hand; kept until removed by hand."),
        Folder(path: "store", purpose: "The marketplace store (SQLite). It is materialised from the lake and can be rebuilt from it."),
    ]

    /// Creates every folder with its README; leaves existing files alone. Returns what it created.
    @discardableResult
    public static func create(at lake: Lake) throws -> [String] {
        var created: [String] = []
        let fm = FileManager.default
        if !fm.fileExists(atPath: lake.root) {
            try fm.createDirectory(atPath: lake.root, withIntermediateDirectories: true)
            created.append(".")
        }
        for folder in folders {
            let path = lake.root + "/" + folder.path
            if !fm.fileExists(atPath: path) {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
                created.append(folder.path + "/")
            }
            let readme = path + "/README.md"
            if !fm.fileExists(atPath: readme) {
                let title = folder.path.split(separator: "/").last.map(String.init) ?? folder.path
                try AtomicFile.write("# \(title)\n\n\(folder.purpose)\n", to: readme)
                created.append(folder.path + "/README.md")
            }
        }
        let state = lake.stateFolder
        if !fm.fileExists(atPath: state) {
            try fm.createDirectory(atPath: state, withIntermediateDirectories: true)
        }
        return created
    }
}
