/// Request and response bodies of the Scoup crawler service, with the field names it uses.
/// Fields whose shape Scoup leaves open (cookies, waitFor, meta, customData, filters) are `JSONValue`.

/// Any JSON value, for the open-ended fields.
public enum JSONValue: Codable, Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    public subscript(key: String) -> JSONValue? { if case .object(let object) = self { object[key] } else { nil } }
}

/// `options` of `POST /scrape`; nil fields are left out so that Scoup applies its defaults.
public struct ScrapeOptions: Codable, Sendable, Equatable {
    public var method: String?
    public var headers: [String: String]?
    public var cookies: JSONValue?
    public var proxy: String?
    public var userAgent: String?
    /// Milliseconds or a CSS selector to wait for, as Scoup accepts either.
    public var waitFor: JSONValue?
    public var screenshot: Bool?
    public var extractLinks: Bool?
    public var extractImages: Bool?
    public var extractText: Bool?
    /// Field name -> CSS selector; results come back in `customData`.
    public var customSelectors: [String: String]?
    public var javascript: Bool?
    public var mobile: Bool?

    public init(method: String? = nil, headers: [String: String]? = nil, cookies: JSONValue? = nil, proxy: String? = nil,
                userAgent: String? = nil, waitFor: JSONValue? = nil, screenshot: Bool? = nil, extractLinks: Bool? = nil,
                extractImages: Bool? = nil, extractText: Bool? = nil, customSelectors: [String: String]? = nil,
                javascript: Bool? = nil, mobile: Bool? = nil) {
        self.method = method
        self.headers = headers
        self.cookies = cookies
        self.proxy = proxy
        self.userAgent = userAgent
        self.waitFor = waitFor
        self.screenshot = screenshot
        self.extractLinks = extractLinks
        self.extractImages = extractImages
        self.extractText = extractText
        self.customSelectors = customSelectors
        self.javascript = javascript
        self.mobile = mobile
    }
}

/// Body of `POST /scrape`.
public struct ScrapeRequest: Codable, Sendable, Equatable {
    public var url: String
    public var options: ScrapeOptions?

    public init(url: String, options: ScrapeOptions? = nil) {
        self.url = url
        self.options = options
    }
}

/// What `POST /scrape` (and `POST /info`, with fewer fields) returns. Every field is optional:
/// Scoup omits what was not asked for.
public struct ScrapeResult: Codable, Sendable, Equatable {
    /// The status code of the scraped page, not of the Scoup call.
    public var statusCode: Int?
    public var content: String?
    public var html: String?
    public var text: String?
    public var title: String?
    public var meta: JSONValue?
    /// Strings or objects with `href`/`url`; see `linkURLs`.
    public var links: [JSONValue]?
    public var images: [JSONValue]?
    public var customData: JSONValue?
    public var screenshotUrl: String?

    public init(statusCode: Int? = nil, content: String? = nil, html: String? = nil, text: String? = nil, title: String? = nil,
                meta: JSONValue? = nil, links: [JSONValue]? = nil, images: [JSONValue]? = nil, customData: JSONValue? = nil,
                screenshotUrl: String? = nil) {
        self.statusCode = statusCode
        self.content = content
        self.html = html
        self.text = text
        self.title = title
        self.meta = meta
        self.links = links
        self.images = images
        self.customData = customData
        self.screenshotUrl = screenshotUrl
    }

    /// The link targets, whether Scoup sent plain strings or `{href}` / `{url}` objects.
    public var linkURLs: [String] {
        (links ?? []).compactMap { $0.stringValue ?? $0["href"]?.stringValue ?? $0["url"]?.stringValue }
    }
}

/// Body of `POST /scrape/sitemap`.
public struct SitemapRequest: Codable, Sendable, Equatable {
    public var sitemapUrl: String
    public var filters: JSONValue?

    public init(sitemapUrl: String, filters: JSONValue? = nil) {
        self.sitemapUrl = sitemapUrl
        self.filters = filters
    }
}

/// What `POST /scrape/sitemap` returns.
public struct SitemapResult: Codable, Sendable, Equatable {
    public var urls: [String]

    public init(urls: [String]) { self.urls = urls }
}

/// Body of `POST /info`.
public struct InfoRequest: Codable, Sendable, Equatable {
    public var url: String
    public var infoOnly: Bool

    public init(url: String) {
        self.url = url
        self.infoOnly = true
    }
}

/// What `GET /health` returned: `status` when the body is a JSON object with one, and the whole body.
public struct ScoupHealth: Sendable, Equatable {
    public var status: String?
    public var body: JSONValue?
}
