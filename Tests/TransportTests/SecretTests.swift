import Foundation
import Testing
import Transport

/// The one redacting type and its process-wide registry. Each test uses values of its own: the
/// registry only grows, and tests run in one process.
@Suite struct SecretTests {
    @Test func aSecretNeverShowsItself() {
        let secret = Secret("sk-never-shown-0a1b2c")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(String(describing: Optional(secret)) == "Optional(<redacted>)")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("sk-never-shown"))
        #expect(secret.value == "sk-never-shown-0a1b2c")
    }

    @Test func makingOneRegistersItsValue() {
        let value = "sk-registered-by-init-77f3"
        #expect(Secret.redact("echo: Bearer \(value)!") == "echo: Bearer \(value)!")
        _ = Secret(value)
        #expect(Secret.redact("echo: Bearer \(value)!") == "echo: Bearer <redacted>!")
        #expect(Secret.redact(Array("x\(value)x".utf8)) == Array("x<redacted>x".utf8))
    }

    /// A key as a server or an encoder may write it back: JSON-escaped (quotes, backslashes,
    /// `\/`, `\u` escapes) and percent-encoded in either hex case.
    @Test func everyEncodedFormIsBlanked() throws {
        let value = "tok/en\"with\\odd+chars é 9f2e"
        _ = Secret(value)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: ["echo": value]), as: UTF8.self)
        #expect(!json.contains(value))  // the escaped form differs from the raw one
        let forms = [
            value,
            json,
            #"{"echo":"tok\/en\"with\\odd+chars \u00e9 9f2e"}"#,
            value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
            value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!.lowercased(),
        ]
        for form in forms {
            let redacted = Secret.redact("before \(form) after")
            #expect(redacted.contains("<redacted>"), "\(form)")
            #expect(!redacted.contains("9f2e"), "\(form) → \(redacted)")
        }
    }

    /// Encoders differ in what they escape: any mix of plain, percent-encoded and `\u` bytes is found.
    @Test(arguments: [#"sk%2dmixed\/key%2B77a1c0"#, #"\u0073k-mixed/key+77a1c0"#, "%73%6B%2D%6D%69%78%65%64%2F%6B%65%79%2B77a1c0",
                      #"sk-mixed\u002fkey\u002B77a1c0"#])
    func mixedEncodingsAreBlanked(form: String) {
        _ = Secret("sk-mixed/key+77a1c0")
        #expect(Secret.redact("a \(form) b") == "a <redacted> b")
    }

    @Test func environmentVariablesNamedLikeSecretsAreRegistered() {
        Secret.register(environment: ["MY_SERVICE_TOKEN": "tok-env-5d1e9a", "SMTP_PASSWORD": "pw-env-81c2aa",
                                      "WEBHOOK_SECRET": "whs-env-0c3d44", "SOME_API_KEY": "key-env-6b7f11",
                                      "PUBLIC_URL": "https://example.invalid/not-secret-3a"])
        let text = "tok-env-5d1e9a pw-env-81c2aa whs-env-0c3d44 key-env-6b7f11 https://example.invalid/not-secret-3a"
        #expect(Secret.redact(text) == "<redacted> <redacted> <redacted> <redacted> https://example.invalid/not-secret-3a")
        #expect(Secret.isSecretName("openai_api_key"))
        #expect(!Secret.isSecretName("KEYWORDS"))
    }

    @Test func shortValuesAreNotRegistered() {
        Secret.register("abc")
        _ = Secret("xyz12")
        #expect(Secret.redact("abc xyz12 abcdef") == "abc xyz12 abcdef")
    }

    @Test func aURLIsBlankedWithTheTokensInItsPathAndQuery() {
        let url = "https://hooks.example.invalid/services/T0/B0/tok3n-path-44e1?sig=q-sig-55aa01"
        Secret.register(url: url)
        #expect(Secret.redact("posting to \(url) failed") == "posting to <redacted> failed")
        #expect(Secret.redact("GET /services/T0/B0/tok3n-path-44e1 then sig=q-sig-55aa01")
                == "GET <redacted> then <redacted>")
    }
}
