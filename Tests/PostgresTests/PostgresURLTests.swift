import Postgres
import Testing

@Suite struct PostgresURLTests {
    @Test func partsOfAFullURL() throws {
        let url = try PostgresURL("postgres://shop:s3cr%40t@db.example:5433/market?sslmode=require", environment: [:])
        #expect(url.user == "shop")
        #expect(url.password == "s3cr@t")
        #expect(url.hosts == "db.example:5433")
        #expect(url.database == "market")
        #expect(url.query == "sslmode=require")
    }

    @Test(arguments: [
        ("postgres://shop:hunter22@db:5432/market", "postgres://shop:***@db:5432/market"),
        ("postgresql://shop:p%2Fw@h1,h2:5433/m?sslmode=require", "postgresql://shop:***@h1,h2:5433/m?sslmode=require"),
        ("postgres://shop@db/market?password=hunter22&sslmode=require", "postgres://shop@db/market?password=***&sslmode=require"),
        ("postgres://db/market", "postgres://db/market"),
        ("postgres://shop:pa@ss@db/market", "postgres://shop:***@db/market"),
    ])
    func redactedForm(url: String, redacted: String) throws {
        let parsed = try PostgresURL(url, environment: [:])
        #expect(parsed.redacted == redacted)
        #expect("\(parsed)" == redacted)
        #expect(!parsed.redacted.contains("hunter22"))
    }

    @Test func keywordConninfoIsRedactedToo() {
        #expect(PostgresURL.redact("host=db password=hunter22 dbname=m") == "host=db password=*** dbname=m")
    }

    @Test func variablesAreExpandedAndEncodedInsideAURL() throws {
        let url = try PostgresURL("postgres://shop:${SHOP_DB_PASSWORD}@${DB_HOST}:5432/market",
                                  environment: ["SHOP_DB_PASSWORD": "a@b/c:d", "DB_HOST": "db.internal"])
        #expect(url.password == "a@b/c:d")
        #expect(url.hosts == "db.internal:5432")
        #expect(url.database == "market")
        #expect(url.redacted == "postgres://shop:***@db.internal:5432/market")
    }

    @Test func aWholeURLFromOneVariableIsTakenAsItIs() throws {
        let url = try PostgresURL("${DATABASE_URL}", environment: ["DATABASE_URL": "postgres://u:pw123456@h:1/d"])
        #expect(url.conninfo == "postgres://u:pw123456@h:1/d")
        #expect(url.password == "pw123456")
    }

    @Test func anUnsetVariableIsAnError() {
        expectError(PGError.url) { _ = try PostgresURL("postgres://u:${NOPE}@h/d", environment: [:]) }
    }

    @Test func otherSchemesAreRefused() {
        expectError(PGError.url) { _ = try PostgresURL("mysql://u@h/d", environment: [:]) }
        #expect(PostgresURL.isPostgres("POSTGRESQL://h/d"))
        #expect(!PostgresURL.isPostgres("store/agentshop.sqlite"))
    }

    @Test func anotherDatabaseKeepsServerAndCredentials() throws {
        let url = try PostgresURL("postgres://u:pw@h:5432/one?sslmode=disable", environment: [:]).with(database: "two")
        #expect(url.conninfo == "postgres://u:pw@h:5432/two?sslmode=disable")
        #expect(try PostgresURL("postgres://h", environment: [:]).with(database: "x").conninfo == "postgres://h/x")
    }
}
