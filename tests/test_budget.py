"""budget= refuses a run whose cost bound exceeds it, caps the output of a run
without max_tokens so that the bound holds, and stops new calls once spent."""

from __future__ import annotations

import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.errors import BudgetError

from canned import CannedServer, Reply

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]


def completions(llmock: LLMock) -> int:
    ends = ("/chat/completions", "/v1/messages", ":generateContent", ":streamGenerateContent")
    return sum(r.path.endswith(ends) for r in llmock.requests)


def test_budget_below_the_estimate_refuses_to_start(llmock: LLMock) -> None:
    with pytest.raises(
        BudgetError, match=r"estimated cost \$0\.0\d+ .* exceeds budget=\$0\.00001;"
    ):
        orbit_nb.compare(["a prompt"] * 1, MODELS, max_tokens=500, budget=0.00001)
    assert completions(llmock) == 0
    assert orbit_nb.jobs()[-1].state == "refused"
    assert orbit_nb.jobs().frame()["state"].iloc[-1] == "refused"


def test_budget_needs_prices(llmock: LLMock) -> None:
    with pytest.raises(BudgetError, match="no price known for openai:gpt-unpriced"):
        orbit_nb.compare("a prompt", ["openai:gpt-unpriced"], budget=1.0)
    assert completions(llmock) == 0


def test_budget_within_the_estimate_runs(llmock: LLMock) -> None:
    df = orbit_nb.compare(["a", "b"], MODELS, max_tokens=100, budget=1.0)
    assert (df["status"] == "ok").all()


def test_cached_rows_cost_nothing_against_the_budget(llmock: LLMock) -> None:
    orbit_nb.compare(["a", "b"], MODELS, max_tokens=500)
    df = orbit_nb.compare(["a", "b"], MODELS, max_tokens=500, budget=0.000001)
    assert df["cached"].all()


def test_spend_reaching_the_budget_stops_new_calls(canned: CannedServer) -> None:
    # The server bills far more output than max_tokens allows: $0.60 per call.
    huge = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 1_000_000, "total_tokens": 1_000_000},
    }
    canned.queue(Reply(200, huge))
    prompts = [f"prompt {i}" for i in range(5)]
    df = orbit_nb.compare(prompts, ["openai:gpt-4o-mini"], max_tokens=10, budget=0.5, concurrency=1)
    assert list(df["status"]) == ["ok", "skipped", "skipped", "skipped", "skipped"]
    assert df["error_message"].iloc[1] == "budget $0.50 reached; call not sent"
    assert len(canned.seen) == 1
    assert df["cost_usd"].sum() == pytest.approx(0.60)


def sent_caps(llmock: LLMock) -> dict[str, object]:
    """The max_tokens each completion request carried, by provider."""
    caps: dict[str, object] = {}
    for r in llmock.requests:
        body = r.body if isinstance(r.body, dict) else {}
        if r.path.endswith("/v1/messages"):
            caps["anthropic"] = body.get("max_tokens")
        elif r.path.endswith("/chat/completions"):
            caps["openai"] = body.get("max_completion_tokens")
        elif r.path.endswith(":generateContent"):
            caps["gemini"] = (body.get("generationConfig") or {}).get("maxOutputTokens")
    return caps


def test_budget_without_max_tokens_sends_a_cap_and_says_which(llmock: LLMock) -> None:
    with pytest.warns(UserWarning, match="budget= without max_tokens") as caught:
        df = orbit_nb.compare("a prompt", MODELS, budget=1.0, cache=False)
    assert (df["status"] == "ok").all()
    # Anthropic: the max_tokens orbit always sends; OpenAI reports no maximum output
    # and LLMock has no Gemini models.get: each API's fallback cap.
    assert sent_caps(llmock) == {"anthropic": 1024, "openai": 4096, "gemini": 8192}
    (note,) = [str(w.message) for w in caught if "budget=" in str(w.message)]
    assert "1,024 tokens for anthropic:claude-haiku-4-5 (orbit's default for this API)" in note
    assert "4,096 tokens for openai:gpt-4o-mini (orbit's cap: the API reports no maximum" in note
    assert "8,192 tokens for gemini:gemini-2.5-flash (orbit's cap: the maximum output" in note
    # The history keeps the caps sent with the requests (Anthropic's default is the adapter's).
    history = orbit_nb.history(run_id=orbit_nb.jobs()[-1].run_id).set_index("provider")
    assert history.loc[["openai", "gemini"], "max_tokens"].tolist() == [4096, 8192]


def test_budget_caps_gemini_at_the_model_limit(canned: CannedServer) -> None:
    canned.on_get("/v1beta/models/gemini-2.5-flash", Reply(200, {"outputTokenLimit": 65536}))
    answer = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
    }
    canned.queue(Reply(200, answer))
    with pytest.warns(UserWarning, match="65,536 tokens for gemini:gemini-2.5-flash"):
        df = orbit_nb.compare("hi", ["gemini:gemini-2.5-flash"], budget=1.0)
    assert list(df["status"]) == ["ok"]
    # The byte bound fits the budget, so no count was needed.
    get, call = canned.seen
    assert (get.method, get.target) == ("GET", "/v1beta/models/gemini-2.5-flash")
    assert call.target.endswith(":generateContent")
    assert call.body["generationConfig"]["maxOutputTokens"] == 65536


def test_a_budget_over_the_capped_bound_is_refused_naming_the_cap(llmock: LLMock) -> None:
    with pytest.raises(BudgetError, match="4,096 tokens for openai:gpt-4o"):
        orbit_nb.compare("a prompt", ["openai:gpt-4o"], budget=0.001)
    # The answers alone could cost more than the budget: nothing, not even a count, was sent.
    assert llmock.requests == []


def test_the_gate_counts_input_when_the_byte_bound_is_over_budget(canned: CannedServer) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "ok"}],
        "model": "claude-haiku-4-5",
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 100, "output_tokens": 1},
    }
    canned.queue(Reply(200, {"input_tokens": 100}), Reply(200, message))
    # 4,000 bytes bound the input at $0.005; counted, it is 100 tokens, $0.0002.
    df = orbit_nb.compare("x" * 4000, ["anthropic:claude-haiku-4-5"], max_tokens=10, budget=0.001)
    assert list(df["status"]) == ["ok"]
    assert [seen.target for seen in canned.seen] == ["/v1/messages/count_tokens", "/v1/messages"]


def test_the_fallback_cap_is_part_of_the_cache_key(llmock: LLMock) -> None:
    """An answer capped for a budget is not served to a run without the cap."""
    orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])
    with pytest.warns(UserWarning, match="budget="):
        capped = orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"], budget=1.0)
    assert not capped["cached"].any()
    again = orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"], budget=1.0)
    assert again["cached"].all()
    assert completions(llmock) == 2
