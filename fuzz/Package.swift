// swift-tools-version:6.0
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder: the checkout's name, whatever it is.
let product = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

// libFuzzer targets, one executable each. A package of its own, because libFuzzer supplies `main`:
// built only by fuzz/run.sh with `-sanitize=fuzzer,address`, never by the product's build or tests.
// `-parse-as-library` there: each target has no top-level code, only libFuzzer's two entry points.
let targets = ["FuzzCSSSelector", "FuzzPipelineYAML", "FuzzHTMLExtract", "FuzzJSONL", "FuzzCSV", "FuzzWARC", "FuzzCron", "FuzzMoney", "FuzzGzip"]

let package = Package(
    name: "AgentShopFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "..")],
    targets: [
        // Calls libFuzzer's driver from each target's entry point.
        .target(name: "CFuzzDriver"),
    ] + targets.map { name in
        .executableTarget(name: name, dependencies: ["CFuzzDriver", .product(name: "AgentShopKit", package: product)])
    },
    swiftLanguageModes: [.v6]
)
