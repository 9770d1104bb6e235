// swift-tools-version:6.0
// Dependencies are pinned to exact versions: Package.resolved stays out of git (the package mirror
// here gives revisions that exist nowhere else), so the pins are what make every machine build the same code.
import PackageDescription

// Module layout (arrows point one way):
//   C system libraries  ->  one thin Swift wrapper each  ->  Stages binds them  ->  agentshop CLI
//   Pipeline (the engine) knows only Lake: no HTTP, HTML, LLM or SQL.

let uncheckedExclusivityInRelease: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "AgentShop",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "agentshop", targets: ["agentshop"]),
        // The fuzz targets' bodies, for fuzz/ (its own package: libFuzzer brings its own `main`).
        .library(name: "AgentShopKit", targets: ["FuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        // Tests only: loopback HTTP servers.
        .package(url: "https://github.com/swhitty/FlyingFox", exact: "0.27.1"),
    ],
    targets: [
        // C libraries at the edge: module map + shim.h, imported by exactly one Swift module.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // libcurl and libpq are not linked: their shims open them on first use (dlopen), so a command that never
        // fetches or talks to PostgreSQL does not load them and their dependency trees (bench/FLOOR_RESULTS.md).
        // Headers from libcurl4-openssl-dev and libpq-dev (scripts/setup.sh); at run time libcurl4 and libpq5.
        .target(name: "CLazyLoad"),
        .target(name: "CCurl", dependencies: ["CLazyLoad"]),
        // libxml2 too (with system ICU and liblzma, which it loads); headers from libxml2-dev, at run time libxml2.
        .target(name: "CXML2", dependencies: ["CLazyLoad"]),
        // libcrypto (OpenSSL 3): SHA-1, SHA-256, HMAC, PBKDF2 for Lake (bench/CRYPTO_RESULTS.md); opened on first
        // use like libcurl and libpq (headers from libssl-dev, at run time libssl3).
        .target(name: "COpenSSL", dependencies: ["CLazyLoad"]),
        .target(name: "CLibPQ", dependencies: ["CLazyLoad"]),

        // The hot loops (record scans, the query's cursors, the CSS walk) run without the run-time exclusivity
        // checks in release builds: they were ~5% of an aggregate (bench/ISSUE19_RESULTS.md); debug builds and
        // so the tests keep them.
        .target(name: "Lake", dependencies: ["CZlib", "COpenSSL", .product(name: "Logging", package: "swift-log")],
                swiftSettings: uncheckedExclusivityInRelease),
        .target(name: "Transport", dependencies: ["CCurl", "CZlib"]),
        // Crawl reads sitemaps with libxml2's XML reader itself (CXML2), not through HTML: a sitemap is the
        // crawler's own input, and handing its parsing in would make every caller of the crawler supply it.
        .target(name: "Crawl", dependencies: ["Transport", "Lake", "CXML2", .product(name: "Logging", package: "swift-log")]),
        // The price table is Resources/llm_prices.json, carried in the binary as ShippedPrices.swift
        // (scripts/embed_data.py; a test checks that the two agree).
        .target(name: "LLM", dependencies: ["Transport", "Lake"], exclude: ["Resources"]),
        // libxml2's allocations during a parse come from a per-document arena (bench/PARSE_RESULTS.md).
        .target(name: "CXMLArena"),
        .target(name: "HTML", dependencies: ["CXML2", "CXMLArena", "Lake"], swiftSettings: uncheckedExclusivityInRelease),
        .target(name: "Notify", dependencies: ["Transport", "Lake", .product(name: "Logging", package: "swift-log")]),
        .target(name: "Pipeline", dependencies: [
            "Lake", "Yams", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Store", dependencies: ["CSQLite", "Lake", "Crawl", "Postgres", .product(name: "Logging", package: "swift-log")]),
        // libpq: connections, parameterised statements, transactions, COPY; the PostgreSQL store builds on it.
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        // Filter expressions, aggregation and quantiles, SQL over lake files (agentshop query, the aggregate and sql stages).
        .target(name: "Query", dependencies: ["CSQLite", "Lake", "Store"], swiftSettings: uncheckedExclusivityInRelease),
        // The shared work queue (runs, items under leases, workers, budgets) in PostgreSQL.
        .target(name: "WorkQueue", dependencies: ["Postgres", "Lake"]),
        // Lake inspection, retention and the HTML run report (agentshop lake …, report).
        .target(name: "Inspect", dependencies: ["Lake", "Pipeline", "Crawl"]),
        .target(name: "Stages", dependencies: [
            "Lake", "Pipeline", "Store", "Inspect", "HTML", "Transport", "Crawl", "LLM", "Query", "WorkQueue", .product(name: "Logging", package: "swift-log"),
        ]),
        // A run session (lock, log, runner, store records, notifications), for `run` and the scheduler.
        .target(name: "Runs", dependencies: ["Lake", "Pipeline", "Store", "Notify", "Transport", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "agentshop", dependencies: [
            "Lake", "Pipeline", "Stages", "Store", "HTML", "Transport", "Crawl", "LLM", "Notify", "Inspect", "Query",
            "Runs", "WorkQueue",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], linkerSettings: [
            // Release: the Swift runtime and Foundation linked in, so a process maps only the pages it uses of
            // them instead of relocating their shared libraries (bench/FLOOR_RESULTS.md). Debug and tests: dynamic.
            // The static Foundation's own libraries are named too: the modules' autolink entries name the shared ones.
            .unsafeFlags(["-static-stdlib", "-lCoreFoundation", "-l_FoundationCShims", "-l_FoundationCollections",
                          "-lswiftSynchronization", "-l_FoundationICU", "-lstdc++"], .when(configuration: .release)),
            // Release: the runtime's C++ library linked in too (-1.8 MB of libstdc++.so pages at start): `-lstdc++`
            // finds libstdc++.a in this folder first (a link to GCC 12's; where it does not exist, libstdc++.so as before).
            // --exclude-libs (the static runtime's) keeps it unexported, so a C++ library dlopen'ed later keeps its own.
            .unsafeFlags(["-L\(Context.packageDirectory)/bench/floor/static-libstdc++"], .when(configuration: .release)),
            // Release: lld with packed relative relocations (DT_RELR, glibc 2.36+): the 117,000 relative relocations
            // take 17 KB instead of gold's 2.1 MB table, which the loader read in at every start (bench/FLOOR_RESULTS.md).
            .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(configuration: .release)),
            // Release: the functions a few short commands run are laid out together (bench/floor/make_order.sh), so
            // start-up faults in fewer 64 KB windows of code (bench/FLOOR_RESULTS.md).
            .unsafeFlags(["-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/bench/floor/startup-order.txt",
                          "-Xlinker", "--no-warn-symbol-ordering"], .when(configuration: .release)),
        ]),

        // What one fuzz input does to one parser: wrapped by fuzz/, replayed by FuzzRegressionTests.
        .target(name: "FuzzTargets", dependencies: ["Lake", "HTML", "Pipeline", "Stages"]),

        // Micro-benchmarks for bench/run.sh (release builds only matter).
        .executableTarget(name: "agentshop-bench", dependencies: ["Lake"]),
        // bench/store_bench.sh times this against the sqlite3 shell; not a product.
        .executableTarget(name: "store-bench", dependencies: [
            "Store", "Lake", .product(name: "Logging", package: "swift-log"),
        ], path: "bench/StoreBench"),
        // Parse-only throughput against lxml and parsel for bench/parse_bench.sh.
        .executableTarget(name: "agentshop-parse-bench", dependencies: [
            "HTML", "Lake", "Pipeline", "Stages", .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "LakeTests", dependencies: ["Lake", "TestSupport"]),
        .testTarget(name: "HTMLTests", dependencies: ["HTML", "Lake"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Lake", "TestSupport"]),
        .testTarget(name: "QueryTests", dependencies: ["Query", "Store", "Lake", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "Store", "Stages", "Pipeline", "Lake", "Runs", "TestSupport",
                                                       .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "WorkQueueTests", dependencies: ["WorkQueue", "Postgres", "Lake", "TestSupport", "agentshop"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Lake", "TestSupport"]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Pipeline", "Lake", "HTML", "Crawl", "LLM", "Store", "TestSupport",
                                                       .product(name: "FlyingFox", package: "FlyingFox"),
                                                       .product(name: "Logging", package: "swift-log")],
                    exclude: ["Fixtures"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "CLazyLoad", "TestSupport", .product(name: "FlyingFox", package: "FlyingFox")]),
        // Temporary folders, loopback servers, the fake LLM providers and the fake Scoup, shared by the test targets.
        .target(name: "TestSupport", dependencies: ["Lake", .product(name: "FlyingFox", package: "FlyingFox")], path: "Tests/TestSupport"),
        .testTarget(name: "CrawlTests", dependencies: ["Crawl", "Transport", "Lake", "TestSupport", .product(name: "FlyingFox", package: "FlyingFox"),
                                                     .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LLMTests", dependencies: ["LLM", "Transport", "Lake", "Pipeline", "TestSupport", .product(name: "FlyingFox", package: "FlyingFox")]),
        .testTarget(name: "NotifyTests", dependencies: ["Notify", "Transport", "Lake", "TestSupport", .product(name: "FlyingFox", package: "FlyingFox")]),
        .testTarget(name: "RunsTests", dependencies: ["Runs", "Pipeline", "Store", "Notify", "Lake", "TestSupport",
                                                     .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "InspectTests", dependencies: ["Inspect", "Stages", "Pipeline", "Lake", "HTML", "TestSupport",
                                                       .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "EndToEndTests", dependencies: ["agentshop", "Lake", "Store", "Transport", "TestSupport",
                                                         .product(name: "FlyingFox", package: "FlyingFox")]),
    ],
    swiftLanguageModes: [.v6]
)

