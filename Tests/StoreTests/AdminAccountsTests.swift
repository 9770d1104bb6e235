import Lake
import Testing
@testable import Store

@Suite struct AdminAccountsTests {
    // RFC 7914 §11 and the widely published PBKDF2-HMAC-SHA256 vectors (first 32 bytes).
    @Test(arguments: [
        ("passwd", "salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"),
        ("password", "salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"),
        ("password", "salt", 2, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"),
        ("password", "salt", 4096, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"),
    ] as [(String, String, Int, String)])
    func pbkdf2MatchesPublishedVectors(_ password: String, _ salt: String, _ iterations: Int, _ hex: String) {
        let key = AdminAccounts.pbkdf2(password: Array(password.utf8), salt: Array(salt.utf8), iterations: iterations)
        #expect(SHA256.hex(key) == hex)
    }

    @Test func adminExistsOnlyOnceAPasswordIsSet() throws {
        let dir = try TemporaryFolder()
        let db = try Store.openMigrated(path: dir.file("a.sqlite")).database
        #expect(try db.scalar("SELECT count(*) FROM admin_users") == .integer(0))
        expectStoreError(.constraint) {
            try AdminAccounts.setAdmin(in: db, username: "root", email: "root@example.com", password: "short", iterations: 10)
        }
        try AdminAccounts.setAdmin(in: db, username: "root", email: "root@example.com",
                                   password: "correct horse battery", iterations: 100)
        let stored = try #require(try db.scalar("SELECT password_hash FROM admin_users")?.string)
        #expect(stored.hasPrefix("pbkdf2_sha256$100$"))
        #expect(!stored.contains("correct horse"))
        #expect(try AdminAccounts.verify(in: db, username: "root", password: "correct horse battery"))
        #expect(try !AdminAccounts.verify(in: db, username: "root", password: "correct horse batterY"))
        #expect(try !AdminAccounts.verify(in: db, username: "nobody", password: "correct horse battery"))
        // Setting it again changes the password, not the number of admins.
        try AdminAccounts.setAdmin(in: db, username: "root", email: "root@example.com",
                                   password: "another long passphrase", iterations: 100)
        #expect(try db.scalar("SELECT count(*) FROM admin_users") == .integer(1))
        #expect(try AdminAccounts.verify(in: db, username: "root", password: "another long passphrase"))
    }
}
