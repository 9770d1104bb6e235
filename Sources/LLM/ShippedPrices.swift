// The price table shipped with AgentShop: USD per 1M input and output tokens, read from the
// providers' public price pages. It is compiled into the binary (so a release binary finds it
// wherever it runs) and is the same JSON format as an override file (`AGENTSHOP_LLM_PRICES` or
// `pipelines/llm_prices.json`); `agentshop llm prices` prints it. Prices change: override
// rather than edit, and keep `as_of` honest when you do edit.
//
// Groq bills per 1M tokens like the others (llama-3.1-8b-instant: $0.05 in, $0.08 out); the
// original AgentShop divided by 1,000 instead of 1,000,000 and was 1000x off.
// Perplexity also charges a per-request search fee that is not in this table.
let shippedPriceData = #"""
{
  "as_of": "2025-11",
  "unit": "USD per 1M tokens",
  "providers": {
    "offline": { "*": { "input": 0, "output": 0 } },
    "ollama": { "*": { "input": 0, "output": 0 } },
    "openai": {
      "gpt-5": { "input": 1.25, "output": 10.00 },
      "gpt-5-mini": { "input": 0.25, "output": 2.00 },
      "gpt-5-nano": { "input": 0.05, "output": 0.40 },
      "gpt-4.1": { "input": 2.00, "output": 8.00 },
      "gpt-4.1-mini": { "input": 0.40, "output": 1.60 },
      "gpt-4.1-nano": { "input": 0.10, "output": 0.40 },
      "gpt-4o": { "input": 2.50, "output": 10.00 },
      "gpt-4o-mini": { "input": 0.15, "output": 0.60 },
      "o3": { "input": 2.00, "output": 8.00 },
      "o3-mini": { "input": 1.10, "output": 4.40 },
      "o4-mini": { "input": 1.10, "output": 4.40 },
      "o1": { "input": 15.00, "output": 60.00 },
      "gpt-4-turbo": { "input": 10.00, "output": 30.00 },
      "gpt-4": { "input": 30.00, "output": 60.00 },
      "gpt-3.5-turbo": { "input": 0.50, "output": 1.50 }
    },
    "anthropic": {
      "claude-opus-4-1": { "input": 15.00, "output": 75.00 },
      "claude-opus-4": { "input": 15.00, "output": 75.00 },
      "claude-sonnet-4-5": { "input": 3.00, "output": 15.00 },
      "claude-sonnet-4": { "input": 3.00, "output": 15.00 },
      "claude-haiku-4-5": { "input": 1.00, "output": 5.00 },
      "claude-3-7-sonnet": { "input": 3.00, "output": 15.00 },
      "claude-3-5-sonnet": { "input": 3.00, "output": 15.00 },
      "claude-3-5-haiku": { "input": 0.80, "output": 4.00 },
      "claude-3-opus": { "input": 15.00, "output": 75.00 },
      "claude-3-haiku": { "input": 0.25, "output": 1.25 }
    },
    "groq": {
      "llama-3.1-8b-instant": { "input": 0.05, "output": 0.08 },
      "llama-3.3-70b-versatile": { "input": 0.59, "output": 0.79 },
      "meta-llama/llama-4-scout-17b-16e-instruct": { "input": 0.11, "output": 0.34 },
      "meta-llama/llama-4-maverick-17b-128e-instruct": { "input": 0.20, "output": 0.60 },
      "openai/gpt-oss-20b": { "input": 0.075, "output": 0.30 },
      "openai/gpt-oss-120b": { "input": 0.15, "output": 0.60 },
      "qwen/qwen3-32b": { "input": 0.29, "output": 0.59 },
      "moonshotai/kimi-k2-instruct": { "input": 1.00, "output": 3.00 },
      "gemma2-9b-it": { "input": 0.20, "output": 0.20 },
      "llama3-8b-8192": { "input": 0.05, "output": 0.08 },
      "llama3-70b-8192": { "input": 0.59, "output": 0.79 },
      "mixtral-8x7b-32768": { "input": 0.24, "output": 0.24 }
    },
    "perplexity": {
      "sonar": { "input": 1.00, "output": 1.00 },
      "sonar-pro": { "input": 3.00, "output": 15.00 },
      "sonar-reasoning": { "input": 1.00, "output": 5.00 },
      "sonar-reasoning-pro": { "input": 2.00, "output": 8.00 },
      "sonar-deep-research": { "input": 2.00, "output": 8.00 }
    }
  }
}
"""#
