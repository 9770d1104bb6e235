import Foundation
import Lake

/// Which providers are switched on (`agentshop llm enable | disable P`). Every provider is
/// enabled unless switched off. Kept in `<lake>/external_apis/llm_responses/providers.json`,
/// written atomically: `{"providers": {"openai": {"enabled": false}, …}}`.
public struct ProviderSwitches: Sendable, Equatable {
    public private(set) var enabled: [ProviderKind: Bool]

    public init(enabled: [ProviderKind: Bool] = [:]) { self.enabled = enabled }

    public static let relativePath = "external_apis/llm_responses/providers.json"

    public static func path(lake: Lake) -> String { lake.root + "/" + relativePath }

    /// The saved switches; all enabled when the file does not exist. A damaged file is an error naming it.
    public static func load(lake: Lake) throws -> ProviderSwitches {
        let path = path(lake: lake)
        guard FileManager.default.fileExists(atPath: path) else { return ProviderSwitches() }
        let json: JSONValue
        do {
            let bytes = try FileInput.readAll(path: path)
            json = try bytes.withUnsafeBytes { try JSONValue.parse(bytes: $0) }
        } catch {
            throw LLMSwitchError(path: path, message: "cannot read provider switches: \(error)")
        }
        guard let providers = json.member("providers")?.objectValue else {
            throw LLMSwitchError(path: path, message: "expected {\"providers\": {…}}")
        }
        var switches = ProviderSwitches()
        for entry in providers {
            // A provider this build does not know is kept out rather than refused: a newer build may have written it.
            guard let kind = ProviderKind(rawValue: entry.key) else { continue }
            guard case .bool(let on)? = entry.value.member("enabled") else {
                throw LLMSwitchError(path: path, message: "providers.\(entry.key).enabled: expected true or false")
            }
            switches.enabled[kind] = on
        }
        return switches
    }

    public func isEnabled(_ kind: ProviderKind) -> Bool { enabled[kind] ?? true }

    public mutating func set(_ kind: ProviderKind, enabled on: Bool) { enabled[kind] = on }

    /// Writes the switches atomically.
    public func save(lake: Lake) throws {
        var providers = JSONObject()
        for kind in ProviderKind.allCases { providers[kind.rawValue] = ["enabled": .bool(isEnabled(kind))] }
        try AtomicFile.write(JSONValue.object(JSONObject([("providers", .object(providers))])).serialized() + "\n",
                             to: Self.path(lake: lake))
    }
}

/// A provider switches file that cannot be read.
public struct LLMSwitchError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
