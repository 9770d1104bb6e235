/// The plain absolute XPath paths that scrapers write most, `//div[@class='rating']/span[@class='count']/text()`,
/// lowered to the native matcher (`CSSMatcher`), so that a page whose fields mix CSS and such XPath
/// is still matched in one walk. Anything beyond this subset stays with libxml2's XPath:
///
///     path  := '//' step (('/' | '//') step)* ('/text()' | '//text()' | '/@' name | '//@' name)?
///     step  := ('*' | name) ('[@' name ']' | '[@' name '=' quoted ']')*
///
/// with lower-case ASCII names (HTML names are lower-case once parsed; an upper-case name would
/// match nothing in XPath) and no white space. `@a='v'` compares the value byte for byte, as XPath
/// compares the strings. The path is absolute: from a record, it still searches the whole page, so
/// the extractor uses the native form only when the page is the record.
enum SimpleXPath {
    static func native(_ text: String) -> NativeSelector? {
        var parser = Parser(bytes: Array(text.utf8))
        return parser.parse().map { NativeSelector(alternatives: [$0]) }
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        var atEnd: Bool { i >= bytes.count }

        mutating func take(_ literal: String) -> Bool {
            let l = Array(literal.utf8)
            guard i + l.count <= bytes.count, Array(bytes[i..<(i + l.count)]) == l else { return false }
            i += l.count
            return true
        }

        mutating func name() -> [UInt8]? {
            let start = i
            while i < bytes.count {
                let b = bytes[i]
                let ok = (b >= 0x61 && b <= 0x7A) || (i > start && ((b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F))
                if !ok { break }
                i += 1
            }
            return i > start ? Array(bytes[start..<i]) : nil
        }

        mutating func quoted() -> [UInt8]? {
            guard i < bytes.count, bytes[i] == 0x27 || bytes[i] == 0x22 else { return nil }
            let quote = bytes[i]
            i += 1
            let start = i
            while i < bytes.count && bytes[i] != quote { i += 1 }
            guard i < bytes.count else { return nil }
            let value = Array(bytes[start..<i])
            i += 1
            return value
        }

        mutating func parse() -> NativeComplex? {
            guard take("//") else { return nil }
            var complex = NativeComplex()
            while true {
                var compound = NativeCompound()
                if !take("*") {
                    guard let n = name() else { return nil }
                    compound.name = n
                }
                while take("[@") {
                    guard let attribute = name() else { return nil }
                    if take("=") {
                        guard let value = quoted() else { return nil }
                        compound.conditions.append(.attribute(name: attribute, op: .equals, value: value, caseInsensitive: false))
                    } else {
                        compound.conditions.append(.hasAttribute(attribute))
                    }
                    guard take("]") else { return nil }
                }
                complex.compounds.append(compound)
                if atEnd { return complex }
                let combinator: NativeCombinator
                if take("//") { combinator = .descendant } else if take("/") { combinator = .child } else { return nil }
                if take("text()") {
                    guard atEnd else { return nil }
                    complex.emit = combinator == .child ? .childText : .descendantText
                    return complex
                }
                if take("@") {
                    guard let attribute = name(), atEnd else { return nil }
                    complex.emit = combinator == .child ? .attribute(attribute) : .attributeOfSelfOrDescendants(attribute)
                    return complex
                }
                complex.combinators.append(combinator)
            }
        }
    }
}
