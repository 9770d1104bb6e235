import Foundation

/// An error from the lake: a path, a file format or a file-system call, with where it happened.
///
/// A struct over a private enum so that new cases can be added without breaking callers.
public struct LakeError: Error, CustomStringConvertible, Sendable {
    enum Code: Sendable, Equatable {
        case pathOutsideLake
        case invalidPath
        case io
        case gzip
        case malformedRecord
        case unsupportedFormat
        case notFound
        case manifest
    }

    let code: Code
    /// What went wrong, in words a user can act on.
    public let reason: String
    /// The lake-relative or absolute path involved, when there is one.
    public let path: String?
    /// The underlying error number or library message.
    public let cause: String?
    let file: String
    let line: Int

    init(_ code: Code, _ reason: String, path: String? = nil, cause: String? = nil,
         file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.path = path
        self.cause = cause
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = path.map { "\($0): \(reason)" } ?? reason
        if let cause { text += " (\(cause))" }
        return text
    }

    /// A detailed description with the source location, for logs.
    public var detailedDescription: String { "\(description) [at \(file):\(line)]" }

    public static func ~= (lhs: LakeError, rhs: any Error) -> Bool {
        (rhs as? LakeError)?.code == lhs.code
    }

    public static let pathOutsideLake = LakeError(.pathOutsideLake, "path leads outside the lake")
    public static let invalidPath = LakeError(.invalidPath, "invalid lake path")
    public static let malformedRecord = LakeError(.malformedRecord, "malformed record")
    public static let notFound = LakeError(.notFound, "not found")
    public static let gzip = LakeError(.gzip, "gzip error")

    /// An error from a failed system call, carrying `errno` text.
    static func posix(_ what: String, path: String?, errno code: Int32 = errno,
                      file: String = #fileID, line: Int = #line) -> LakeError {
        LakeError(.io, what, path: path, cause: String(cString: strerror(code)), file: file, line: line)
    }
}
