/// An error from the HTML module: a selector or XPath that does not compile or evaluate, or a
/// page that cannot be parsed. Carries the expression or URL it is about.
///
/// A struct over a private enum so that new cases can be added without breaking callers.
public struct HTMLError: Error, CustomStringConvertible, Sendable, Equatable {
    enum Code: Sendable, Equatable {
        case parse
        case xpath
        case selector
        case jsonPath
    }

    let code: Code
    /// What went wrong.
    public let reason: String
    /// The selector, XPath expression or URL involved.
    public let subject: String?
    /// 1-based character position in the selector or expression, when known.
    public let position: Int?
    /// The underlying library message.
    public let cause: String?

    init(_ code: Code, _ reason: String, subject: String? = nil, position: Int? = nil, cause: String? = nil) {
        self.code = code
        self.reason = reason
        self.subject = subject
        self.position = position
        self.cause = cause
    }

    public var description: String {
        var text = reason
        if let position { text += " at position \(position)" }
        if let subject {
            switch code {
            case .selector: text = "CSS selector '\(subject)': " + text
            case .xpath: text = "XPath '\(subject)': " + text
            case .jsonPath: text = "JSON-LD path '\(subject)': " + text
            case .parse: text = subject + ": " + text
            }
        }
        if let cause { text += " (\(cause))" }
        return text
    }

    public static func ~= (lhs: HTMLError, rhs: any Error) -> Bool { (rhs as? HTMLError)?.code == lhs.code }

    /// Matches any selector error (for `catch HTMLError.selector`).
    public static let selector = HTMLError(.selector, "invalid CSS selector")
    public static let xpath = HTMLError(.xpath, "invalid XPath")
    public static let parse = HTMLError(.parse, "cannot parse HTML")
    public static let jsonPath = HTMLError(.jsonPath, "invalid JSON-LD path")
}
