/// A CSS selector compiled to XPath 1.0, the way cssselect/parsel do it, so that one engine
/// (libxml2's XPath) runs both kinds of query.
///
/// Supported: type and `*`, `#id`, `.class`, `[attr]`, `[attr=v]`, `^=`, `$=`, `*=`, `~=`, `|=`
/// (with an optional ` i` or ` s` flag), descendant, `>`, `+`, `~`, the structural pseudo-classes
/// of Selectors Level 3 (`:root`, `:first-child`, `:last-child`, `:only-child`, `:nth-child(an+b)`,
/// `:nth-last-child()`, `:first-of-type`, `:last-of-type`, `:only-of-type`, `:nth-of-type()`,
/// `:nth-last-of-type()`, `:empty`), the HTML ones `:checked`, `:disabled`, `:enabled`, `:link`
/// and `:any-link`, `:not(…)`, `:is(…)` and `:where(…)` (Level 4: a list of compound selectors),
/// selector lists, and parsel's `::text` and `::attr(name)` pseudo-elements at the end of a selector.
/// Beyond cssselect: `:not()` takes a list, `:is()`/`:where()` exist, and attribute names match
/// case-insensitively (HTML attribute names are lower-case once parsed, so the selector's are lower-cased).
/// Anything else is an `HTMLError` naming the 1-based position in the selector.
public struct CSSSelector: Sendable, CustomStringConvertible {
    public let source: String
    /// The XPath text the selector compiles to.
    public let xpathText: String
    /// The same selector as a matcher over the tree (`CSSMatcher`), which answers the same as the
    /// XPath without building XPath objects or copying strings; nil for the few constructs it does
    /// not take (`:checked`, `:disabled`, `:enabled`, a pseudo-element with nothing before it),
    /// which then go through XPath.
    let native: NativeSelector?

    public init(_ source: String) throws(HTMLError) {
        self.source = source
        var parser = Parser(source)
        (xpathText, native) = try parser.parseSelectorList()
    }

    /// The compiled XPath expression (compiled on each access; keep it when querying many pages).
    public var xpath: XPathExpression {
        get throws(HTMLError) { try XPathExpression(xpathText) }
    }

    public var description: String { source }

    /// Compiles to XPath text without keeping the selector.
    public static func toXPath(_ selector: String) throws(HTMLError) -> String { try CSSSelector(selector).xpathText }
}

private struct Parser {
    let source: String
    let chars: [Character]
    var i = 0
    /// How many `:not(` the parser is inside. Bounded, because each level recurses here and in
    /// libxml2's XPath compiler: a thousand levels (found by the fuzzer) overflow a thread's stack.
    var notDepth = 0
    static let maxNotDepth = 32

    init(_ source: String) {
        self.source = source
        chars = Array(source)
    }

    func error(_ message: String, at index: Int? = nil) -> HTMLError {
        HTMLError(.selector, message, subject: source, position: (index ?? i) + 1)
    }

    var atEnd: Bool { i >= chars.count }
    var current: Character? { i < chars.count ? chars[i] : nil }

    mutating func skipSpace() -> Bool {
        let start = i
        while let c = current, c.isWhitespace { i += 1 }
        return i > start
    }

    // selector-list := complex ("," complex)*
    mutating func parseSelectorList() throws(HTMLError) -> (String, NativeSelector?) {
        var parts: [String] = []
        var natives: [NativeComplex]? = []
        _ = skipSpace()
        if atEnd { throw error("empty selector") }
        while true {
            let (part, native) = try parseComplex(insideNot: false)
            parts.append(part)
            if let native { natives?.append(native) } else { natives = nil }
            _ = skipSpace()
            if atEnd { break }
            if current == "," {
                i += 1
                _ = skipSpace()
                if atEnd { throw error("expected a selector after ','") }
                continue
            }
            throw error("unexpected '\(current!)'")
        }
        return (parts.joined(separator: " | "), natives.map { NativeSelector(alternatives: $0) })
    }

    typealias Combinator = NativeCombinator

    // complex := compound (combinator compound)* pseudo-element?
    mutating func parseComplex(insideNot: Bool) throws(HTMLError) -> (String, NativeComplex?) {
        var path = ""
        var combinator: Combinator? = nil
        var native: NativeComplex? = NativeComplex()
        while true {
            let start = i
            let compound = try parseCompound()
            let pseudo = try parsePseudoElement()
            if compound == nil && pseudo == nil {
                if atEnd { throw error(combinator == nil ? "expected a selector" : "expected a selector after the combinator") }
                throw error("unexpected '\(current!)'")
            }
            if insideNot && pseudo != nil { throw error("pseudo-elements are not allowed inside :not()", at: start) }
            if let compound {
                let step = compound.step
                if let c = compound.native, native != nil {
                    if let combinator { native!.combinators.append(combinator) }
                    native!.compounds.append(c)
                } else {
                    native = nil
                }
                switch combinator {
                case nil: path = "descendant-or-self::" + step
                case .descendant: path += "/descendant::" + step
                case .child: path += "/" + step
                case .adjacent: path += "/following-sibling::*[1]/self::" + step
                case .sibling: path += "/following-sibling::" + step
                }
            }
            if let pseudo {
                switch (compound == nil, combinator) {
                case (false, _):
                    path += "/" + pseudo.onElement
                    native?.emit = pseudo.attribute.map { .attribute($0) } ?? .childText
                case (true, nil):
                    path = pseudo.onContext
                    native = nil
                case (true, .descendant):
                    path += "/descendant-or-self::" + pseudo.onDescendants
                    native?.emit = pseudo.attribute.map { .attributeOfSelfOrDescendants($0) } ?? .descendantText
                case (true, .child):
                    path += "/" + pseudo.onElement
                    // `a > ::text` is `a::text`; `a > ::attr(x)` is `a::attr(x)`.
                    native?.emit = pseudo.attribute.map { .attribute($0) } ?? .childText
                case (true, _): throw error("a pseudo-element needs an element after '+' or '~'", at: start)
                }
                // Nothing may follow a pseudo-element but the end or the next selector of a list.
                let afterPseudo = i
                _ = skipSpace()
                if !atEnd && current != "," && !(insideNot && current == ")") {
                    throw error("a pseudo-element must end the selector", at: afterPseudo)
                }
                i = afterPseudo
                return (path, native)
            }
            // Combinator or end.
            let hadSpace = skipSpace()
            guard let c = current, c != ",", !(insideNot && c == ")") else {
                return (path, native)
            }
            switch c {
            case ">": combinator = .child; i += 1; _ = skipSpace()
            case "+": combinator = .adjacent; i += 1; _ = skipSpace()
            case "~": combinator = .sibling; i += 1; _ = skipSpace()
            default:
                if !hadSpace { throw error("unexpected '\(c)'") }
                if insideNot { throw error(":not() takes compound selectors only (no combinators)") }
                combinator = .descendant
            }
            if insideNot && combinator != .descendant { throw error(":not() takes compound selectors only (no combinators)") }
            if atEnd { throw error("expected a selector after the combinator") }
        }
    }

    struct Compound {
        var element = "*"
        var conditions: [String] = []
        /// The same compound for the native matcher; nil once a condition it does not take is met.
        var native: NativeCompound? = NativeCompound()
        var step: String { element + conditions.map { "[\($0)]" }.joined() }
        /// The compound as a boolean test on the context node, for :not().
        var test: String {
            var parts: [String] = []
            if element != "*" { parts.append("self::\(element)") }
            parts.append(contentsOf: conditions)
            return parts.isEmpty ? "true()" : parts.map { "(\($0))" }.joined(separator: " and ")
        }
    }

    mutating func parseCompound() throws(HTMLError) -> Compound? {
        var compound = Compound()
        var any = false
        if current == "*" {
            i += 1
            any = true
        } else if let c = current, isNameStart(c) {
            let name = try parseIdentifier().lowercased()
            compound.element = xpathName(name)
            compound.native?.name = Array(name.utf8)
            any = true
        }
        while let c = current {
            let start = i
            switch c {
            case "#":
                i += 1
                guard let c2 = current, isNameChar(c2) else { throw error("expected an id after '#'", at: start) }
                let id = try parseIdentifier()
                compound.conditions.append("@id = \(literal(id))")
                compound.native?.conditions.append(.attribute(name: Array("id".utf8), op: .equals, value: Array(id.utf8), caseInsensitive: false))
            case ".":
                i += 1
                guard let c2 = current, isNameStart(c2) || c2 == "-" || c2.isNumber else {
                    throw error("expected a class name after '.'", at: start)
                }
                let name = try parseIdentifier()
                compound.conditions.append(Self.tokenTest("@class", name))
                compound.native?.conditions.append(.attribute(name: Array("class".utf8), op: .token, value: Array(name.utf8), caseInsensitive: false))
            case "[":
                let (condition, native) = try parseAttribute()
                compound.conditions.append(condition)
                if let native { compound.native?.conditions.append(native) } else { compound.native = nil }
            case ":":
                if i + 1 < chars.count && chars[i + 1] == ":" { return any ? compound : nil }
                let (condition, native) = try parsePseudoClass(element: compound.element, name: compound.native?.name)
                compound.conditions.append(condition)
                if let native { compound.native?.conditions.append(native) } else { compound.native = nil }
            default:
                return any ? compound : nil
            }
            any = true
        }
        return any ? compound : nil
    }

    struct PseudoElement {
        var onElement: String   // after an element step: "text()" or "@name"
        var onContext: String   // alone: the context node's own
        var onDescendants: String
        /// The attribute of `::attr(name)`, nil for `::text`.
        var attribute: [UInt8]? = nil
    }

    mutating func parsePseudoElement() throws(HTMLError) -> PseudoElement? {
        guard current == ":", i + 1 < chars.count, chars[i + 1] == ":" else { return nil }
        let start = i
        i += 2
        guard let c = current, isNameStart(c) else { throw error("expected a pseudo-element name after '::'", at: start) }
        let name = try parseIdentifier().lowercased()
        switch name {
        case "text":
            return PseudoElement(onElement: "text()", onContext: "text()", onDescendants: "text()")
        case "attr":
            guard current == "(" else { throw error("::attr needs an attribute name, as in ::attr(href)", at: start) }
            i += 1
            _ = skipSpace()
            guard let c2 = current, isNameStart(c2) else { throw error("expected an attribute name in ::attr()") }
            let name = try parseIdentifier().lowercased()
            let attribute = xpathName(name)
            _ = skipSpace()
            guard current == ")" else { throw error("expected ')' to close ::attr(") }
            i += 1
            return PseudoElement(onElement: "@" + attribute, onContext: "@" + attribute, onDescendants: "*/@" + attribute,
                                 attribute: Array(name.utf8))
        default:
            throw error("unsupported pseudo-element '::\(name)' (supported: ::text, ::attr(name))", at: start)
        }
    }

    mutating func parseAttribute() throws(HTMLError) -> (String, NativeCondition?) {
        let open = i
        i += 1
        _ = skipSpace()
        guard let c = current, isNameStart(c) else { throw error("expected an attribute name after '['") }
        let name = try parseIdentifier().lowercased()
        let attr = "@" + xpathName(name)
        _ = skipSpace()
        guard let c2 = current else { throw error("unclosed '['", at: open) }
        if c2 == "]" { i += 1; return (attr, .hasAttribute(Array(name.utf8))) }
        var op = ""
        if c2 == "=" { op = "="; i += 1 }
        else if "^$*~|".contains(c2), i + 1 < chars.count, chars[i + 1] == "=" { op = String(c2) + "="; i += 2 }
        else if c2 == "!" { throw error("'!=' is not CSS; use :not([\(name)=…])") }
        else { throw error("unexpected '\(c2)' in attribute selector") }
        _ = skipSpace()
        guard let c3 = current else { throw error("unclosed '['", at: open) }
        let value: String
        if c3 == "\"" || c3 == "'" { value = try parseString() }
        else if isNameChar(c3) { value = try parseIdentifier() }
        else { throw error("expected a value after '\(op)'") }
        _ = skipSpace()
        var caseInsensitive = false
        if current == "i" || current == "I" { caseInsensitive = true; i += 1; _ = skipSpace() }
        else if current == "s" || current == "S" { i += 1; _ = skipSpace() }
        guard current == "]" else { throw error(atEnd ? "unclosed '['" : "expected ']'", at: atEnd ? open : nil) }
        i += 1
        let subject = caseInsensitive ? "translate(\(attr), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')" : attr
        let v = caseInsensitive ? value.lowercased() : value
        let lit = literal(v)
        func native(_ op: NativeCondition.Operator) -> NativeCondition {
            .attribute(name: Array(name.utf8), op: op, value: Array(v.utf8), caseInsensitive: caseInsensitive)
        }
        switch op {
        case "=": return ("\(subject) = \(lit)", native(.equals))
        case "^=": return v.isEmpty ? ("false()", .never) : ("starts-with(\(subject), \(lit))", native(.prefix))
        case "$=":
            // The XPath counts Characters where libxml2 counts code points: where the two differ
            // the XPath is what the selector means (kept as it was), so no native form.
            return v.isEmpty ? ("false()", .never)
                : ("substring(\(subject), string-length(\(subject)) - \(v.count - 1)) = \(lit)",
                   v.count == v.unicodeScalars.count ? native(.suffix) : nil)
        case "*=": return v.isEmpty ? ("false()", .never) : ("contains(\(subject), \(lit))", native(.contains))
        case "~=":
            if v.isEmpty || v.contains(where: \.isWhitespace) { return ("false()", .never) }
            return (caseInsensitive ? "contains(concat(' ', normalize-space(\(subject)), ' '), \(literal(" " + v + " ")))"
                : Self.tokenTest(attr, v), native(.token))
        case "|=": return ("\(subject) = \(lit) or starts-with(\(subject), \(literal(v + "-")))", native(.dashPrefix))
        default: throw error("unsupported attribute operator '\(op)'")
        }
    }

    /// "`attribute` holds the whitespace-separated token `token`". The cheap tests go first: XPath's
    /// `and` stops early, so elements without the attribute, or without the text anywhere in it,
    /// never build the padded string (which costs two allocations per element on every query).
    static func tokenTest(_ attribute: String, _ token: String) -> String {
        "\(attribute) and contains(\(attribute), \(literal(token))) and "
            + "contains(concat(' ', normalize-space(\(attribute)), ' '), \(literal(" " + token + " ")))"
    }

    /// A pseudo-class as XPath, and as a native condition where the matcher takes it.
    mutating func parsePseudoClass(element: String, name elementName: [UInt8]?) throws(HTMLError) -> (String, NativeCondition?) {
        let start = i
        i += 1
        guard let c = current, isNameStart(c) else { throw error("expected a pseudo-class name after ':'", at: start) }
        let name = try parseIdentifier().lowercased()
        let preceding = "count(preceding-sibling::*)"
        let following = "count(following-sibling::*)"
        func ofType(_ axis: String) throws(HTMLError) -> String {
            guard element != "*" else { throw error(":\(name) needs an element name, as in p:\(name)", at: start) }
            return "count(\(axis)-sibling::\(element))"
        }
        let sameName = elementName.map { NativeCondition.Siblings.named($0) }
        switch name {
        case "first-child": return ("\(preceding) = 0", .position(.elements, fromEnd: false, a: 0, b: 1))
        case "last-child": return ("\(following) = 0", .position(.elements, fromEnd: true, a: 0, b: 1))
        case "only-child": return ("\(preceding) = 0 and \(following) = 0", .only(.elements))
        case "first-of-type": return ("\(try ofType("preceding")) = 0", sameName.map { .position($0, fromEnd: false, a: 0, b: 1) })
        case "last-of-type": return ("\(try ofType("following")) = 0", sameName.map { .position($0, fromEnd: true, a: 0, b: 1) })
        case "only-of-type":
            return ("\(try ofType("preceding")) = 0 and \(try ofType("following")) = 0", sameName.map { .only($0) })
        case "root": return ("not(parent::*)", .root)
        case "empty": return ("not(*) and not(text())", .empty)
        case "checked":
            // HTML: a checked checkbox or radio button, a selected option.
            return ("(self::input and @checked and (\(Self.lowered("@type")) = 'checkbox' or \(Self.lowered("@type")) = 'radio'))"
                + " or (self::option and @selected)", nil)
        case "disabled": return (Self.disabled, nil)
        case "enabled": return ("(\(Self.disableable)) and not(\(Self.disabled))", nil)
        case "link", "any-link": return ("@href and (self::a or self::area or self::link)", .link)
        case "nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type":
            let (a, b) = try parseNth(name: name, start: start)
            let count: String
            switch name {
            case "nth-child": count = preceding
            case "nth-last-child": count = following
            case "nth-of-type": count = try ofType("preceding")
            default: count = try ofType("following")
            }
            let siblings = name.hasSuffix("of-type") ? sameName : .elements
            return (Self.nthCondition(a: a, b: b, count: count),
                    siblings.map { .position($0, fromEnd: name.hasPrefix("nth-last"), a: a, b: b) })
        case "not", "is", "where", "matches":
            guard current == "(" else { throw error(":\(name) needs an argument, as in :\(name)(.sold-out)", at: start) }
            guard notDepth < Self.maxNotDepth else { throw error(":\(name)() nested more than \(Self.maxNotDepth) deep", at: start) }
            notDepth += 1
            defer { notDepth -= 1 }
            i += 1
            _ = skipSpace()
            var tests: [String] = []
            var natives: [NativeCompound]? = []
            while true {
                let argStart = i
                guard let compound = try parseCompound() else {
                    if atEnd { throw error("unclosed ':\(name)('", at: start) }
                    throw error("expected a simple selector in :\(name)()", at: argStart)
                }
                tests.append(compound.test)
                if let n = compound.native { natives?.append(n) } else { natives = nil }
                _ = skipSpace()
                if current == "," { i += 1; _ = skipSpace(); continue }
                if current == ")" { i += 1; break }
                if atEnd { throw error("unclosed ':\(name)('", at: start) }
                if current == ">" || current == "+" || current == "~" || current?.isWhitespace == true || isNameStart(current!) {
                    throw error(":\(name)() takes compound selectors only (no combinators)")
                }
                throw error("unexpected '\(current!)' in :\(name)()")
            }
            let any = tests.count == 1 ? tests[0] : tests.map { "(\($0))" }.joined(separator: " or ")
            let native = natives.map { name == "not" ? NativeCondition.not($0) : NativeCondition.any($0) }
            return (name == "not" ? "not(\(any))" : any, native)
        default:
            throw error("unsupported pseudo-class ':\(name)'", at: start)
        }
    }

    /// HTML form elements that can be disabled, and when they are (their own `disabled`, or an
    /// ancestor `<fieldset disabled>`, or for an option its `<optgroup disabled>`).
    static let disableable = "self::button or self::input or self::select or self::textarea or self::optgroup"
        + " or self::option or self::fieldset"
    static let disabled = "((\(disableable)) and @disabled)"
        + " or ((self::button or self::input or self::select or self::textarea) and ancestor::fieldset[@disabled])"
        + " or (self::option and ancestor::optgroup[@disabled])"

    /// An attribute's value in lower case (enumerated HTML attributes compare without case).
    static func lowered(_ attribute: String) -> String {
        "translate(\(attribute), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
    }

    /// `an+b` for a count of siblings `count` (position - 1): matches when some n >= 0 gives position = a*n + b.
    static func nthCondition(a: Int, b: Int, count: String) -> String {
        // position = count + 1, so position = a*n + b  <=>  count = a*n + (b - 1).
        let offset = b - 1
        if a == 0 { return "\(count) = \(offset)" }
        if a > 0 {
            let diff = offset == 0 ? count : offset > 0 ? "(\(count) - \(offset))" : "(\(count) + \(-offset))"
            // XPath's mod keeps the dividend's sign, so a negative difference must be excluded first.
            return offset > 0 ? "\(count) >= \(offset) and \(diff) mod \(a) = 0" : "\(diff) mod \(a) = 0"
        }
        // a < 0: positions b, b-|a|, … down to 1.
        return "\(count) <= \(offset) and (\(offset) - \(count)) mod \(-a) = 0"
    }

    mutating func parseNth(name: String, start: Int) throws(HTMLError) -> (Int, Int) {
        guard current == "(" else { throw error(":\(name) needs an argument, as in :\(name)(2n+1)", at: start) }
        i += 1
        let argStart = i
        var text = ""
        while let c = current, c != ")" { text.append(c); i += 1 }
        guard current == ")" else { throw error("unclosed ':\(name)('", at: start) }
        i += 1
        let compact = text.filter { !$0.isWhitespace }.lowercased()
        if compact == "odd" { return (2, 1) }
        if compact == "even" { return (2, 0) }
        if let b = Int(compact) { return (0, b) }
        if let n = compact.firstIndex(of: "n") {
            let aText = String(compact[..<n])
            let bText = String(compact[compact.index(after: n)...])
            let a: Int?
            switch aText {
            case "", "+": a = 1
            case "-": a = -1
            default: a = Int(aText)
            }
            let b: Int? = bText.isEmpty ? 0 : ((bText.hasPrefix("+") || bText.hasPrefix("-")) ? Int(bText) : nil)
            if let a, let b { return (a, b) }
        }
        throw error("expected an+b, odd or even in :\(name)(), found '\(text)'", at: argStart)
    }

    mutating func parseIdentifier() throws(HTMLError) -> String {
        var out = ""
        while let c = current {
            try requireXMLCharacter(c)
            if c == "\\" {
                i += 1
                guard let escaped = current else { throw error("a backslash ends the selector") }
                try requireXMLCharacter(escaped)
                out.append(escaped)
                i += 1
            } else if isNameChar(c) {
                out.append(c)
                i += 1
            } else {
                break
            }
        }
        return out
    }

    mutating func parseString() throws(HTMLError) -> String {
        let quote = current!
        let start = i
        i += 1
        var out = ""
        while let c = current, c != quote {
            try requireXMLCharacter(c)
            if c == "\\" { i += 1; guard let e = current else { break }; try requireXMLCharacter(e); out.append(e); i += 1; continue }
            out.append(c)
            i += 1
        }
        guard current == quote else { throw error("unclosed string", at: start) }
        i += 1
        return out
    }

    /// Names and strings end up in XPath, which (like XML) cannot hold NUL, most control
    /// characters or U+FFFE/FFFF, and no document holds them either: refused where they stand.
    func requireXMLCharacter(_ c: Character) throws(HTMLError) {
        for scalar in c.unicodeScalars {
            let v = scalar.value
            let allowed = v == 0x9 || v == 0xA || v == 0xD || (0x20...0xD7FF).contains(v) || (0xE000...0xFFFD).contains(v)
                || (0x10000...0x10FFFF).contains(v)
            if !allowed { throw error(String(format: "the character U+%04X cannot appear in a selector", v)) }
        }
    }

    func isNameStart(_ c: Character) -> Bool { c.isLetter || c == "_" || c == "-" || c == "\\" || !c.isASCII }
    func isNameChar(_ c: Character) -> Bool { isNameStart(c) || c.isNumber }
}

/// A CSS name (which may hold any character, escaped or not ASCII) as an XPath name test: the
/// name itself when XPath reads it as one, otherwise `*[local-name()='…']`, which matches the
/// same elements or attributes (after `@`).
func xpathName(_ name: String) -> String {
    let bytes = Array(name.utf8)
    func letter(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == 0x5F }
    func rest(_ b: UInt8) -> Bool { letter(b) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E }
    if let first = bytes.first, letter(first), bytes.dropFirst().allSatisfy(rest) { return name }
    return "*[local-name()=\(literal(name))]"
}

/// An XPath string literal for any text (XPath 1.0 has no escapes: quotes need concat()).
///
/// Works on Unicode scalars, not Characters: a quote followed by a combining mark is one Character
/// that is not "'", yet libxml2 still reads its quote (found by fuzzing).
func literal(_ text: String) -> String {
    let scalars = text.unicodeScalars
    if !scalars.contains("'") { return "'\(text)'" }
    if !scalars.contains("\"") { return "\"\(text)\"" }
    let parts = scalars.split(separator: "'", omittingEmptySubsequences: false).map { "'\(String(String.UnicodeScalarView($0)))'" }
    return "concat(" + parts.joined(separator: ", \"'\", ") + ")"
}
