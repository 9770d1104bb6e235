import Foundation
import Lake
import Transport

/// Everything that decides a provider's answer, hashed into the cache key. Two requests with the
/// same key are the same question to the same model, so one answer serves both.
public struct RequestIdentity: Sendable, Equatable {
    public var provider: ProviderKind
    /// The endpoint (an OpenAI-compatible server answers differently from OpenAI). Hashed, never stored.
    public var baseURL: String
    public var model: String
    public var system: String
    public var prompt: String
    /// temperature, max_tokens, json output and task options, as canonical JSON.
    public var parameters: JSONValue
    /// The schema the answer must meet (canonical JSON), or null.
    public var schema: JSONValue

    public init(provider: ProviderKind, baseURL: String, model: String, system: String, prompt: String,
                parameters: JSONValue, schema: JSONValue) {
        self.provider = provider
        self.baseURL = baseURL
        self.model = model
        self.system = system
        self.prompt = prompt
        self.parameters = parameters
        self.schema = schema
    }

    /// The sha256 of the canonical JSON of every part: the cache key and the call record's `request_key`.
    public var key: String {
        let text = JSONValue.object(JSONObject([
            ("v", 1), ("provider", .string(provider.rawValue)), ("base_url", .string(baseURL)), ("model", .string(model)),
            ("system", .string(system)), ("prompt", .string(prompt)), ("parameters", parameters), ("schema", schema),
        ])).canonicalText()
        return SHA256.hex(of: text)
    }

    /// The sha256 of the system and user prompt alone (the call record's `prompt_sha256`).
    public var promptSHA256: String { SHA256.hex(of: system + "\u{0}" + prompt) }
}

/// A provider's answer as the cache keeps it.
public struct CachedResponse: Sendable, Equatable {
    public var text: String
    public var model: String
    public var usage: TokenUsage?
    public var finishReason: String?
    public var citations: [String]
    /// ISO 8601, UTC.
    public var createdAt: String

    public init(text: String, model: String, usage: TokenUsage?, finishReason: String?, citations: [String], createdAt: String) {
        self.text = text
        self.model = model
        self.usage = usage
        self.finishReason = finishReason
        self.citations = citations
        self.createdAt = createdAt
    }

    public init(_ completion: Completion, at date: Date = Date()) {
        self.init(text: completion.text, model: completion.model, usage: completion.usage,
                  finishReason: completion.finishReason, citations: completion.citations, createdAt: Timestamp.iso(date))
    }

    var json: JSONValue {
        var object = JSONObject([("text", .string(text)), ("model", .string(model))])
        object["usage"] = usage.map { .object(JSONObject([("input", .int(Int64($0.input))), ("output", .int(Int64($0.output)))])) } ?? .null
        object["finish_reason"] = finishReason.map(JSONValue.string) ?? .null
        object["citations"] = .array(citations.map(JSONValue.string))
        object["created_at"] = .string(createdAt)
        return .object(object)
    }

    init?(json: JSONValue) {
        guard let o = json.objectValue, let text = o["text"]?.stringValue, let model = o["model"]?.stringValue,
              let created = o["created_at"]?.stringValue else { return nil }
        var usage: TokenUsage?
        if let u = o["usage"]?.objectValue, let i = u["input"]?.doubleValue, let out = u["output"]?.doubleValue {
            usage = TokenUsage(input: Int(i), output: Int(out))
        }
        self.init(text: text, model: model, usage: usage, finishReason: o["finish_reason"]?.stringValue,
                  citations: o["citations"]?.arrayValue?.compactMap(\.stringValue) ?? [], createdAt: created)
    }
}

/// Answers kept in `external_apis/llm_responses/cache/<2 hex>/<sha256>.json`, one file per request
/// key, each written atomically, so that a rerun over the same records asks the provider nothing
/// and two processes sharing a lake never see half an entry.
public struct ResponseCache: Sendable {
    public let folder: String

    /// The cache of a lake.
    public init(lake: Lake) { folder = lake.root + "/external_apis/llm_responses/cache" }
    public init(folder: String) { self.folder = folder }

    public func path(forKey key: String) -> String { folder + "/" + key.prefix(2) + "/" + key + ".json" }

    /// The entry for `key`, unless it is missing, unreadable, or older than `ttl` seconds; secrets
    /// blanked, in case an older version wrote an echoed key.
    public func lookup(_ key: String, ttl: Double? = nil, now: Date = Date()) -> CachedResponse? {
        guard let bytes = try? FileInput.readAll(path: path(forKey: key)),
              let value = try? bytes.withUnsafeBytes({ buffer in try JSONValue.parse(bytes: buffer) }),
              let entry = CachedResponse(json: value.redactingSecrets()) else { return nil }
        if let ttl {
            guard let created = Timestamp.parse(entry.createdAt), now.timeIntervalSince(created) <= ttl else { return nil }
        }
        return entry
    }

    /// Writes the entry for `key` atomically (never seen half written), replacing an older one, with
    /// every registered secret blanked (`Secret.redact`). Not fsynced: an entry a crash loses is
    /// asked again, and an unreadable one is a miss, so durability is not worth two fsyncs per answer.
    public func store(_ key: String, _ entry: CachedResponse) throws {
        let text = Secret.redact(entry.json.redactingSecrets().serialized() + "\n")
        try AtomicFile.write(Array(text.utf8), to: path(forKey: key), durable: false)
    }
}
