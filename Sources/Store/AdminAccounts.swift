import Foundation
import Lake

/// Admin accounts. The schema seeds none: an admin exists only once someone sets its password
/// (`agentshop db admin`). Passwords are stored as PBKDF2-HMAC-SHA256 in Django's text format,
/// `pbkdf2_sha256$<iterations>$<salt>$<hash, base64>`, so other tools can check them.
public enum AdminAccounts {
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
    public static let defaultIterations = 600_000
    public static let minimumPasswordLength = 12

    /// Creates the admin, or sets the password (and e-mail, role) of an existing one. Returns its id.
    @discardableResult
    public static func setAdmin(in database: Database, username: String, email: String, password: String,
                                role: String = "admin", iterations: Int = defaultIterations) throws -> Int64 {
        guard password.count >= minimumPasswordLength else {
            throw StoreError(.constraint, "the password must have at least \(minimumPasswordLength) characters")
        }
        guard !username.isEmpty, email.contains("@") else {
            throw StoreError(.constraint, "an admin needs a username and an e-mail address")
        }
        let hash = passwordHash(password, iterations: iterations)
        return try database.transaction {
            try database.run("""
                INSERT INTO admin_users (username, email, password_hash, role) VALUES (?, ?, ?, ?)
                ON CONFLICT (username) DO UPDATE SET email = excluded.email, password_hash = excluded.password_hash,
                    role = excluded.role, is_active = 1
                """, [.text(username), .text(email), .text(hash), .text(role)])
            return try database.scalar("SELECT id FROM admin_users WHERE username = ?", [.text(username)])?.int64 ?? 0
        }
    }

    /// `setAdmin` in a PostgreSQL store.
    @discardableResult
    public static func setAdmin(in store: PostgresStore, username: String, email: String, password: String,
                                role: String = "admin", iterations: Int = defaultIterations) throws -> Int64 {
        guard password.count >= minimumPasswordLength else {
            throw StoreError(.constraint, "the password must have at least \(minimumPasswordLength) characters")
        }
        guard !username.isEmpty, email.contains("@") else {
            throw StoreError(.constraint, "an admin needs a username and an e-mail address")
        }
        let hash = passwordHash(password, iterations: iterations)
        let id = try store.connection.scalar("""
            INSERT INTO admin_users (username, email, password_hash, role) VALUES ($1, $2, $3, $4)
            ON CONFLICT (username) DO UPDATE SET email = excluded.email, password_hash = excluded.password_hash,
                role = excluded.role, is_active = true
            RETURNING id
            """, [username, email, hash, role])
        return id.flatMap { Int64($0) } ?? 0
    }

    /// Whether `password` is the admin's in a PostgreSQL store; false for unknown or inactive admins.
    public static func verify(in store: PostgresStore, username: String, password: String) throws -> Bool {
        guard let stored = try store.connection.scalar("SELECT password_hash FROM admin_users WHERE username = $1 AND is_active",
                                                       [username]) else { return false }
        return verifyPassword(password, against: stored)
    }

    /// Whether `password` is the admin's; false for unknown or inactive admins.
    public static func verify(in database: Database, username: String, password: String) throws -> Bool {
        guard let stored = try database.scalar("SELECT password_hash FROM admin_users WHERE username = ? AND is_active = 1",
                                               [.text(username)])?.string else { return false }
        return verifyPassword(password, against: stored)
    }

    /// `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` with a random 16-byte salt.
    public static func passwordHash(_ password: String, iterations: Int = defaultIterations) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let saltText = Data(salt).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let key = PBKDF2.sha256(password: Array(password.utf8), salt: Array(saltText.utf8), iterations: iterations)
        return "pbkdf2_sha256$\(iterations)$\(saltText)$\(Data(key).base64EncodedString())"
    }

    public static func verifyPassword(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2_sha256", let iterations = Int(parts[1]),
              iterations > 0, iterations <= PBKDF2.maximumIterations,
              let expected = Data(base64Encoded: String(parts[3])) else { return false }
        let key = PBKDF2.sha256(password: Array(password.utf8), salt: Array(parts[2].utf8), iterations: iterations)
        return HMACSHA256.constantTimeEquals(key, [UInt8](expected))
    }
}
