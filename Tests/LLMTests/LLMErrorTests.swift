import LLM
import Transport
import Testing

@Suite struct LLMErrorTests {
    @Test func keysNeverPrint() {
        let key = Secret("sk-secret-123")
        #expect("\(key)" == "<redacted>")
        #expect(String(reflecting: key) == "<redacted>")
        #expect(!String(describing: [key]).contains("sk-secret"))
    }

    @Test func transientKinds() {
        #expect(LLMError(.rateLimited, provider: .openai, status: 429, message: "slow down").isTransient)
        #expect(LLMError(.server, provider: .groq, status: 503, message: "busy").isTransient)
        #expect(!LLMError(.unauthorized, provider: .anthropic, status: 401, message: "bad key").isTransient)
        #expect(!LLMError(.malformedResponse, provider: .ollama, message: "not JSON").isTransient)
        #expect(LLMError(.server, provider: .groq, status: 503, message: "busy").description == "groq: busy (HTTP 503)")
    }
}
