internal import CXML2

// A CSS selector matched over libxml2's tree directly: the same answers as the XPath that
// `CSSSelector` compiles to (cssselect's translation), without XPath's node-set objects, its
// string copies for `@class`/`normalize-space()`, or a scan of the page per selector. Several
// selectors are matched in one walk of the page (`CSSMatcher.match`).
//
// Semantics kept from the XPath, which the conformance tests pin:
// - the first compound may match the context node itself (`descendant-or-self::`), and no
//   compound matches above it;
// - `*` and names match elements only; names compare byte for byte (the parser lower-cases
//   HTML names, the selector's are lower-cased when compiled);
// - attribute values compare as XPath strings (byte for byte; `i` lower-cases ASCII only, as
//   `translate()` does), `~=` and `.class` split on XML white space as `normalize-space()`;
// - results come in document order without repeats, attributes right after their element.

/// How two compounds of a complex selector relate.
enum NativeCombinator: Sendable { case descendant, child, adjacent, sibling }

/// One test of a compound selector.
indirect enum NativeCondition: Sendable {
    enum Operator: Sendable { case equals, prefix, suffix, contains, token, dashPrefix }
    enum Siblings: Sendable {
        case elements
        case named([UInt8])
    }
    case hasAttribute([UInt8])
    case attribute(name: [UInt8], op: Operator, value: [UInt8], caseInsensitive: Bool)
    /// `:nth-child(an+b)` and kin: position among `Siblings`, counted from the start or the end.
    case position(Siblings, fromEnd: Bool, a: Int, b: Int)
    case only(Siblings)
    case root, empty, link, never
    case not([NativeCompound])
    case any([NativeCompound])
}

struct NativeCompound: Sendable {
    /// The element name; nil for `*`.
    var name: [UInt8]? = nil
    var conditions: [NativeCondition] = []
}

struct NativeComplex: Sendable {
    /// What a match yields.
    enum Emit: Sendable, Equatable {
        case elements
        /// `a::text`: the text children of each match.
        case childText
        /// `a ::text`: every text node under each match.
        case descendantText
        /// `a::attr(x)`: the attribute of each match.
        case attribute([UInt8])
        /// `a ::attr(x)`: the attribute of each match and of every element under it.
        case attributeOfSelfOrDescendants([UInt8])
    }

    var compounds: [NativeCompound] = []
    /// `combinators[i]` joins `compounds[i]` and `compounds[i + 1]`.
    var combinators: [NativeCombinator] = []
    var emit: Emit = .elements

    /// `+` and `~` can reach the siblings of the context node, outside the subtree walked.
    var reachesSiblings: Bool { combinators.contains { $0 == .adjacent || $0 == .sibling } }
}

struct NativeSelector: Sendable {
    var alternatives: [NativeComplex]
}

private typealias Node = UnsafeMutablePointer<xmlNode>

/// Selectors lowered to plain data (offsets into flat tables, no references), so that matching
/// costs no reference counting: compiled once, matched against many pages.
final class CSSMatchProgram: @unchecked Sendable {
    struct Bytes { var offset: Int32 = 0; var count: Int32 = -1 }  // count -1: absent
    struct Condition {
        var kind: Kind
        var op: NativeCondition.Operator = .equals
        var fold = false
        var fromEnd = false
        var name = Bytes()  // attribute name, or the sibling name of the `of-type` kinds (absent: any element)
        var value = Bytes()
        var a = 0, b = 0
        var sub: Range<Int32> = 0..<0  // compounds of :not() / :is()
        enum Kind: UInt8 { case hasAttribute, attribute, position, only, root, empty, link, never, not, any }
    }
    struct Compound { var name = Bytes(); var conditions: Range<Int32> = 0..<0 }
    struct Complex {
        var compounds: Range<Int32>  // in order; combinators[i] joins compounds[i] and compounds[i + 1]
        var emit: EmitKind
        var emitName = Bytes()
        var selector: Int32
    }
    enum EmitKind: UInt8 { case elements, childText, descendantText, attribute, attributeOfSelfOrDescendants }

    let selectorCount: Int
    /// Per selector: whether it has `+`/`~` (not answerable from an element scope).
    let reachesSiblings: [Bool]
    private(set) var complexes: UnsafeMutableBufferPointer<Complex>
    private(set) var compounds: UnsafeMutableBufferPointer<Compound>
    private(set) var combinators: UnsafeMutableBufferPointer<NativeCombinator>
    private(set) var conditions: UnsafeMutableBufferPointer<Condition>
    private(set) var bytes: UnsafeMutableBufferPointer<UInt8>
    let wantsText: Bool
    let wantsAttributes: Bool

    init(_ selectors: [NativeSelector]) {
        var complexes: [Complex] = []
        var compounds: [Compound] = []
        var combinators: [NativeCombinator] = []
        var conditions: [Condition] = []
        var bytes: [UInt8] = [0]
        func intern(_ b: [UInt8]) -> Bytes {
            let offset = Int32(bytes.count)
            bytes += b
            return Bytes(offset: offset, count: Int32(b.count))
        }
        // Compounds are laid out first, their conditions after; :not()/:is() compounds go to the end.
        func lower(_ compound: NativeCompound) -> Compound {
            var out = Compound()
            if let name = compound.name { out.name = intern(name) }
            var lowered: [Condition] = []
            for condition in compound.conditions {
                var c = Condition(kind: .never)
                switch condition {
                case .hasAttribute(let name): c.kind = .hasAttribute; c.name = intern(name)
                case .attribute(let name, let op, let value, let fold):
                    c.kind = .attribute; c.name = intern(name); c.op = op; c.value = intern(value); c.fold = fold
                case .position(let siblings, let fromEnd, let a, let b):
                    c.kind = .position; c.fromEnd = fromEnd; c.a = a; c.b = b
                    if case .named(let n) = siblings { c.name = intern(n) }
                case .only(let siblings):
                    c.kind = .only
                    if case .named(let n) = siblings { c.name = intern(n) }
                case .root: c.kind = .root
                case .empty: c.kind = .empty
                case .link: c.kind = .link
                case .never: c.kind = .never
                case .not(let subs), .any(let subs):
                    if case .not = condition { c.kind = .not } else { c.kind = .any }
                    let lowered = subs.map(lower)
                    let start = Int32(compounds.count)
                    compounds += lowered
                    c.sub = start..<Int32(compounds.count)
                }
                lowered.append(c)
            }
            let start = Int32(conditions.count)
            conditions += lowered
            out.conditions = start..<Int32(conditions.count)
            return out
        }
        var siblings: [Bool] = []
        for (index, selector) in selectors.enumerated() {
            siblings.append(selector.alternatives.contains(where: \.reachesSiblings))
            for complex in selector.alternatives {
                // Combinators are indexed by compound: slot i joins compound i and i + 1.
                let lowered = complex.compounds.map(lower)
                let start = Int32(compounds.count)
                compounds += lowered
                while combinators.count < compounds.count { combinators.append(.descendant) }
                for (i, combinator) in complex.combinators.enumerated() { combinators[Int(start) + i] = combinator }
                var out = Complex(compounds: start..<Int32(compounds.count), emit: .elements, selector: Int32(index))
                switch complex.emit {
                case .elements: out.emit = .elements
                case .childText: out.emit = .childText
                case .descendantText: out.emit = .descendantText
                case .attribute(let name): out.emit = .attribute; out.emitName = intern(name)
                case .attributeOfSelfOrDescendants(let name): out.emit = .attributeOfSelfOrDescendants; out.emitName = intern(name)
                }
                complexes.append(out)
            }
        }
        while combinators.count < compounds.count { combinators.append(.descendant) }
        selectorCount = selectors.count
        reachesSiblings = siblings
        func copy<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
            _ = buffer.initialize(from: array)
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<array.count])
        }
        self.complexes = copy(complexes)
        self.compounds = copy(compounds)
        self.combinators = copy(combinators)
        self.conditions = copy(conditions)
        self.bytes = copy(bytes)
        wantsText = complexes.contains { $0.emit == .childText || $0.emit == .descendantText }
        wantsAttributes = complexes.contains { $0.emit == .attribute || $0.emit == .attributeOfSelfOrDescendants }
    }

    deinit {
        complexes.baseAddress?.deallocate()
        compounds.baseAddress?.deallocate()
        combinators.baseAddress?.deallocate()
        conditions.baseAddress?.deallocate()
        bytes.baseAddress?.deallocate()
    }
}

enum CSSMatcher {
    /// The nodes each selector selects under `scope` (an element or the document), each list in
    /// document order without repeats; nil for a selector the walk cannot answer from this scope
    /// (`+`/`~` from an element scope), which the caller then evaluates as XPath.
    static func match(_ selectors: [NativeSelector], scope raw: UnsafeMutableRawPointer) -> [[UnsafeMutableRawPointer]?] {
        match(CSSMatchProgram(selectors), scope: raw)
    }

    static func match(_ program: CSSMatchProgram, scope raw: UnsafeMutableRawPointer) -> [[UnsafeMutableRawPointer]?] {
        let scope = raw.assumingMemoryBound(to: xmlNode.self)
        let scopeIsElement = scope.pointee.type == XML_ELEMENT_NODE
        var walker = Walker(program: program, scope: scope, skipSiblingSelectors: scopeIsElement)
        walker.run()
        var results: [[UnsafeMutableRawPointer]?] = walker.out
        if scopeIsElement { for index in results.indices where program.reachesSiblings[index] { results[index] = nil } }
        return results
    }
}

private struct Walker {
    let program: CSSMatchProgram
    let scope: Node
    let complexes: UnsafeMutableBufferPointer<CSSMatchProgram.Complex>
    let compounds: UnsafeMutableBufferPointer<CSSMatchProgram.Compound>
    let combinators: UnsafeMutableBufferPointer<NativeCombinator>
    let conditions: UnsafeMutableBufferPointer<CSSMatchProgram.Condition>
    let bytes: UnsafeMutablePointer<UInt8>
    let count: Int
    /// Alternatives not walked (`+`/`~` from an element scope).
    var skipped: [Bool]
    var out: [[UnsafeMutableRawPointer]]
    /// Per selector, the node last appended (repeats from several alternatives come together).
    var last: [Node?]
    /// Which alternatives each open element on the path from the scope matched (`count` flags
    /// per element, the innermost last): text nodes read their parent's.
    var matchedStack: [Bool] = []
    /// Per alternative, how many open elements matched it (for the descendant emit kinds).
    var openMatches: [Int]

    init(program: CSSMatchProgram, scope: Node, skipSiblingSelectors: Bool) {
        self.program = program
        self.scope = scope
        complexes = program.complexes
        compounds = program.compounds
        combinators = program.combinators
        conditions = program.conditions
        bytes = program.bytes.baseAddress!
        count = program.complexes.count
        skipped = program.complexes.map { skipSiblingSelectors && program.reachesSiblings[Int($0.selector)] }
        out = Array(repeating: [], count: program.selectorCount)
        last = Array(repeating: nil, count: program.selectorCount)
        openMatches = Array(repeating: 0, count: count)
        matchedStack.reserveCapacity(64 * count)
    }

    mutating func append(_ node: Node, _ selector: Int32) {
        let s = Int(selector)
        if last[s] == node { return }
        last[s] = node
        out[s].append(UnsafeMutableRawPointer(node))
    }

    /// Walks the scope's subtree in document order without recursion (pages nest thousands deep).
    mutating func run() {
        if scope.pointee.type == XML_ELEMENT_NODE {
            enter(scope)
            if let first = scope.pointee.children { walk(from: first) }
            leave()
        } else if let first = scope.pointee.children {
            walk(from: first)
        }
    }

    mutating func walk(from first: Node) {
        var next: Node? = first
        while let node = next {
            switch node.pointee.type {
            case XML_ELEMENT_NODE:
                enter(node)
                if let child = node.pointee.children {
                    next = child
                    continue
                }
                leave()
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if program.wantsText { visitText(node) }
            default:
                break
            }
            // The next sibling, else up (leaving each element) to an ancestor that has one.
            var current = node
            next = nil
            while true {
                if let sibling = current.pointee.next {
                    next = sibling
                    break
                }
                guard let parent = current.pointee.parent, parent != scope else { break }
                leave()
                current = parent
            }
        }
    }

    mutating func visitText(_ node: Node) {
        let top = matchedStack.count - count
        guard top >= 0 else { return }
        for k in 0..<count {
            switch complexes[k].emit {
            case .childText where matchedStack[top + k], .descendantText where openMatches[k] > 0: append(node, complexes[k].selector)
            default: break
            }
        }
    }

    @inline(__always)
    func name(_ b: CSSMatchProgram.Bytes) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: bytes + Int(b.offset), count: Int(b.count))
    }

    /// Matches `element` against every alternative and keeps its flags until `leave()`.
    mutating func enter(_ element: Node) {
        let base = matchedStack.count
        var any = false
        for k in 0..<count {
            let complex = complexes[k]
            let matched = !skipped[k] && matches(complex.compounds.lowerBound, Int(complex.compounds.upperBound) - 1, element)
            matchedStack.append(matched)
            if matched {
                any = true
                if complex.emit == .elements { append(element, complex.selector) }
            }
        }
        // Attributes follow their element in document order, in the element's own order.
        var attribute = element.pointee.properties
        if program.wantsAttributes && attribute != nil {
            var wanted = false
            for k in 0..<count {
                switch complexes[k].emit {
                case .attribute where matchedStack[base + k]: wanted = true
                case .attributeOfSelfOrDescendants where matchedStack[base + k] || openMatches[k] > 0: wanted = true
                default: break
                }
            }
            while wanted, let a = attribute {
                for k in 0..<count {
                    let complex = complexes[k]
                    switch complex.emit {
                    case .attribute where matchedStack[base + k] && equal(a.pointee.name, name(complex.emitName)),
                         .attributeOfSelfOrDescendants
                            where (matchedStack[base + k] || openMatches[k] > 0) && equal(a.pointee.name, name(complex.emitName)):
                        append(UnsafeMutableRawPointer(a).assumingMemoryBound(to: xmlNode.self), complex.selector)
                    default: break
                    }
                }
                attribute = a.pointee.next
            }
        }
        if any { for k in 0..<count where matchedStack[base + k] { openMatches[k] += 1 } }
    }

    /// Ends the innermost entered element.
    mutating func leave() {
        let base = matchedStack.count - count
        for k in 0..<count where matchedStack[base + k] { openMatches[k] -= 1 }
        matchedStack.removeLast(count)
    }

    /// Whether `element` matches compounds `first...index` of a complex selector, the last one itself.
    func matches(_ first: Int32, _ index: Int, _ element: Node) -> Bool {
        guard matchesCompound(index, element) else { return false }
        if index == Int(first) { return true }
        switch combinators[index - 1] {
        case .child:
            guard element != scope, let parent = element.pointee.parent, parent.pointee.type == XML_ELEMENT_NODE else { return false }
            return matches(first, index - 1, parent)
        case .descendant:
            var ancestor = element
            while ancestor != scope, let parent = ancestor.pointee.parent, parent.pointee.type == XML_ELEMENT_NODE {
                if matches(first, index - 1, parent) { return true }
                ancestor = parent
            }
            return false
        case .adjacent:
            guard let previous = previousElement(element) else { return false }
            return matches(first, index - 1, previous)
        case .sibling:
            var previous = previousElement(element)
            while let p = previous {
                if matches(first, index - 1, p) { return true }
                previous = previousElement(p)
            }
            return false
        }
    }

    func matchesCompound(_ index: Int, _ element: Node) -> Bool {
        let compound = compounds[index]
        if compound.name.count >= 0, !equal(element.pointee.name, name(compound.name)) { return false }
        for c in compound.conditions where !holds(Int(c), element) { return false }
        return true
    }

    /// The attribute named `name` of `element`, if present.
    @inline(__always)
    func attributeNode(_ element: Node, _ attributeName: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<xmlAttr>? {
        var attribute = element.pointee.properties
        while let a = attribute {
            if a.pointee.ns == nil, equal(a.pointee.name, attributeName) { return a }
            attribute = a.pointee.next
        }
        return nil
    }

    /// The 1-based position of `element` among its siblings (all elements, or those named `named`).
    func position(_ element: Node, named: CSSMatchProgram.Bytes, fromEnd: Bool) -> Int {
        var count = 1
        var p = fromEnd ? nextElement(element) : previousElement(element)
        while let n = p {
            if named.count < 0 || equal(n.pointee.name, name(named)) { count += 1 }
            p = fromEnd ? nextElement(n) : previousElement(n)
        }
        return count
    }

    func holds(_ index: Int, _ element: Node) -> Bool {
        let condition = conditions[index]
        switch condition.kind {
        case .hasAttribute:
            return attributeNode(element, name(condition.name)) != nil
        case .attribute:
            guard let attribute = attributeNode(element, name(condition.name)) else { return false }
            return withValue(attribute) { compare($0, condition.op, name(condition.value), fold: condition.fold) }
        case .position:
            // As the XPath: with count = position - 1, some n >= 0 gives position = a*n + b.
            let count = position(element, named: condition.name, fromEnd: condition.fromEnd) - 1
            let (a, offset) = (condition.a, condition.b &- 1)
            if a == 0 { return count == offset }
            if a > 0 {
                let diff = count &- offset
                return diff >= 0 && diff % a == 0
            }
            return count <= offset && (offset &- count) % (0 &- a) == 0
        case .only:
            return position(element, named: condition.name, fromEnd: false) == 1
                && position(element, named: condition.name, fromEnd: true) == 1
        case .root:
            return element.pointee.parent.map { $0.pointee.type != XML_ELEMENT_NODE } ?? true
        case .empty:
            var child = element.pointee.children
            while let c = child {
                switch c.pointee.type {
                case XML_ELEMENT_NODE, XML_TEXT_NODE, XML_CDATA_SECTION_NODE: return false
                default: child = c.pointee.next
                }
            }
            return true
        case .link:
            guard attributeNode(element, staticBytes(linkHref)) != nil else { return false }
            return equal(element.pointee.name, staticBytes(linkA)) || equal(element.pointee.name, staticBytes(linkArea))
                || equal(element.pointee.name, staticBytes(linkLink))
        case .never:
            return false
        case .not:
            for sub in condition.sub where matchesCompound(Int(sub), element) { return false }
            return true
        case .any:
            for sub in condition.sub where matchesCompound(Int(sub), element) { return true }
            return false
        }
    }
}

@inline(__always)
private func previousElement(_ node: Node) -> Node? {
    var p = node.pointee.prev
    while let n = p, n.pointee.type != XML_ELEMENT_NODE { p = n.pointee.prev }
    return p
}

@inline(__always)
private func nextElement(_ node: Node) -> Node? {
    var p = node.pointee.next
    while let n = p, n.pointee.type != XML_ELEMENT_NODE { p = n.pointee.next }
    return p
}

/// A NUL-terminated libxml2 string equals `bytes`.
@inline(__always)
private func equal(_ string: UnsafePointer<xmlChar>?, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let string else { return false }
    for i in 0..<b.count where string[i] != b[i] { return false }
    return string[b.count] == 0
}

/// Calls `body` with the attribute's value as bytes: in place when it is one text node (as the
/// HTML parser makes it), otherwise through a copy.
@inline(__always)
private func withValue<T>(_ attribute: UnsafeMutablePointer<xmlAttr>, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
    if let child = attribute.pointee.children, child.pointee.next == nil, child.pointee.type == XML_TEXT_NODE {
        guard let content = child.pointee.content else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return body(UnsafeBufferPointer(start: content, count: Int(xmlStrlen(content))))
    }
    if attribute.pointee.children == nil { return body(UnsafeBufferPointer(start: nil, count: 0)) }
    guard let copy = xmlNodeGetContent(UnsafeMutableRawPointer(attribute).assumingMemoryBound(to: xmlNode.self)) else {
        return body(UnsafeBufferPointer(start: nil, count: 0))
    }
    defer { agentshop_xmlFree(copy) }
    return body(UnsafeBufferPointer(start: copy, count: Int(xmlStrlen(copy))))
}

@inline(__always)
private func lowerASCII(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

@inline(__always)
private func isXMLSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

/// `value[at...]` starts with `needle` (after ASCII lower-casing the value when `fold`).
@inline(__always)
private func hasBytes(_ value: UnsafeBufferPointer<UInt8>, at start: Int, _ needle: UnsafeBufferPointer<UInt8>, fold: Bool) -> Bool {
    guard start >= 0, start + needle.count <= value.count else { return false }
    for i in 0..<needle.count {
        let b = fold ? lowerASCII(value[start + i]) : value[start + i]
        if b != needle[i] { return false }
    }
    return true
}

private func compare(_ value: UnsafeBufferPointer<UInt8>, _ op: NativeCondition.Operator, _ needle: UnsafeBufferPointer<UInt8>,
                     fold: Bool) -> Bool {
    switch op {
    case .equals: return value.count == needle.count && hasBytes(value, at: 0, needle, fold: fold)
    case .prefix: return hasBytes(value, at: 0, needle, fold: fold)
    case .suffix: return hasBytes(value, at: value.count - needle.count, needle, fold: fold)
    case .contains:
        if needle.count > value.count { return false }
        for start in 0...(value.count - needle.count) where hasBytes(value, at: start, needle, fold: fold) { return true }
        return false
    case .dashPrefix:
        if value.count == needle.count { return hasBytes(value, at: 0, needle, fold: fold) }
        return value.count > needle.count && value[needle.count] == 0x2D && hasBytes(value, at: 0, needle, fold: fold)
    case .token:
        // A white-space separated token, as `contains(concat(' ', normalize-space(@a), ' '), ' t ')`.
        var i = 0
        while i < value.count {
            while i < value.count && isXMLSpace(value[i]) { i += 1 }
            let start = i
            while i < value.count && !isXMLSpace(value[i]) { i += 1 }
            if i - start == needle.count, i > start, hasBytes(value, at: start, needle, fold: fold) { return true }
        }
        return false
    }
}

private let linkHref: StaticString = "href"
private let linkA: StaticString = "a"
private let linkArea: StaticString = "area"
private let linkLink: StaticString = "link"

@inline(__always)
private func staticBytes(_ s: StaticString) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
}
