import Foundation
import Lake
import Pipeline
import Stages
import Testing

/// The part of every stage fingerprint that comes from its configuration, for the shipped pipelines.
/// Declaring each kind's settings in a spec (whose fingerprint keys now choose what enters it) must not
/// change them: a changed value would make every user's next run redo the stage.
struct StageConfigFingerprintTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func canonicalConfigs(_ pipeline: String) throws -> [String: String] {
        let loader = PipelineLoader(registry: BuiltinStages.registry, environment: PipelineEnvironment(variables: [:]), lake: nil)
        let (spec, _) = try loader.load(file: repository + "/pipelines/" + pipeline)
        var configs: [String: String] = [:]
        for stage in spec.stages { configs[stage.name] = stage.canonicalConfig }
        return configs
    }

    /// SHA-256 of each stage's canonical configuration, recorded when the specs came in (equal to the rule before
    /// them: see the next test). A deliberate change updates these values and says why in its commit.
    static let recorded: [String: String] = [
        "demo.yaml backup": "1d8957388ad28e6b6e5d320a93c9c03a2991d8b48be31101f1a9d86a188cd136",
        "demo.yaml by_category": "3afff493a8809fbba1350245e7bf95bdaefa155cd0560024991b3a047a1c2a60",
        "demo.yaml category_counts": "71289cd6cc61145cfed51fd5674180780de5d6a57a8475e200af4dc60bb3448d",
        "demo.yaml crawl": "64e7ec134f15f171b56c9ab9b680411f834f38a98c90a9d40fb64afb89dad57d",
        "demo.yaml page_reviews": "d72e9f29837a63e6d3874ec9eb4a8194ce905061f0b63a15f7a6dc6443b3ed7d",
        "demo.yaml pages": "a486a662b678fc3a20318cd0f970eb83abbc8056191b22fff907d56043f10dc7",
        "demo.yaml products": "d3b161213b444dda99bc2e7aa484c7e31012579cb3e74b3dc1d015a1afcc3303",
        "demo.yaml products_export": "a68a23ccebfe7937a68611075c7b4176f35814b60739866cb0eab3aab4e0b5f0",
        "demo.yaml report": "6472cce8af513cf3284f009d29d16fddbfcc8a1a13cf757d887a21fd0ebef0b5",
        "demo.yaml review_sentiment": "4c742bec8bccf0d7f18cb001c60860bbe5e5711a2809a85a2df12f23e8326b92",
        "demo.yaml review_topics": "7fa3ce680fc295f58117fd8a1fe62594faac9186e535aea511a7bfe2f2841919",
        "demo.yaml reviews": "15896512dc1428e80b9af84266653bec8a697209b9fa822d794c60aa2f1d278c",
        "demo.yaml reviews_per_vendor": "7e35ff81b47b519904ae292e7d11c94063a28b0b8cac07d0ea12223c0447448f",
        "demo.yaml store": "a5193789b6e66510b196ee831ac047e47fc5b4f76d8d2122babcf48d86e91754",
        "marketplace.yaml backup": "956cd7974afeaf437ffd52ab9f04339a197b86dbf602146ff184be9bf1c16d16",
        "marketplace.yaml by_category": "a22e8acbfdebfc6c3a2806aff1d272d48f7ef44224dd6d07df1b9cb360b14aec",
        "marketplace.yaml by_vendor": "c8040ee3f147c6a00e6bc8abdbd129db8e27f12b2ea313ee6054b875975dd2fe",
        "marketplace.yaml categories": "6ae9fa7b94e26454743d91f81afde34bd3795be4fbd39d26d8dbeadd95603374",
        "marketplace.yaml crawl": "355417b3fbdf981f139150ea5ce7f8ec49bdc3260a25df9aa497465ea78c2ba3",
        "marketplace.yaml parent_categories": "ac3988cfac48c89651d89a0562c5f07fc6e243943bda99e630eb7fc4c0a18fc8",
        "marketplace.yaml product_keywords": "564d78152a39b552ee10c14a5c89ac12899f8aae2fba6935806d92d96f328513",
        "marketplace.yaml product_summary": "9e5d517d5523b34af433fd418b11c6d89e03e4218800e1c4e753e9bf2078e25e",
        "marketplace.yaml products": "5c5f4c7fc9721764e9a26534a6c14a773311ed74f669678f098a97543bfe8f74",
        "marketplace.yaml report": "4ec41beb52ffcc1414cc94be93b1365d4104798600b1631b31202bafccebb7b1",
        "marketplace.yaml review_sentiment": "1a2c1306616ec6c8b219d92b313c32aee2ceb31c4d9e735ee8a15a7bdeb74036",
        "marketplace.yaml reviews": "c071f7f9300b2e183825f7e79a8443be05062a5162f5c5043662964809c229fd",
        "marketplace.yaml store_products": "3e70ebcb7285958685a3f18a72b2c1d107ff6e18fb8663c6d2b412e6a1d0ffff",
        "marketplace.yaml store_reviews": "ccda56bf9750f17850e978e50e2d1e17dcb0e790c7a6cebe80037093242369ea",
    ]

    @Test(arguments: ["demo.yaml", "marketplace.yaml"])
    func theShippedPipelinesKeepTheirFingerprints(pipeline: String) throws {
        let configs = try Self.canonicalConfigs(pipeline)
        let recorded = Self.recorded.filter { $0.key.hasPrefix(pipeline + " ") }
        #expect(configs.count == recorded.count)
        for (name, config) in configs {
            #expect(Self.recorded[pipeline + " " + name] == SHA256.hex(of: config), "\(pipeline): stage \(name)")
        }
    }

    /// The same, by the rule that held before: the stage's whole block, less `description` and `allow_empty`.
    /// Only settings a spec marks `fingerprint: false` may make a difference, and the shipped pipelines use none.
    @Test(arguments: ["demo.yaml", "marketplace.yaml"])
    func theConfigurationPartIsTheWholeBlockAsBefore(pipeline: String) throws {
        let configs = try Self.canonicalConfigs(pipeline)
        let text = try String(contentsOfFile: Self.repository + "/pipelines/" + pipeline, encoding: .utf8)
        let diagnostics = Diagnostics(file: pipeline)
        let document = try #require(ConfigValue.document(text: text, diagnostics: diagnostics))
        let stages = try #require(document.value("stages")?.entries())
        for (name, value) in stages {
            guard case .object(var object) = value.jsonValue() else { Issue.record("\(name)"); continue }
            object["description"] = nil
            object["allow_empty"] = nil
            #expect(configs[name] == JSONValue.object(object).canonicalText(), "\(pipeline): stage \(name)")
        }
    }
}
