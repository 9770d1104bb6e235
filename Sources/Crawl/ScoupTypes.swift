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

extension ScrapeOptions {
    /// `self` over `base`: a field set here wins; custom selectors are merged (here wins per name),
    /// and so are headers.
    public func over(_ base: ScrapeOptions) -> ScrapeOptions {
        var out = base
        if let method { out.method = method }
        if let headers { out.headers = (base.headers ?? [:]).merging(headers) { _, mine in mine } }
        if let cookies { out.cookies = cookies }
        if let proxy { out.proxy = proxy }
        if let userAgent { out.userAgent = userAgent }
        if let waitFor { out.waitFor = waitFor }
        if let screenshot { out.screenshot = screenshot }
        if let extractLinks { out.extractLinks = extractLinks }
        if let extractImages { out.extractImages = extractImages }
        if let extractText { out.extractText = extractText }
        if let customSelectors { out.customSelectors = (base.customSelectors ?? [:]).merging(customSelectors) { _, mine in mine } }
        if let javascript { out.javascript = javascript }
        if let mobile { out.mobile = mobile }
        return out
    }
}

/// The seed's page presets: what a kind of page needs from Scoup (custom selectors and what to
/// extract), so that a pipeline names the kind of page instead of listing selectors. A stage's own
/// settings win over its preset's, selector by selector.
public enum ScoupPreset: String, CaseIterable, Sendable {
    case ecommerceProduct = "ecommerce_product"
    case blogArticle = "blog_article"
    case competitorAnalysis = "competitor_analysis"
    case socialMedia = "social_media"

    /// What the preset sends in `options`.
    public var options: ScrapeOptions {
        switch self {
        case .ecommerceProduct:
            return ScrapeOptions(extractImages: true, customSelectors: [
                "name": "h1, [itemprop=name]",
                "price": "[itemprop=price], .price",
                "currency": "[itemprop=priceCurrency]",
                "sku": "[itemprop=sku], .sku",
                "brand": "[itemprop=brand], .brand",
                "availability": "[itemprop=availability], .availability, .stock",
                "rating": "[itemprop=ratingValue], .rating",
                "review_count": "[itemprop=reviewCount], .review-count",
                "description": "[itemprop=description], .product-description",
            ])
        case .blogArticle:
            return ScrapeOptions(extractText: true, customSelectors: [
                "headline": "article h1, h1",
                "author": "[rel=author], [itemprop=author], .author",
                "published": "time[datetime], [itemprop=datePublished]",
                "tags": "[rel=tag], .tags a",
                "summary": "article p",
            ])
        case .competitorAnalysis:
            return ScrapeOptions(extractLinks: true, extractText: true, customSelectors: [
                "headline": "h1",
                "tagline": "header p, .hero p, .tagline",
                "prices": ".price, [itemprop=price]",
                "plans": ".plan h2, .plan h3, .pricing h3",
                "features": ".features li, .feature h3",
                "cta": "a.button, a.btn, button",
            ])
        case .socialMedia:
            return ScrapeOptions(waitFor: 2000, extractImages: true, customSelectors: [
                "author": "[itemprop=author], .author, .username",
                "posted": "time[datetime]",
                "content": "article, .post-content, [data-testid=tweetText]",
                "likes": ".likes, [data-testid=like]",
                "shares": ".shares, [data-testid=retweet]",
                "comments": ".comments-count, [data-testid=reply]",
            ], javascript: true)
        }
    }

    /// One line for the reference: what the preset is for.
    public var summary: String {
        switch self {
        case .ecommerceProduct: return "a product page: name, price, currency, sku, brand, availability, rating, review_count, description; images"
        case .blogArticle: return "an article: headline, author, published, tags, summary; the page text"
        case .competitorAnalysis: return "a competitor's landing or pricing page: headline, tagline, prices, plans, features, cta; text and links"
        case .socialMedia: return "a post (rendered with JavaScript, 2 s wait): author, posted, content, likes, shares, comments; images"
        }
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

    enum CodingKeys: String, CodingKey {
        case statusCode, content, html, text, title, meta, links, images, customData, screenshotUrl
    }

    /// Read leniently, from the answer as sent: the fields at the top, or inside a `data` (or
    /// `result`) envelope (`{success: true, data: {…}}`); the status as `statusCode`, `status_code`
    /// or a numeric `status`; `custom_data` and `screenshot_url` too.
    public init(from decoder: Decoder) throws {
        self.init(answer: try JSONValue(from: decoder))
    }

    /// The page fields of a Scoup answer (see `init(from:)`); a field of an unexpected type is nil.
    public init(answer: JSONValue) {
        let page = Self.page(of: answer)
        func string(_ keys: String...) -> String? { keys.lazy.compactMap { page[$0]?.stringValue }.first }
        func value(_ keys: String...) -> JSONValue? {
            keys.lazy.compactMap { key -> JSONValue? in
                guard let v = page[key], v != .null else { return nil }
                return v
            }.first
        }
        func array(_ key: String) -> [JSONValue]? { if case .array(let a)? = page[key] { a } else { nil } }
        var status: Int?
        for key in ["statusCode", "status_code", "status", "httpStatus"] {
            switch page[key] {
            case .number(let n)? where n.rounded() == n && abs(n) < 1e6: status = Int(n)
            case .string(let s)? where Int(s) != nil: status = Int(s)
            default: continue
            }
            break
        }
        self.init(statusCode: status, content: string("content"), html: string("html"), text: string("text"),
                  title: string("title") ?? page["meta"]?["title"]?.stringValue, meta: value("meta", "metadata"),
                  links: array("links"), images: array("images"), customData: value("customData", "custom_data"),
                  screenshotUrl: string("screenshotUrl", "screenshot_url", "screenshot"))
    }

    /// The object holding the page's fields: the answer, or its `data` / `result` envelope when it has one.
    public static func page(of answer: JSONValue) -> JSONValue {
        guard case .object(let top) = answer else { return answer }
        let pageKeys = ["statusCode", "status_code", "html", "content", "title", "meta", "customData", "text"]
        if pageKeys.contains(where: { top[$0] != nil }) { return answer }
        for key in ["data", "result", "page"] {
            if case .object? = top[key] { return top[key]! }
        }
        return answer
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

/// What `POST /info` returned: the answer as sent, and its page fields.
public struct ScoupPageInfo: Sendable, Equatable {
    /// Scoup's whole answer, every field kept.
    public var answer: JSONValue
    public var page: ScrapeResult

    public init(answer: JSONValue) {
        self.answer = answer
        self.page = ScrapeResult(answer: answer)
    }

    /// The answer's fields (inside its `data` envelope, if any) as `name`, `value` rows, nested
    /// objects flattened (`meta lang`), in the answer's keys' sorted order.
    public var rows: [(name: String, value: JSONValue)] {
        guard case .object(let object) = ScrapeResult.page(of: answer) else { return [("answer", answer)] }
        var rows: [(name: String, value: JSONValue)] = []
        for key in object.keys.sorted() {
            if case .object(let inner) = object[key]!, !inner.isEmpty, inner.count <= 50 {
                for innerKey in inner.keys.sorted() { rows.append(("\(key) \(innerKey)", inner[innerKey]!)) }
            } else {
                rows.append((key, object[key]!))
            }
        }
        return rows
    }
}

/// What `GET /health` returned: `status` when the body is a JSON object with one, and the whole body.
public struct ScoupHealth: Sendable, Equatable {
    public var status: String?
    public var body: JSONValue?
}
