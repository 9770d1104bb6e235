import Lake
import Testing
import TestSupport
@testable import Store

@Suite struct AdminAccountsTests {
    /// Hashes stored before libcrypto replaced the hand-written PBKDF2 still verify. The first was made by the
    /// old Swift code (git 5663f9d, 600,000 iterations), the second by Python's hashlib (Django's format).
    @Test(arguments: [
        "pbkdf2_sha256$600000$c2VlZC1vbGQtY29kZQ$Bo+iej1Z747zGavBIUu0ay+1A10+Hwjr/gBDUauH+Jc=",
        "pbkdf2_sha256$600000$Zk9tVGFrZXNBbGxTYWx0$Q9ZEQckcAY+7MlJh+wbFxGPgvRoc6O37/DG57k+1fys=",
    ])
    func storedHashesStillVerify(_ stored: String) {
        #expect(AdminAccounts.verifyPassword("correct horse battery staple", against: stored))
        #expect(!AdminAccounts.verifyPassword("correct horse battery stapler", against: stored))
    }

    @Test func malformedStoredHashesDoNotVerify() {
        for stored in ["", "pbkdf2_sha256$0$salt$AAAA", "pbkdf2_sha256$99999999999$salt$AAAA", "md5$1$salt$AAAA",
                       "pbkdf2_sha256$1$salt"] {
            #expect(!AdminAccounts.verifyPassword("correct horse battery staple", against: stored), "\(stored)")
        }
    }

    @Test func adminExistsOnlyOnceAPasswordIsSet() throws {
        let dir = try TemporaryDirectory()
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
