/// Reading JSON whose keys were renamed.
///
/// Every JSON file and answer AgentShop writes (manifests, state, journals, queue items, `--json`)
/// uses snake_case keys, each type through its own `CodingKeys`. Earlier versions wrote some of
/// them in camelCase (`runID`, `startedAt`): a type that was renamed decodes through
/// `RenamedKeysContainer`, naming for each renamed field the spelling older versions wrote, so that
/// their files (a lake's manifests, a pipeline's state, a crawl's journal) keep reading.
///
/// ```swift
/// let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
/// runID = try c.decode(String.self, forKey: .runID, orLegacy: "runID")
/// ```
public struct RenamedKeysContainer<Key: CodingKey> {
    /// The container under the current keys.
    public let current: KeyedDecodingContainer<Key>
    private let decoder: any Decoder
    /// The object holds the marker key: it was written by this version.
    private let isCurrent: Bool
    /// The object under any key, made the first time a key is missing (most objects never need it).
    private let legacy = LegacyContainer()

    private final class LegacyContainer {
        var container: KeyedDecodingContainer<AnyCodingKey>?
    }

    /// With `marker`, a key every object of the current spelling holds (a required, renamed one), an
    /// object holding it is taken as written by this version and no old spelling is looked for: for
    /// types read many times over (a crawl's per-URL lines), where an absent optional key would
    /// otherwise cost a second container.
    public init(_ decoder: any Decoder, keyedBy: Key.Type, currentWhenHolding marker: Key? = nil) throws {
        current = try decoder.container(keyedBy: Key.self)
        self.decoder = decoder
        isCurrent = marker.map(current.contains) ?? false
    }

    private func legacyContainer() throws -> KeyedDecodingContainer<AnyCodingKey> {
        if let made = legacy.container { return made }
        let made = try decoder.container(keyedBy: AnyCodingKey.self)
        legacy.container = made
        return made
    }

    /// The value under `key`, else under the key older versions wrote.
    public func decode<T: Decodable>(_ type: T.Type, forKey key: Key, orLegacy old: String? = nil) throws -> T {
        if let old, !isCurrent, !current.contains(key) {
            let oldKey = AnyCodingKey(old)
            let container = try legacyContainer()
            if container.contains(oldKey) { return try container.decode(T.self, forKey: oldKey) }
        }
        return try current.decode(T.self, forKey: key)
    }

    /// The value under `key`, else under the key older versions wrote; nil when neither is there (or is null).
    public func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key, orLegacy old: String? = nil) throws -> T? {
        if current.contains(key) { return try current.decodeIfPresent(T.self, forKey: key) }
        guard let old, !isCurrent else { return nil }
        return try legacyContainer().decodeIfPresent(T.self, forKey: AnyCodingKey(old))
    }

    /// Whether the object holds `key` under either spelling.
    public func contains(_ key: Key, orLegacy old: String? = nil) -> Bool {
        if current.contains(key) { return true }
        guard let old, !isCurrent, let container = try? legacyContainer() else { return false }
        return container.contains(AnyCodingKey(old))
    }
}

/// A coding key for any name: the keys of a file whose spelling the decoding type no longer declares.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public let stringValue: String
    public let intValue: Int?

    public init(_ name: String) {
        stringValue = name
        intValue = nil
    }

    public init?(stringValue: String) { self.init(stringValue) }

    public init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}
