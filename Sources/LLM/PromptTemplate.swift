import Foundation
import Lake

/// A prompt with `{{field}}` and `{{a.b}}` placeholders filled from a record. Strings go in bare,
/// other values as compact JSON, null as the empty string. `{{{{` writes a literal `{{`.
public struct PromptTemplate: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case text(String)
        case field(DottedPath)
    }

    /// What to do with a placeholder whose field the record lacks.
    public enum MissingField: String, Sendable, CaseIterable {
        /// The record cannot be rendered: an error naming the record and the field.
        case error
        /// The placeholder becomes the empty string.
        case empty
    }

    public let text: String
    let pieces: [Piece]

    /// The dotted field paths the template reads, in order, without repeats.
    public var fields: [String] {
        var seen = Set<String>()
        return pieces.compactMap { piece -> String? in
            guard case .field(let path) = piece else { return nil }
            let name = path.description
            return seen.insert(name).inserted ? name : nil
        }
    }

    /// Parses the placeholders; the error gives the character offset of the bad one.
    public init(_ text: String) throws(TemplateError) {
        self.text = text
        var pieces: [Piece] = []
        var literal = ""
        var i = text.startIndex
        while i < text.endIndex {
            if text[i...].hasPrefix("{{{{") {
                literal += "{{"
                i = text.index(i, offsetBy: 4)
                continue
            }
            guard text[i...].hasPrefix("{{") else {
                literal.append(text[i])
                i = text.index(after: i)
                continue
            }
            let offset = text.distance(from: text.startIndex, to: i)
            let open = text.index(i, offsetBy: 2)
            guard let close = text[open...].range(of: "}}") else {
                throw TemplateError(offset: offset, message: "'{{' without a closing '}}'")
            }
            let name = text[open..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            let path = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let valid = !name.isEmpty && path.allSatisfy { part in
                !part.isEmpty && part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
            }
            guard valid else {
                throw TemplateError(offset: offset, message: "'{{\(name)}}' is not a field name (letters, digits, _ and -, dotted for nested fields)")
            }
            if !literal.isEmpty { pieces.append(.text(literal)); literal = "" }
            pieces.append(.field(DottedPath(path)))
            i = close.upperBound
        }
        if !literal.isEmpty { pieces.append(.text(literal)) }
        self.pieces = pieces
    }

    /// Fills the placeholders from `record`. `recordLabel` names the record in errors (`reviews.jsonl:12`).
    public func render(_ record: JSONObject, recordLabel: String, missing: MissingField = .error) throws(TemplateError) -> String {
        var out = ""
        for piece in pieces {
            switch piece {
            case .text(let s): out += s
            case .field(let path):
                if let value = path.lookup(in: record) {
                    out += value.plainText
                } else if missing == .error {
                    throw TemplateError(offset: nil, message: "\(recordLabel): the record has no field '\(path)' that the prompt uses (set on_missing: empty to allow it)")
                }
            }
        }
        return out
    }

    /// Fills the placeholders from plain values (task options such as `{{categories}}`).
    public func render(values: [String: String]) -> String {
        pieces.map { piece in
            switch piece {
            case .text(let s): return s
            case .field(let path): return values[path.description] ?? ""
            }
        }.joined()
    }

    public static func == (a: PromptTemplate, b: PromptTemplate) -> Bool { a.text == b.text }
}

/// A template that cannot be parsed or rendered.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
    /// Character offset of the placeholder in the template text, for parse errors.
    public let offset: Int?
    public let message: String
    public var description: String { message }
}
