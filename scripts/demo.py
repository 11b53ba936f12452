"""`make demo`: compare three providers on a local mock server and show the result.

LLMock (a real local HTTP server speaking the Anthropic, OpenAI and Gemini
wire formats) plays the providers, so no API key and no network are needed.
With real keys in the environment, the same compare() call talks to the real APIs.
"""

from __future__ import annotations

import os

from llmock.chaos import ChaosSettings
from llmock.testing import LLMockServer

import orbit_nb

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
PROMPTS = {
    "tcp": "Explain TCP slow start in one sentence.",
    "haiku": "Write a haiku about cache invalidation.",
    "sql": "When should I use a LEFT JOIN instead of an INNER JOIN?",
}


def main() -> None:
    with LLMockServer(chaos=ChaosSettings(latency_ms=400)) as server:
        os.environ.update(
            ANTHROPIC_BASE_URL=server.base_url("anthropic"),
            OPENAI_BASE_URL=server.base_url("openai"),
            GEMINI_BASE_URL=server.base_url("gemini"),
            ANTHROPIC_API_KEY="demo-key",
            OPENAI_API_KEY="demo-key",
            GEMINI_API_KEY="demo-key",
        )
        df = orbit_nb.compare(PROMPTS, MODELS, system="Answer briefly.", max_tokens=200)
    shown = [
        "prompt_id",
        "model_spec",
        "status",
        "content",
        "latency_s",
        "total_tokens",
        "cost_usd",
    ]
    print(f"{len(df)} calls, {df['status'].eq('ok').sum()} ok\n")
    print(df[shown].to_string(max_colwidth=44, float_format=lambda v: f"{v:.4g}"))
    print("\nPer-model summary:")
    cols = ["calls", "ok", "latency_p50_s", "output_tokens_per_call", "cost_usd"]
    print(orbit_nb.summary(df)[cols].to_string(float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
