internal import CXML2
internal import CXMLArena
import Foundation

// Every call into libxml2 sits in this file. Outside it, nodes are `UnsafeMutableRawPointer`s
// wrapped in `HTMLNode`, documents are `HTMLDocument`, compiled XPath is `XPathExpression`.

/// A parsed libxml2 document; frees it in deinit.
final class XMLDocHandle {
    let doc: UnsafeMutablePointer<xmlDoc>
    /// The arena the whole tree was allocated in (`parseHTML`): given back in one go, without
    /// walking the tree to free each node.
    private let arena: OpaquePointer?

    init(doc: UnsafeMutablePointer<xmlDoc>, arena: OpaquePointer? = nil) {
        self.doc = doc
        self.arena = arena
    }

    deinit {
        if let arena { agentshop_xml_arena_release(arena) } else { xmlFreeDoc(doc) }
    }

    var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(doc) }
}

/// A compiled XPath expression; frees it in deinit.
final class XPathCompiled {
    let comp: OpaquePointer

    init(comp: OpaquePointer) { self.comp = comp }

    deinit { xmlXPathFreeCompExpr(comp) }
}

/// One XPath evaluation context per document: allocating it per query costs more than the query.
final class XPathContextHandle {
    let context: UnsafeMutablePointer<xmlXPathContext>

    init?(doc: XMLDocHandle) {
        guard let context = xmlXPathNewContext(doc.doc) else { return nil }
        // Reuse XPath objects instead of a malloc/free per step and per predicate (lxml does the same).
        _ = xmlXPathContextSetCache(context, 1, -1, 0)
        self.context = context
    }

    deinit { xmlXPathFreeContext(context) }
}

struct LibXMLFailure: Error {
    let message: String
}

/// The raw value of an XPath evaluation, nodes still as pointers.
enum RawXPathValue {
    case nodes([UnsafeMutableRawPointer])
    case string(String)
    case number(Double)
    case boolean(Bool)
}

enum LibXML {
    private static let initialised: Bool = {
        xmlInitParser()
        // libxml2's allocations go through the arena hooks: plain malloc except inside `parseHTML`,
        // where they come from the document's arena (CXMLArena). Blocks malloc'd before this line
        // are still freed right: the hooks tell the two kinds apart.
        xmlMemSetup(agentshop_xml_arena_free, agentshop_xml_arena_malloc, agentshop_xml_arena_realloc,
                    agentshop_xml_arena_strdup)
        // The dictionaries' global lock is made on first use: make it now, not inside an arena.
        if let dict = xmlDictCreate() { xmlDictFree(dict) }
        return true
    }()

    static func silence() {
        _ = initialised
        agentshop_xml_silence()
    }

    /// Why libxml2 could not be loaded (it is opened on first use), naming its soname and Debian package.
    static var loadFailure: LibXMLFailure? {
        agentshop_xml_load_error().map { LibXMLFailure(message: String(cString: $0)) }
    }

    /// The message of the last libxml2 error on this thread, if any.
    static func lastErrorMessage() -> String? {
        guard let error = xmlGetLastError(), let message = error.pointee.message else { return nil }
        return String(cString: message).trimmingTrailingNewlines()
    }

    /// Parses UTF-8 HTML (the caller has already converted it): recover from any error, no network,
    /// no error output, no implied DTD loading or entity substitution, and the page's own
    /// `<meta charset>` ignored because the bytes are UTF-8 by now.
    /// `encoding` is "UTF-8" except for charsets we do not convert ourselves (libxml2 hands those to iconv).
    /// It must be named even for UTF-8: without it libxml2 2.9 guesses from the page's own
    /// `<meta>` at the first non-ASCII byte (a converted Windows-1252 page would be read as
    /// Latin-1 again), and naming it costs nothing measurable (bench/PARSE_RESULTS.md).
    ///
    /// Nesting is not limited (`XML_PARSE_HUGE`: libxml2 otherwise stops at 256 levels and keeps
    /// only the page above that point); the caller bounds the page's size, which bounds the tree.
    /// A parse libxml2 halted before the end fails, with its reason, rather than give a part of the page.
    ///
    /// Everything libxml2 allocates during the parse comes from an arena (CXMLArena) that the
    /// document owns: allocation is a pointer bump, frees during the parse cost nothing, and the
    /// tree goes back in one piece.
    static func parseHTML(bytes: UnsafeRawBufferPointer, url: String?, encoding: String = "UTF-8")
        -> Result<XMLDocHandle, LibXMLFailure> {
        if let loadFailure { return .failure(loadFailure) }
        silence()
        xmlResetLastError()
        guard bytes.count <= Int(Int32.max) else {
            return .failure(LibXMLFailure(message: "the page is larger than libxml2 can parse (2 GB)"))
        }
        let options = Int32(HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NONET.rawValue | HTML_PARSE_NOERROR.rawValue
            | HTML_PARSE_NOWARNING.rawValue | HTML_PARSE_COMPACT.rawValue | HTML_PARSE_IGNORE_ENC.rawValue
            | HTML_PARSE_NODEFDTD.rawValue | XML_PARSE_HUGE.rawValue)
        // libxml2 needs a non-null buffer even for an empty page.
        let empty: [CChar] = [0]
        var halted: Int32 = 0
        let arena = agentshop_xml_arena_begin()
        let doc: UnsafeMutablePointer<xmlDoc>? = empty.withUnsafeBufferPointer { emptyBuffer in
            let base = bytes.count > 0
                ? bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
                : emptyBuffer.baseAddress!
            return agentshop_html_read(base, Int32(bytes.count), url, encoding, options, &halted)
        }
        let message = doc == nil || halted != 0 ? lastErrorMessage() : nil
        // The last error's strings are in the arena: clear them while it is open.
        xmlResetLastError()
        agentshop_xml_arena_end(arena)
        guard let doc else {
            agentshop_xml_arena_release(arena)
            return .failure(LibXMLFailure(message: message ?? "libxml2 could not build a document"))
        }
        let handle = XMLDocHandle(doc: doc, arena: arena)
        if halted != 0 {
            return .failure(LibXMLFailure(message: "libxml2 stopped before the end of the page: " + (message ?? "unknown error")))
        }
        return .success(handle)
    }

    static func compileXPath(_ expression: String) -> Result<XPathCompiled, LibXMLFailure> {
        if let loadFailure { return .failure(loadFailure) }
        silence()
        xmlResetLastError()
        guard let comp = xmlXPathCompile(expression) else {
            return .failure(LibXMLFailure(message: lastErrorMessage() ?? "invalid XPath expression"))
        }
        return .success(XPathCompiled(comp: comp))
    }

    /// Evaluates `compiled` with `node` (or the document) as the context node.
    static func evaluate(_ compiled: XPathCompiled, context: XPathContextHandle, node: UnsafeMutableRawPointer?)
        -> Result<RawXPathValue, LibXMLFailure> {
        silence()
        xmlResetLastError()
        let ctx = context.context
        ctx.pointee.node = node?.assumingMemoryBound(to: xmlNode.self)
            ?? UnsafeMutableRawPointer(ctx.pointee.doc).assumingMemoryBound(to: xmlNode.self)
        ctx.pointee.contextSize = -1
        ctx.pointee.proximityPosition = -1
        guard let object = xmlXPathCompiledEval(compiled.comp, ctx) else {
            return .failure(LibXMLFailure(message: lastErrorMessage() ?? "XPath evaluation failed"))
        }
        defer { xmlXPathFreeObject(object) }
        switch object.pointee.type {
        case XPATH_NODESET, XPATH_XSLT_TREE:
            var nodes: [UnsafeMutableRawPointer] = []
            if let set = object.pointee.nodesetval, set.pointee.nodeNr > 0, let table = set.pointee.nodeTab {
                nodes.reserveCapacity(Int(set.pointee.nodeNr))
                for i in 0..<Int(set.pointee.nodeNr) {
                    guard let node = table[i], node.pointee.type != XML_NAMESPACE_DECL else { continue }
                    nodes.append(UnsafeMutableRawPointer(node))
                }
            }
            return .success(.nodes(nodes))
        case XPATH_BOOLEAN: return .success(.boolean(object.pointee.boolval != 0))
        case XPATH_NUMBER: return .success(.number(object.pointee.floatval))
        case XPATH_STRING:
            return .success(.string(object.pointee.stringval.map { String(cString: $0) } ?? ""))
        default:
            return .failure(LibXMLFailure(message: "unsupported XPath result type \(object.pointee.type.rawValue)"))
        }
    }

    // MARK: Nodes

    @inline(__always)
    private static func node(_ raw: UnsafeMutableRawPointer) -> UnsafeMutablePointer<xmlNode> {
        raw.assumingMemoryBound(to: xmlNode.self)
    }

    static func kind(_ raw: UnsafeMutableRawPointer) -> HTMLNode.Kind {
        switch node(raw).pointee.type {
        case XML_ELEMENT_NODE: return .element
        case XML_TEXT_NODE, XML_CDATA_SECTION_NODE: return .text
        case XML_ATTRIBUTE_NODE: return .attribute
        case XML_COMMENT_NODE: return .comment
        case XML_DOCUMENT_NODE, XML_HTML_DOCUMENT_NODE: return .document
        default: return .other
        }
    }

    static func name(_ raw: UnsafeMutableRawPointer) -> String {
        guard let name = node(raw).pointee.name else { return "" }
        return String(cString: name)
    }

    /// The text of a node: an element's descendant text, an attribute's value, a text node's text.
    static func content(_ raw: UnsafeMutableRawPointer) -> String {
        let n = node(raw)
        // Text nodes: read in place, no allocation.
        if n.pointee.type == XML_TEXT_NODE || n.pointee.type == XML_CDATA_SECTION_NODE {
            return n.pointee.content.map { String(cString: $0) } ?? ""
        }
        guard let text = xmlNodeGetContent(n) else { return "" }
        defer { agentshop_xmlFree(text) }
        return String(cString: text)
    }

    static func attribute(_ raw: UnsafeMutableRawPointer, _ name: String) -> String? {
        let n = node(raw)
        guard n.pointee.type == XML_ELEMENT_NODE, let value = xmlGetProp(n, name) else { return nil }
        defer { agentshop_xmlFree(value) }
        return String(cString: value)
    }

    static func attributes(_ raw: UnsafeMutableRawPointer) -> [(String, String)] {
        let n = node(raw)
        guard n.pointee.type == XML_ELEMENT_NODE else { return [] }
        var out: [(String, String)] = []
        var attr = n.pointee.properties
        while let a = attr {
            let name = a.pointee.name.map { String(cString: $0) } ?? ""
            var value = ""
            if let text = xmlNodeGetContent(UnsafeMutableRawPointer(a).assumingMemoryBound(to: xmlNode.self)) {
                value = String(cString: text)
                agentshop_xmlFree(text)
            }
            out.append((name, value))
            attr = a.pointee.next
        }
        return out
    }

    static func children(_ raw: UnsafeMutableRawPointer) -> [UnsafeMutableRawPointer] {
        var out: [UnsafeMutableRawPointer] = []
        var child = node(raw).pointee.children
        while let c = child {
            out.append(UnsafeMutableRawPointer(c))
            child = c.pointee.next
        }
        return out
    }

    /// Elements with one of `names` (lowercase), in document order: one walk over the tree in C
    /// pointers, cheaper than an XPath `//a | //b` (a scan per branch, objects per step).
    static func elements(named names: [String], under root: UnsafeMutableRawPointer) -> [UnsafeMutableRawPointer] {
        let targets = names.map { Array($0.utf8CString) }
        var out: [UnsafeMutableRawPointer] = []
        var current = node(root).pointee.children
        while let n = current {
            if n.pointee.type == XML_ELEMENT_NODE, let name = n.pointee.name {
                let first = CChar(bitPattern: name.pointee)
                for target in targets where target[0] == first {
                    if target.withUnsafeBufferPointer({ strcmp(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self), $0.baseAddress!) }) == 0 {
                        out.append(UnsafeMutableRawPointer(n))
                        break
                    }
                }
            }
            // Depth first: children, then the next sibling, else up until a parent has one.
            if let child = n.pointee.children, n.pointee.type == XML_ELEMENT_NODE {
                current = child
                continue
            }
            var up: UnsafeMutablePointer<xmlNode>? = n
            current = nil
            while let u = up, UnsafeMutableRawPointer(u) != root {
                if let next = u.pointee.next { current = next; break }
                up = u.pointee.parent
            }
        }
        return out
    }

    static func parent(_ raw: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        node(raw).pointee.parent.map { UnsafeMutableRawPointer($0) }
    }

    static func rootElement(_ doc: XMLDocHandle) -> UnsafeMutableRawPointer? {
        xmlDocGetRootElement(doc.doc).map { UnsafeMutableRawPointer($0) }
    }

    /// The node serialised as HTML.
    static func outerHTML(_ raw: UnsafeMutableRawPointer, doc: XMLDocHandle) -> String {
        guard let buffer = xmlBufferCreate() else { return "" }
        defer { xmlBufferFree(buffer) }
        let n = node(raw)
        if n.pointee.type == XML_ATTRIBUTE_NODE || n.pointee.type == XML_TEXT_NODE {
            return content(raw)
        }
        _ = htmlNodeDump(buffer, doc.doc, n)
        guard let bytes = xmlBufferContent(buffer) else { return "" }
        return String(cString: bytes)
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = self
        while s.last == "\n" || s.last == "\r" { s.removeLast() }
        return s
    }
}

/// The libxml2 this program runs with (for `agentshop doctor`). It is opened on first use: reading
/// `libxml2Version` or `libxml2LoadError` loads it, `libxml2BuiltVersion` does not.
public enum HTMLLibrary {
    /// The libxml2 version of the headers this binary was built against, e.g. `2.9.14`.
    public static var libxml2BuiltVersion: String { LIBXML_DOTTED_VERSION }

    /// Why libxml2 could not be loaded (a sentence naming its soname and Debian package); nil when it is loaded.
    public static var libxml2LoadError: String? { agentshop_xml_load_error().map { String(cString: $0) } }

    /// libxml2's runtime version, e.g. `2.9.14` (it reports `20914`).
    public static var libxml2Version: String {
        guard let raw = agentshop_xml_version(), let number = Int(String(cString: raw)) else { return "unknown" }
        return "\(number / 10000).\(number / 100 % 100).\(number % 100)"
    }
}
