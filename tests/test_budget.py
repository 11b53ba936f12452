"""estimate() bounds a run's cost before any call; budget= refuses or caps a run."""

from __future__ import annotations

import math

import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.api import estimate
from orbit_nb.errors import BudgetError

from canned import CannedServer, Reply

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
# $ per million tokens (input, output) of the three models, from the shipped table.
PRICES = {MODELS[0]: (1.0, 5.0), MODELS[1]: (0.15, 0.60), MODELS[2]: (0.30, 2.50)}


def completions(llmock: LLMock) -> int:
    return sum("count" not in r.path.lower() for r in llmock.requests)


def test_estimate_without_count_endpoints_uses_text_length(llmock: LLMock) -> None:
    prompts = ["x" * 40, "y" * 401]  # 10 and 101 tokens at 4 characters per token
    table = estimate(prompts, MODELS, system="s" * 8, max_tokens=100, repeat=2)
    assert completions(llmock) == 0
    assert list(table.index) == sorted(MODELS)
    for spec, (inp, out) in PRICES.items():
        row = table.loc[spec]
        input_tokens = 2 * ((8 + 40) // 4 + math.ceil((8 + 401) / 4))
        assert (row["calls"], row["input_tokens"], row["output_tokens"]) == (4, input_tokens, 400)
        assert row["counted_by"] == "chars/4"
        assert row["max_cost_usd"] == pytest.approx((input_tokens * inp + 400 * out) / 1e6)


def test_estimate_of_an_unpriced_model_is_na(llmock: LLMock) -> None:
    table = estimate("hello", ["openai:gpt-unpriced"], max_tokens=10)
    assert table["max_cost_usd"].isna().all()


def test_estimate_uses_anthropic_count_tokens(canned: CannedServer) -> None:
    canned.queue(Reply(200, {"input_tokens": 123}))
    table = estimate("hello there", ["anthropic:claude-haiku-4-5"], max_tokens=100)
    row = table.iloc[0]
    assert (row["input_tokens"], row["counted_by"]) == (123, "count_tokens")
    assert row["max_cost_usd"] == pytest.approx((123 * 1.0 + 100 * 5.0) / 1e6)
    (seen,) = canned.seen
    assert seen.target == "/v1/messages/count_tokens"


def test_estimate_uses_gemini_count_tokens(canned: CannedServer) -> None:
    canned.queue(Reply(200, {"totalTokens": 77}))
    table = estimate("hello there", ["gemini:gemini-2.5-flash"], system="be brief", max_tokens=10)
    assert (table["input_tokens"].iloc[0], table["counted_by"].iloc[0]) == (77, "count_tokens")
    (seen,) = canned.seen
    assert seen.target == "/v1beta/models/gemini-2.5-flash:countTokens"
    request = seen.body["generateContentRequest"]
    assert request["model"] == "models/gemini-2.5-flash"
    assert request["systemInstruction"] == {"parts": [{"text": "be brief"}]}


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
