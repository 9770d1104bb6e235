import Lake

/// A field of a record named in an expression is Lake's `DottedPath`: `price`, `sentiment.label`
/// (nested objects), or `` `odd.name` `` (one key holding a dot). Here: how expressions write one, and the
/// descent the scans use.
extension DottedPath {
    /// Parses one field name as expressions write it: `price`, `sentiment.label`, `` `odd.name` ``.
    public static func parse(_ text: String) throws(ExpressionError) -> DottedPath {
        var parser = ExpressionParser(text)
        try parser.checkLexed()
        let path = try parser.parseFieldPath()
        guard parser.currentToken.kind == .end else {
            throw ExpressionError("expected one field name, found \(parser.describeCurrent)", offset: parser.currentToken.offset)
        }
        return path
    }

    /// The record's top-level key this path starts at.
    public var topLevelKey: String { parts[0] }

    /// The value at this path below the top-level value; null when any step is missing.
    @inline(__always)
    public func descend(from top: JSONValue) -> JSONValue {
        if parts.count == 1 { return top }
        var value = top
        for key in parts.dropFirst() {
            guard case .object(let object) = value, let next = object[key] else { return .null }
            value = next
        }
        return value
    }
}

/// A boolean expression over a record's fields, as written in `where:` and `having:`.
///
/// ```
/// price >= 10 and category in ('shoes', 'outdoor') and not (vendor is null or name contains "refurb")
/// ```
///
/// Comparisons follow SQL's three-valued logic: a comparison with null (a missing field) is
/// unknown, `not unknown` is unknown, and a record passes only when the whole expression is true.
/// Numbers compare numerically (integers and decimals alike), strings by their UTF-8 bytes;
/// values of different types are unequal and have no order (`<` between them is unknown).
public indirect enum FilterExpression: Sendable, Equatable, CustomStringConvertible {
    case literal(JSONValue)
    /// A field, and its index in `fields` of the expression it was parsed in.
    case field(DottedPath, index: Int)
    case compare(ComparisonOperator, FilterExpression, FilterExpression)
    case and(FilterExpression, FilterExpression)
    case or(FilterExpression, FilterExpression)
    case not(FilterExpression)
    case isNull(FilterExpression, negated: Bool)
    case inList(FilterExpression, [JSONValue], negated: Bool)
    /// Substring of a string, or element of an array.
    case contains(FilterExpression, FilterExpression)

    public enum ComparisonOperator: String, Sendable, Equatable {
        case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    /// Parses an expression. Field indices follow first appearance; `fields(of:)` lists them.
    public static func parse(_ text: String) throws(ExpressionError) -> FilterExpression {
        var offsets: [Int] = []
        return try parse(text, fieldOffsets: &offsets)
    }

    /// Parses an expression and gives, for each of its `fields`, where it first appears in the
    /// text (for messages about a field, such as an unknown column).
    public static func parse(_ text: String, fieldOffsets: inout [Int]) throws(ExpressionError) -> FilterExpression {
        var parser = ExpressionParser(text)
        let expression = try parser.parseExpression()
        try parser.expectEnd()
        fieldOffsets = parser.fieldOffsets
        return expression
    }

    /// The distinct fields the expression reads, in the order of their `index`.
    public var fields: [DottedPath] {
        var out: [DottedPath] = []
        collectFields(into: &out)
        return out
    }

    private func collectFields(into out: inout [DottedPath]) {
        switch self {
        case .literal: break
        case .field(let path, let index):
            if index >= out.count { out.append(path) }
        case .compare(_, let a, let b), .and(let a, let b), .or(let a, let b), .contains(let a, let b):
            a.collectFields(into: &out); b.collectFields(into: &out)
        case .not(let a), .isNull(let a, _), .inList(let a, _, _):
            a.collectFields(into: &out)
        }
    }

    /// Whether the expression holds: true, false, or nil for unknown (SQL's null).
    /// - Parameter value: the value of the field with the given index (null when missing).
    public func evaluate(_ value: (Int) -> JSONValue) -> Bool? {
        switch self {
        case .literal(let v):
            if case .bool(let b) = v { return b }
            return v.isNull ? nil : false
        case .field(_, let index):
            let v = value(index)
            if case .bool(let b) = v { return b }
            return v.isNull ? nil : false
        case .compare(let op, let a, let b):
            return Self.compare(op, a.operand(value), b.operand(value))
        case .and(let a, let b):
            let left = a.evaluate(value)
            if left == false { return false }
            let right = b.evaluate(value)
            if right == false { return false }
            return left == nil || right == nil ? nil : true
        case .or(let a, let b):
            let left = a.evaluate(value)
            if left == true { return true }
            let right = b.evaluate(value)
            if right == true { return true }
            return left == nil || right == nil ? nil : false
        case .not(let a):
            return a.evaluate(value).map { !$0 }
        case .isNull(let a, let negated):
            return a.operand(value).isNull != negated
        case .inList(let a, let list, let negated):
            let v = a.operand(value)
            if v.isNull { return nil }
            let found = list.contains { Self.compare(.equal, v, $0) == true }
            return found != negated
        case .contains(let a, let b):
            let haystack = a.operand(value), needle = b.operand(value)
            if haystack.isNull || needle.isNull { return nil }
            switch haystack {
            case .string(let s):
                guard case .string(let n) = needle else { return false }
                return n.isEmpty || s.utf8.firstRange(of: n.utf8) != nil
            case .array(let items):
                return items.contains { Self.compare(.equal, $0, needle) == true }
            default:
                return false
            }
        }
    }

    @inline(__always)
    private func operand(_ value: (Int) -> JSONValue) -> JSONValue {
        switch self {
        case .literal(let v): return v
        case .field(_, let index): return value(index)
        default:
            // A boolean sub-expression used as a value: `(a > 1) = true`.
            return evaluate(value).map(JSONValue.bool) ?? .null
        }
    }

    /// SQL-style comparison: nil (unknown) when either side is null, or when ordering values of different types.
    public static func compare(_ op: ComparisonOperator, _ a: JSONValue, _ b: JSONValue) -> Bool? {
        if a.isNull || b.isNull { return nil }
        guard let order = ValueOrder.compareSameKind(a, b) else {
            switch op {
            case .equal: return false
            case .notEqual: return true
            default: return nil
            }
        }
        switch op {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .less: return order < 0
        case .lessOrEqual: return order <= 0
        case .greater: return order > 0
        case .greaterOrEqual: return order >= 0
        }
    }

    public var description: String {
        switch self {
        case .literal(let v): return v.serialized()
        case .field(let path, _): return path.description
        case .compare(let op, let a, let b): return "(\(a) \(op.rawValue) \(b))"
        case .and(let a, let b): return "(\(a) and \(b))"
        case .or(let a, let b): return "(\(a) or \(b))"
        case .not(let a): return "(not \(a))"
        case .isNull(let a, let negated): return "(\(a) is \(negated ? "not " : "")null)"
        case .inList(let a, let list, let negated):
            return "(\(a) \(negated ? "not " : "")in (\(list.map { $0.serialized() }.joined(separator: ", "))))"
        case .contains(let a, let b): return "(\(a) contains \(b))"
        }
    }
}

/// A problem in an expression, at a character offset (0-based) into its text.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// Offset in characters (Unicode scalars) from the start of the expression.
    public let offset: Int

    public init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) (at character \(offset + 1))" }
}

/// How values sort: numbers numerically, strings by UTF-8 bytes, false before true.
public enum ValueOrder {
    /// -1, 0 or 1 for two values of the same kind (both numbers, both strings, both booleans);
    /// nil when they are of different kinds or not orderable (arrays, objects, null).
    @inline(__always)
    public static func compareSameKind(_ a: JSONValue, _ b: JSONValue) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.int(let x), .double(let y)): return compareDoubles(Double(x), y)
        case (.double(let x), .int(let y)): return compareDoubles(x, Double(y))
        case (.double(let x), .double(let y)): return compareDoubles(x, y)
        case (.bigInteger, .int), (.bigInteger, .double), (.int, .bigInteger), (.double, .bigInteger),
             (.bigInteger, .bigInteger):
            return compareDoubles(a.doubleValue!, b.doubleValue!)
        case (.string(let x), .string(let y)):
            if x == y { return 0 }
            return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        case (.array(let x), .array(let y)): return x == y ? 0 : nil
        case (.object(let x), .object(let y)): return x == y ? 0 : nil
        default: return nil
        }
    }

    @inline(__always)
    static func compareDoubles(_ x: Double, _ y: Double) -> Int { x < y ? -1 : (x == y ? 0 : 1) }

    /// A total order for sorting output: booleans, then numbers, then strings, then arrays and
    /// objects (by their JSON text); null sorts last.
    public static func compareTotal(_ a: JSONValue, _ b: JSONValue) -> Int {
        if let order = compareSameKind(a, b) { return order }
        let ra = rank(a), rb = rank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        let ta = a.canonicalText(), tb = b.canonicalText()
        return ta == tb ? 0 : (ta.utf8.lexicographicallyPrecedes(tb.utf8) ? -1 : 1)
    }

    private static func rank(_ v: JSONValue) -> Int {
        switch v {
        case .bool: return 0
        case .int, .bigInteger, .double: return 1
        case .string: return 2
        case .array: return 3
        case .object: return 4
        case .null: return 5
        }
    }
}

// MARK: - Tokens and parser

struct ExpressionToken: Equatable {
    enum Kind: Equatable {
        case identifier(String)        // bare word, keywords included (compared case-insensitively)
        case quotedIdentifier(String)  // `like this`
        case string(String)
        case number(JSONValue)
        case symbol(String)            // ( ) , = != <> < <= > >= .
        case end
    }

    let kind: Kind
    /// Offset of the token's first character.
    let offset: Int

    var text: String {
        switch kind {
        case .identifier(let s): return s
        case .quotedIdentifier(let s): return "`\(s)`"
        case .string(let s): return "'\(s)'"
        case .number(let v): return v.serialized()
        case .symbol(let s): return s
        case .end: return "the end"
        }
    }

    func isKeyword(_ word: String) -> Bool {
        if case .identifier(let s) = kind { return s.lowercased() == word }
        return false
    }
}

/// Splits expression text into tokens. Shared by `where:`/`having:` and measure calls (`p90(price)`).
struct ExpressionLexer {
    private let scalars: [Unicode.Scalar]
    private var i = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    static func tokenize(_ text: String) throws(ExpressionError) -> [ExpressionToken] {
        var lexer = ExpressionLexer(text)
        var tokens: [ExpressionToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c.value >= 0x80 && c.properties.isAlphabetic
    }

    private static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || (c >= "0" && c <= "9")
    }

    private static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    private mutating func next() throws(ExpressionError) -> ExpressionToken {
        while i < scalars.count, scalars[i].properties.isWhitespace { i += 1 }
        let start = i
        guard i < scalars.count else { return ExpressionToken(kind: .end, offset: i) }
        let c = scalars[i]
        if Self.isIdentifierStart(c) {
            while i < scalars.count, Self.isIdentifierPart(scalars[i]) { i += 1 }
            return ExpressionToken(kind: .identifier(String(String.UnicodeScalarView(scalars[start..<i]))), offset: start)
        }
        if Self.isDigit(c) || (c == "-" && i + 1 < scalars.count && (Self.isDigit(scalars[i + 1]) || scalars[i + 1] == ".")) {
            return try number(start)
        }
        switch c {
        case "'", "\"":
            return ExpressionToken(kind: .string(try quoted(c, what: "string")), offset: start)
        case "`":
            let name = try quoted(c, what: "quoted field name")
            if name.isEmpty { throw ExpressionError("empty field name", offset: start) }
            return ExpressionToken(kind: .quotedIdentifier(name), offset: start)
        case "(", ")", ",", ".", "*":
            i += 1
            return ExpressionToken(kind: .symbol(String(c)), offset: start)
        case "=":
            i += 1
            if i < scalars.count && scalars[i] == "=" { i += 1 }
            return ExpressionToken(kind: .symbol("="), offset: start)
        case "!":
            i += 1
            guard i < scalars.count, scalars[i] == "=" else { throw ExpressionError("expected '!=' (use 'not' for negation)", offset: start) }
            i += 1
            return ExpressionToken(kind: .symbol("!="), offset: start)
        case "<":
            i += 1
            if i < scalars.count && scalars[i] == "=" { i += 1; return ExpressionToken(kind: .symbol("<="), offset: start) }
            if i < scalars.count && scalars[i] == ">" { i += 1; return ExpressionToken(kind: .symbol("!="), offset: start) }
            return ExpressionToken(kind: .symbol("<"), offset: start)
        case ">":
            i += 1
            if i < scalars.count && scalars[i] == "=" { i += 1; return ExpressionToken(kind: .symbol(">="), offset: start) }
            return ExpressionToken(kind: .symbol(">"), offset: start)
        case "&", "|":
            throw ExpressionError("unexpected '\(c)'; write 'and' / 'or'", offset: start)
        default:
            throw ExpressionError("unexpected character '\(c)'", offset: start)
        }
    }

    private mutating func number(_ start: Int) throws(ExpressionError) -> ExpressionToken {
        if scalars[i] == "-" { i += 1 }
        while i < scalars.count, Self.isDigit(scalars[i]) { i += 1 }
        var isInteger = true
        if i < scalars.count, scalars[i] == "." {
            isInteger = false
            i += 1
            while i < scalars.count, Self.isDigit(scalars[i]) { i += 1 }
        }
        if i < scalars.count, scalars[i] == "e" || scalars[i] == "E" {
            isInteger = false
            i += 1
            if i < scalars.count, scalars[i] == "+" || scalars[i] == "-" { i += 1 }
            while i < scalars.count, Self.isDigit(scalars[i]) { i += 1 }
        }
        if i < scalars.count, Self.isIdentifierPart(scalars[i]) {
            throw ExpressionError("invalid number", offset: start)
        }
        let text = String(String.UnicodeScalarView(scalars[start..<i]))
        if isInteger, let n = Int64(text) { return ExpressionToken(kind: .number(.int(n)), offset: start) }
        guard let d = Double(text), d.isFinite else { throw ExpressionError("invalid number '\(text)'", offset: start) }
        return ExpressionToken(kind: .number(.double(d)), offset: start)
    }

    /// A quoted run; the quote character doubled, or escaped with a backslash, stands for itself.
    private mutating func quoted(_ quote: Unicode.Scalar, what: String) throws(ExpressionError) -> String {
        let start = i
        i += 1
        var out = String.UnicodeScalarView()
        while i < scalars.count {
            let c = scalars[i]
            if c == quote {
                if i + 1 < scalars.count && scalars[i + 1] == quote { out.append(quote); i += 2; continue }
                i += 1
                return String(out)
            }
            if c == "\\" && i + 1 < scalars.count {
                let e = scalars[i + 1]
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(e)
                }
                i += 2
                continue
            }
            out.append(c)
            i += 1
        }
        throw ExpressionError("unterminated \(what)", offset: start)
    }
}

/// Recursive descent over `ExpressionLexer` tokens:
///
/// ```
/// or      := and ("or" and)*
/// and     := not ("and" not)*
/// not     := "not" not | predicate
/// predicate := operand [ cmp operand | ["not"] "in" "(" literal ("," literal)* ")"
///                      | "is" ["not"] "null" | "contains" operand ]
/// operand := literal | field | "(" or ")"
/// ```
struct ExpressionParser {
    private var tokens: [ExpressionToken] = []
    private var position = 0
    private var lexError: ExpressionError?
    private var fieldIndex: [DottedPath: Int] = [:]
    /// Where each field (by index) first appears.
    private(set) var fieldOffsets: [Int] = []

    init(_ text: String) {
        do throws(ExpressionError) { tokens = try ExpressionLexer.tokenize(text) } catch {
            lexError = error
            tokens = [ExpressionToken(kind: .end, offset: error.offset)]
        }
    }

    private var current: ExpressionToken { tokens[position] }
    private mutating func advance() { if position < tokens.count - 1 { position += 1 } }
    var currentToken: ExpressionToken { current }
    mutating func step() { advance() }
    var describeCurrent: String { describe(current) }
    func checkLexed() throws(ExpressionError) { if let lexError { throw lexError } }

    mutating func parseExpression() throws(ExpressionError) -> FilterExpression {
        if let lexError { throw lexError }
        if current.kind == .end { throw ExpressionError("empty expression", offset: current.offset) }
        return try parseOr()
    }

    func expectEnd() throws(ExpressionError) {
        guard current.kind == .end else {
            throw ExpressionError("unexpected \(describe(current)); expected 'and', 'or' or the end", offset: current.offset)
        }
    }

    private func describe(_ token: ExpressionToken) -> String {
        token.kind == .end ? "end of expression" : "'\(token.text)'"
    }

    private mutating func parseOr() throws(ExpressionError) -> FilterExpression {
        var left = try parseAnd()
        while current.isKeyword("or") {
            advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(ExpressionError) -> FilterExpression {
        var left = try parseNot()
        while current.isKeyword("and") {
            advance()
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws(ExpressionError) -> FilterExpression {
        if current.isKeyword("not") {
            advance()
            return .not(try parseNot())
        }
        return try parsePredicate()
    }

    private mutating func parsePredicate() throws(ExpressionError) -> FilterExpression {
        let left = try parseOperand()
        if case .symbol(let s) = current.kind, let op = FilterExpression.ComparisonOperator(rawValue: s) {
            advance()
            return .compare(op, left, try parseOperand())
        }
        if current.isKeyword("is") {
            advance()
            var negated = false
            if current.isKeyword("not") { negated = true; advance() }
            guard current.isKeyword("null") else {
                throw ExpressionError("expected 'null' after 'is\(negated ? " not" : "")', found \(describe(current))", offset: current.offset)
            }
            advance()
            return .isNull(left, negated: negated)
        }
        if current.isKeyword("not") {
            let notToken = current
            advance()
            guard current.isKeyword("in") else {
                throw ExpressionError("expected 'in' after 'not' here, found \(describe(current))", offset: notToken.offset)
            }
            advance()
            return .inList(left, try parseList(), negated: true)
        }
        if current.isKeyword("in") {
            advance()
            return .inList(left, try parseList(), negated: false)
        }
        if current.isKeyword("contains") {
            advance()
            return .contains(left, try parseOperand())
        }
        return left
    }

    private mutating func parseList() throws(ExpressionError) -> [JSONValue] {
        guard current.kind == .symbol("(") else {
            throw ExpressionError("expected '(' to start the list, found \(describe(current))", offset: current.offset)
        }
        advance()
        var items: [JSONValue] = []
        while true {
            guard let value = literal(current) else {
                throw ExpressionError("expected a literal value in the list, found \(describe(current))", offset: current.offset)
            }
            items.append(value)
            advance()
            if current.kind == .symbol(",") { advance(); continue }
            if current.kind == .symbol(")") { advance(); return items }
            throw ExpressionError("expected ',' or ')' in the list, found \(describe(current))", offset: current.offset)
        }
    }

    private func literal(_ token: ExpressionToken) -> JSONValue? {
        switch token.kind {
        case .string(let s): return .string(s)
        case .number(let v): return v
        case .identifier:
            if token.isKeyword("true") { return .bool(true) }
            if token.isKeyword("false") { return .bool(false) }
            if token.isKeyword("null") { return .null }
            return nil
        default: return nil
        }
    }

    static let reserved: Set<String> = ["and", "or", "not", "in", "is", "null", "true", "false", "contains"]

    private mutating func parseOperand() throws(ExpressionError) -> FilterExpression {
        let token = current
        if let value = literal(token) {
            advance()
            return .literal(value)
        }
        switch token.kind {
        case .symbol("("):
            advance()
            let inner = try parseOr()
            guard current.kind == .symbol(")") else {
                throw ExpressionError("expected ')' to close the '(' at character \(token.offset + 1), found \(describe(current))",
                                      offset: current.offset)
            }
            advance()
            return inner
        case .identifier(let word):
            if Self.reserved.contains(word.lowercased()) {
                throw ExpressionError("expected a field or a value, found '\(word)' (quote a field with this name as `\(word)`)",
                                      offset: token.offset)
            }
            return try parseField()
        case .quotedIdentifier:
            return try parseField()
        case .end:
            throw ExpressionError("expected a field or a value, found the end of the expression", offset: token.offset)
        default:
            throw ExpressionError("expected a field or a value, found \(describe(token))", offset: token.offset)
        }
    }

    /// `a`, `a.b.c`, `` `a.b`.c ``.
    mutating func parseFieldPath() throws(ExpressionError) -> DottedPath {
        var parts: [String] = []
        while true {
            switch current.kind {
            case .identifier(let word), .quotedIdentifier(let word): parts.append(word)
            default: throw ExpressionError("expected a field name, found \(describe(current))", offset: current.offset)
            }
            advance()
            guard current.kind == .symbol(".") else { return DottedPath(parts) }
            advance()
        }
    }

    private mutating func parseField() throws(ExpressionError) -> FilterExpression {
        let offset = current.offset
        let path = try parseFieldPath()
        if current.kind == .symbol("(") {
            throw ExpressionError("functions are not allowed here; compare fields and values", offset: current.offset)
        }
        let index: Int
        if let known = fieldIndex[path] {
            index = known
        } else {
            index = fieldIndex.count
            fieldIndex[path] = index
            fieldOffsets.append(offset)
        }
        return .field(path, index: index)
    }
}

/// A function call as written in `measures:` (`count()`, `avg(price)`, `percentile(price, 0.95)`)
/// and in `order_by:` items (`n desc`): parsed with the expression lexer so that errors carry offsets.
struct FunctionCall: Equatable {
    let name: String
    let nameOffset: Int
    /// Arguments: fields and literal values, each with its offset.
    let arguments: [(argument: Argument, offset: Int)]
    let closeOffset: Int

    enum Argument: Equatable {
        case field(DottedPath)
        case value(JSONValue)
        /// `*`, as in SQL's `count(*)`.
        case star
    }

    static func == (a: FunctionCall, b: FunctionCall) -> Bool {
        a.name == b.name && a.arguments.map(\.argument) == b.arguments.map(\.argument)
    }

    static func parse(_ text: String) throws(ExpressionError) -> FunctionCall {
        var parser = ExpressionParser(text)
        return try parser.parseCall()
    }
}

/// An `order_by:` item: a column and a direction.
struct OrderItem: Equatable {
    let column: DottedPath
    let columnOffset: Int
    let descending: Bool

    static func parse(_ text: String) throws(ExpressionError) -> OrderItem {
        var parser = ExpressionParser(text)
        return try parser.parseOrderItem()
    }
}

extension ExpressionParser {
    mutating func parseCall() throws(ExpressionError) -> FunctionCall {
        try checkLexed()
        guard case .identifier(let name) = currentToken.kind else {
            throw ExpressionError("expected a function such as count(), avg(price) or p90(price), found \(describeCurrent)",
                                  offset: currentToken.offset)
        }
        let nameOffset = currentToken.offset
        step()
        guard currentToken.kind == .symbol("(") else {
            throw ExpressionError("expected '(' after '\(name)', as in \(name)(field)", offset: currentToken.offset)
        }
        step()
        var arguments: [(FunctionCall.Argument, Int)] = []
        if currentToken.kind != .symbol(")") {
            while true {
                let offset = currentToken.offset
                switch currentToken.kind {
                case .number(let v): arguments.append((.value(v), offset)); step()
                case .string(let s): arguments.append((.value(.string(s)), offset)); step()
                case .identifier, .quotedIdentifier: arguments.append((.field(try parseFieldPath()), offset))
                case .symbol("*"): arguments.append((.star, offset)); step()
                default:
                    throw ExpressionError("expected a field name or a number, found \(describeCurrent)", offset: offset)
                }
                if currentToken.kind == .symbol(",") { step(); continue }
                break
            }
        }
        guard currentToken.kind == .symbol(")") else {
            throw ExpressionError("expected ',' or ')', found \(describeCurrent)", offset: currentToken.offset)
        }
        let closeOffset = currentToken.offset
        step()
        guard currentToken.kind == .end else {
            throw ExpressionError("unexpected \(describeCurrent) after the closing ')'", offset: currentToken.offset)
        }
        return FunctionCall(name: name, nameOffset: nameOffset, arguments: arguments.map { (argument: $0.0, offset: $0.1) },
                            closeOffset: closeOffset)
    }

    mutating func parseOrderItem() throws(ExpressionError) -> OrderItem {
        try checkLexed()
        let offset = currentToken.offset
        if currentToken.kind == .end { throw ExpressionError("empty order_by item", offset: offset) }
        let column = try parseFieldPath()
        var descending = false
        if currentToken.isKeyword("desc") { descending = true; step() } else if currentToken.isKeyword("asc") { step() }
        guard currentToken.kind == .end else {
            throw ExpressionError("expected 'asc', 'desc' or the end after the column, found \(describeCurrent)",
                                  offset: currentToken.offset)
        }
        return OrderItem(column: column, columnOffset: offset, descending: descending)
    }
}
