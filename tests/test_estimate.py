"""estimate() is an upper bound on what the same calls cost, or says there is none."""

from __future__ import annotations

import asyncio
import base64

import pandas as pd
import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.api import estimate
from orbit_nb.bounds import BY_BYTES, BY_COUNT, MESSAGE_OVERHEAD_TOKENS
from orbit_nb.cost import cost
from orbit_nb.errors import ParameterError
from orbit_nb.price_data import Price, lookup
from orbit_nb.providers import build
from orbit_nb.specs import parse_models, resolve
from orbit_nb.types import Usage

from canned import CannedServer, Reply

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
SYSTEM = "Answer briefly."
# Text that chars/4 undercounts: CJK is 3 UTF-8 bytes and often one token a
# character; digits and base64 split into short tokens.
PROMPTS = {
    "english": "Summarise the CAP theorem in two sentences; name a system that picks availability.",
    "chinese": "请用两句话总结CAP定理\uff0c并举一个选择可用性而不是一致性的分布式系统的例子。" * 3,
    "digits": "31415926535897932384626433832795028841971693993751" * 4,
    "base64": base64.b64encode(bytes(range(256))).decode(),
}


def price(spec: str) -> Price:
    found = lookup(spec.split(":", 1)[1])
    assert found is not None, f"no shipped price for {spec}"
    return found


def byte_bound(prompt: str, system: str | None) -> int:
    texts = [prompt] if system is None else [system, prompt]
    messages = len(texts) + 1  # and the reply the API opens
    return sum(len(t.encode()) for t in texts) + MESSAGE_OVERHEAD_TOKENS * messages


def input_rate(p: Price) -> float:
    """Dollars per million input tokens the bound uses: writes may cost more."""
    return max(p.input, p.cache_write if p.cache_write is not None else p.input)


def completion_requests(llmock: LLMock) -> int:
    ends = ("/chat/completions", "/v1/messages", ":generateContent", ":streamGenerateContent")
    return sum(r.path.endswith(ends) for r in llmock.requests)


def real_cost(rows: pd.DataFrame) -> float:
    """The calls' cost from the usage LLMock reported, at the shipped price."""
    total = 0.0
    for row in rows.itertuples():
        usage = Usage(input_tokens=int(row.input_tokens), output_tokens=int(row.output_tokens))
        spent = cost(price(str(row.model_spec)), usage)
        assert spent is not None
        total += spent
    return total


@pytest.mark.parametrize("max_tokens", [100, None])
@pytest.mark.parametrize("kind", list(PROMPTS))
def test_estimate_bounds_what_the_calls_cost(
    llmock: LLMock, kind: str, max_tokens: int | None
) -> None:
    prompt = PROMPTS[kind]
    table = estimate(prompt, MODELS, system=SYSTEM, max_tokens=max_tokens, repeat=2)
    assert completion_requests(llmock) == 0  # estimating calls no model
    df = orbit_nb.compare(prompt, MODELS, system=SYSTEM, max_tokens=max_tokens, repeat=2)
    assert (df["status"] == "ok").all()
    for spec in MODELS:
        row, calls = table.loc[spec], df[df["model_spec"] == spec]
        # LLMock has no count endpoint: the input is bounded by bytes.
        assert row["counted_by"] == BY_BYTES
        assert row["input_tokens"] == 2 * byte_bound(prompt, SYSTEM)
        assert row["input_tokens"] >= calls["input_tokens"].sum()
        if row["output_by"] == "unbounded":
            assert pd.isna(row["max_cost_usd"]) and pd.isna(row["output_tokens"])
            continue
        assert row["output_tokens"] >= calls["output_tokens"].sum()
        assert row["max_cost_usd"] >= real_cost(calls)
        assert row["max_cost_usd"] >= calls["cost_usd"].sum()
    expected = {
        MODELS[0]: "max_tokens" if max_tokens else "default max_tokens",
        # Neither reports a maximum output here (LLMock has no models.get).
        MODELS[1]: "max_tokens" if max_tokens else "unbounded",
        MODELS[2]: "max_tokens" if max_tokens else "unbounded",
    }
    assert table["output_by"].to_dict() == expected


def test_output_without_a_known_maximum_is_unbounded(llmock: LLMock) -> None:
    table = estimate("hello", ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
    openai, anthropic = table.loc["openai:gpt-4o-mini"], table.loc["anthropic:claude-haiku-4-5"]
    assert openai["output_by"] == "unbounded"
    assert pd.isna(openai["output_tokens"]) and pd.isna(openai["max_cost_usd"])
    note = "output unbounded for openai:gpt-4o-mini: no max_tokens and no known maximum output"
    assert note in repr(table)
    # Anthropic needs max_tokens, and orbit sends 1,024 when none is given: that bounds it.
    assert (anthropic["output_by"], anthropic["output_tokens"]) == ("default max_tokens", 1024)
    p = price("anthropic:claude-haiku-4-5")
    expected = (byte_bound("hello", None) * input_rate(p) + 1024 * p.output) / 1e6
    assert anthropic["max_cost_usd"] == pytest.approx(expected)


def test_an_input_bound_over_the_threshold_is_priced_at_the_long_context_tier(
    llmock: LLMock,
) -> None:
    spec = "anthropic:claude-sonnet-4-5"
    p = price(spec)
    assert p.long_context is not None and p.long_context_threshold is not None
    at = p.long_context_threshold - byte_bound("", None)  # a bound right at the threshold
    below = estimate("x" * at, [spec], max_tokens=10).loc[spec]
    above = estimate("x" * (at + 1), [spec], max_tokens=10).loc[spec]
    assert below["input_tokens"] == p.long_context_threshold
    assert above["input_tokens"] == p.long_context_threshold + 1
    assert below["max_cost_usd"] == pytest.approx(
        (p.long_context_threshold * input_rate(p) + 10 * p.output) / 1e6
    )
    tier = p.long_context
    assert above["max_cost_usd"] == pytest.approx(
        ((p.long_context_threshold + 1) * input_rate(tier) + 10 * tier.output) / 1e6
    )


def test_a_service_tier_is_priced_at_the_dearer_of_it_and_standard(llmock: LLMock) -> None:
    """gpt-5.4: priority bills twice the standard rates, flex half; a flex request
    may be served at standard, so its bound is standard's."""
    spec = "openai:gpt-5.4"
    p = price(spec)
    bound = (byte_bound("hello", None) * p.input + 2_000 * p.output) / 1e6
    costs = {
        tier: estimate("hello", [spec], max_tokens=2_000, service_tier=tier).loc[spec]
        for tier in [None, "flex", "priority"]
    }
    assert costs[None]["max_cost_usd"] == pytest.approx(bound)
    assert costs["flex"]["max_cost_usd"] == pytest.approx(bound)
    assert costs["priority"]["max_cost_usd"] == pytest.approx(2 * bound)
    asked = len(llmock.requests)  # the count endpoint, once a tier
    with pytest.raises(ParameterError, match="'fastest'"):
        estimate("hello", [spec], service_tier="fastest")
    assert len(llmock.requests) == asked  # refused before anything was asked


def test_a_possible_cache_write_is_priced_at_the_write_rate(llmock: LLMock) -> None:
    spec = "anthropic:claude-haiku-4-5"
    p = price(spec)
    assert p.cache_write is not None and p.cache_write > p.input
    row = estimate("hello", [spec], max_tokens=10).loc[spec]
    assert row["max_cost_usd"] == pytest.approx(
        (byte_bound("hello", None) * p.cache_write + 10 * p.output) / 1e6
    )


def test_anthropic_input_is_counted_by_count_tokens(canned: CannedServer) -> None:
    canned.queue(Reply(200, {"input_tokens": 123}))
    spec = "anthropic:claude-haiku-4-5"
    row = estimate("hello there", [spec], system="be brief", max_tokens=100).loc[spec]
    counted = 123 + 3 * MESSAGE_OVERHEAD_TOKENS
    assert (row["input_tokens"], row["counted_by"]) == (counted, BY_COUNT)
    p = price(spec)
    assert row["max_cost_usd"] == pytest.approx((counted * input_rate(p) + 100 * p.output) / 1e6)
    (seen,) = canned.seen
    assert (seen.method, seen.target) == ("POST", "/v1/messages/count_tokens")
    assert seen.body == {
        "model": "claude-haiku-4-5",
        "messages": [{"role": "user", "content": "hello there"}],
        "system": "be brief",
    }


def test_openai_input_is_counted_by_the_responses_input_token_count(
    canned: CannedServer,
) -> None:
    canned.queue(Reply(200, {"object": "response.input_tokens", "input_tokens": 57}))
    spec = "openai:gpt-4o-mini"
    row = estimate("hello there", [spec], system="be brief", max_tokens=100).loc[spec]
    counted = 57 + 3 * MESSAGE_OVERHEAD_TOKENS
    assert (row["input_tokens"], row["counted_by"]) == (counted, BY_COUNT)
    p = price(spec)
    assert row["max_cost_usd"] == pytest.approx((counted * input_rate(p) + 100 * p.output) / 1e6)
    (seen,) = canned.seen
    assert (seen.method, seen.target) == ("POST", "/v1/responses/input_tokens")
    # The messages Chat Completions is sent, as Responses input.
    assert seen.body == {
        "model": "gpt-4o-mini",
        "input": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
    }


def test_gemini_input_is_counted_and_output_bounded_by_the_model_limit(
    canned: CannedServer,
) -> None:
    canned.on_get("/v1beta/models/gemini-2.5-flash", Reply(200, {"outputTokenLimit": 65536}))
    canned.queue(Reply(200, {"totalTokens": 77}))
    spec = "gemini:gemini-2.5-flash"
    row = estimate("hello there", [spec], system="be brief").loc[spec]
    counted = 77 + 3 * MESSAGE_OVERHEAD_TOKENS
    assert (row["input_tokens"], row["counted_by"]) == (counted, BY_COUNT)
    assert (row["output_tokens"], row["output_by"]) == (65536, "model limit")
    p = price(spec)
    assert row["max_cost_usd"] == pytest.approx((counted * input_rate(p) + 65536 * p.output) / 1e6)
    by_method = {seen.method: seen for seen in canned.seen}
    assert sorted(by_method) == ["GET", "POST"]
    assert by_method["GET"].target == "/v1beta/models/gemini-2.5-flash"
    assert by_method["GET"].headers["x-goog-api-key"]  # the key goes in the header, not the URL
    assert by_method["POST"].target == "/v1beta/models/gemini-2.5-flash:countTokens"
    request = by_method["POST"].body["generateContentRequest"]
    assert request["model"] == "models/gemini-2.5-flash"
    assert request["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert request["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]


def test_a_failing_count_endpoint_falls_back_to_bytes(canned: CannedServer) -> None:
    canned.queue(Reply(500, {"error": {"message": "count is down"}}))
    spec = "anthropic:claude-haiku-4-5"
    row = estimate("你好\uff0c世界", [spec], max_tokens=10).loc[spec]
    assert (row["input_tokens"], row["counted_by"]) == (
        byte_bound("你好\uff0c世界", None),
        BY_BYTES,
    )
    assert len(canned.seen) == 1  # one try: a failed count is not retried


def test_estimate_of_an_unpriced_model_is_na(llmock: LLMock) -> None:
    table = estimate("hello", ["openai:gpt-unpriced"], max_tokens=10)
    assert table["max_cost_usd"].isna().all()
    assert (table["output_by"] == "max_tokens").all()


def test_anthropic_reports_a_model_maximum_output(canned: CannedServer) -> None:
    """The Models API's max_tokens (unused by the bound: orbit always sends Anthropic
    a max_tokens, but the adapter answers like the others)."""
    entry = {
        "type": "model",
        "id": "claude-haiku-4-5",
        "display_name": "Claude Haiku 4.5",
        "created_at": "2025-10-01T00:00:00Z",
        "lifecycle": "active",
        "max_input_tokens": 200000,
        "max_tokens": 64000,
    }
    canned.on_get("/v1/models/claude-haiku-4-5", Reply(200, entry))
    target = resolve(parse_models("anthropic:claude-haiku-4-5"))["anthropic"]

    async def ask() -> int | None:
        provider = build(target, 1)
        try:
            return await provider.output_limit("claude-haiku-4-5")
        finally:
            await provider.aclose()

    assert asyncio.run(ask()) == 64000
    (seen,) = canned.seen
    assert (seen.method, seen.target) == ("GET", "/v1/models/claude-haiku-4-5")
