import Foundation
import Lake
@testable import Pipeline
import Stages
import Testing

/// Every shipped stage kind declares its settings once (`<Kind>Stage.spec`, in Sources/Stages/<Kind>/<Kind>Spec.swift), and
/// validation, fingerprints, fetch's journal key and docs/stages/ all follow from that declaration. So a new
/// kind needs its own folder and one line in `BuiltinStages`: these tests fail until its spec and page exist.
struct StageSpecsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let registry = BuiltinStages.registry
    static let kinds = registry.names.compactMap { registry.kind(named: $0) }

    @Test func everyShippedKindDeclaresASpec() {
        #expect(Self.registry.undeclaredKinds.isEmpty, "kinds without a spec: \(Self.registry.undeclaredKinds)")
        for kind in Self.kinds {
            #expect(!kind.spec.settings.isEmpty, "\(kind.name)")
            let keys = kind.spec.settings.map(\.key)
            #expect(Set(keys).count == keys.count, "\(kind.name): a setting is declared twice")
            for setting in kind.spec.settings {
                #expect(!setting.description.isEmpty, "\(kind.name).\(setting.key) has no description")
                #expect(!(setting.required && setting.defaultText != nil), "\(kind.name).\(setting.key): required with a default")
            }
        }
    }

    /// The kind's code reads exactly the declared settings: a declared setting it ignored would be accepted
    /// and do nothing; a setting it read without declaring would be refused as unknown.
    @Test(arguments: BuiltinStages.registry.names)
    func theKindReadsExactlyItsDeclaredSettings(name: String) throws {
        let kind = try #require(Self.registry.kind(named: name))
        let diagnostics = Diagnostics(file: "p.yaml")
        let config = try #require(ConfigValue.document(text: "{}", diagnostics: diagnostics))
        let context = StageConfigContext(pipeline: "p", stage: "s", stageNames: ["s"], projectFolder: "/nonexistent")
        _ = kind.configure(config, context)
        #expect(config.keysRead == kind.spec.settings.map(\.key).sorted())
    }

    /// fetch resumes an interrupted crawl from its journal when the settings that decide which URLs it visits
    /// are unchanged. Each setting says whether it is one of them, so a new one cannot be forgotten.
    @Test func everyFetchSettingSaysWhetherItKeysTheJournal() throws {
        let fetch = try #require(Self.registry.kind(named: "fetch")).spec
        #expect(fetch.journal)
        func unmarked(_ settings: [SettingSpec], _ prefix: String = "") -> [String] {
            settings.flatMap { ($0.journal == nil ? [prefix + $0.key] : []) + unmarked($0.fields, prefix + $0.key + ".") }
        }
        #expect(unmarked(fetch.settings).isEmpty, "fetch settings that do not say whether they key the journal")
        let keyed = fetch.settings.filter { $0.journal == true }.map(\.key)
        #expect(keyed == ["via", "scoup", "seeds", "base_url", "follow", "allow_domains", "include", "exclude", "max_depth",
                          "max_pages", "robots", "max_page_bytes", "user_agent", "allow_private_addresses"])
        for kind in Self.kinds where kind.name != "fetch" {
            #expect(!kind.spec.journal && kind.spec.settings.allSatisfy { $0.journal == nil }, "\(kind.name)")
        }
    }

    /// A change to a journal setting discards the journal; a change to any other setting keeps it.
    @Test func fetchsJournalKeyFollowsTheJournalSettingsOnly() throws {
        func key(_ settings: String) throws -> String {
            let tmp = NSTemporaryDirectory() + "stage-spec-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: tmp + "/pipelines", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: tmp) }
            let file = tmp + "/pipelines/p.yaml"
            try Data("""
            stages:
              crawl:
                fetch: { seeds: "https://shop.example/"\(settings) }
                out: scraped_data/p/pages.warc.gz
            """.utf8).write(to: URL(fileURLWithPath: file))
            let loader = PipelineLoader(registry: Self.registry, environment: PipelineEnvironment(variables: [:]), lake: nil)
            let definition = try loader.load(file: file).0.stages[0].definition
            return Mirror(reflecting: definition).children.first { $0.label == "journalSettings" }?.value as? String ?? "?"
        }
        let plain = try key("")
        #expect(plain == #"{"seeds":"https://shop.example/"}"#)
        for unkeyed in [", concurrency: 2", ", timeout: 5s", ", refresh: 1h", ", per_host: { delay: 2s }", ", min_pages: 0"] {
            #expect(try key(unkeyed) == plain, "\(unkeyed)")
        }
        for keyed in [", max_pages: 5", ", follow: a.next", ", robots: ignore", ", user_agent: Bot", ", max_page_bytes: 1MB"] {
            #expect(try key(keyed) != plain, "\(keyed)")
        }
    }

    /// Each kind is one folder under Sources/Stages/ named after it (`sql` in `SQL/`), holding its spec and its binding;
    /// the kinds' shared pieces sit in `Shared/`, so a newcomer looking for a kind's code finds exactly one room.
    @Test func everyKindIsOneFolderWithItsSpec() throws {
        let sources = Self.repository + "/Sources/Stages/"
        let entries = try FileManager.default.contentsOfDirectory(atPath: sources)
        var folders: [String: String] = [:]
        for entry in entries {
            var isFolder: ObjCBool = false
            // An emptied folder a checkout left behind is no room.
            if FileManager.default.fileExists(atPath: sources + entry, isDirectory: &isFolder), isFolder.boolValue,
               try FileManager.default.contentsOfDirectory(atPath: sources + entry).contains(where: { $0.hasSuffix(".swift") }) {
                folders[entry.lowercased()] = entry
            }
        }
        for kind in Self.kinds {
            let folder = try #require(folders[kind.name], "no folder Sources/Stages/<Kind>/ for the \(kind.name) kind")
            let files = try FileManager.default.contentsOfDirectory(atPath: sources + folder)
            #expect(files.contains(folder + "Spec.swift"), "\(folder)/ holds no \(folder)Spec.swift")
        }
        let loose = entries.filter { $0.hasSuffix(".swift") && $0 != "BuiltinStages.swift" }
        #expect(loose.isEmpty, "files at the top of Sources/Stages/ (a kind's belong in its folder, shared ones in Shared/)")
        #expect(Set(folders.keys) == Set(Self.kinds.map(\.name) + ["shared"]), "folders in Sources/Stages/ for no stage kind")
    }

    /// docs/stages/<kind>.md holds, between its markers, what `agentshop stages --markdown KIND` prints now.
    @Test func theCommittedStagePagesAreUpToDate() throws {
        let folder = Self.repository + "/docs/stages/"
        var stale: [String] = []
        var pages = ["README.md": StageReference.markdownIndex(Self.registry)]
        for kind in Self.kinds { pages[kind.name + ".md"] = StageReference.markdown(kind.spec) }
        for (file, generated) in pages.sorted(by: { $0.key < $1.key }) {
            let text = (try? String(contentsOfFile: folder + file, encoding: .utf8)) ?? ""
            if StageReference.generatedPart(of: text) != generated { stale.append(file) }
        }
        #expect(stale.isEmpty, "stale or missing pages in docs/stages/: \(stale); run scripts/gen_stage_docs.sh")
        let present = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".md") }
        #expect(Set(present) == Set(pages.keys), "pages in docs/stages/ for no stage kind")
    }
}
