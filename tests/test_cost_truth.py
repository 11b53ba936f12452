"""Cost truth: worked examples, each priced by hand from the providers' price pages.

Every expected dollar figure below is written out from the rates the provider
publishes (USD per million tokens, quoted in the comment next to it), not read
back from the price library. The calls go over real HTTP: LLMock where it
answers the shape, a canned server for the documented fields LLMock does not
emit (the served model, the service tier, cache writes by TTL, Anthropic's
inference geography and speed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.errors import ParameterError, SpecError
from orbit_nb.price_data import library, lookup, priced, reset_prices
from orbit_nb.price_data import load as load_prices
from orbit_nb.specs import _ENDPOINTS

from canned import CannedServer, Reply

M = 1e-6  # dollars per token at $1 per million


def exactly(dollars: float) -> Any:
    return pytest.approx(dollars, rel=1e-9, abs=0)


@pytest.fixture(autouse=True)
def _library_prices() -> Iterator[None]:
    reset_prices()
    load_prices()
    yield
    reset_prices()


def openai_reply(model: str, prompt: int, completion: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1764000000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        **extra,
    }


def anthropic_reply(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def one_row(canned: CannedServer, body: Any, spec: str, **options: Any) -> pd.Series:
    canned.replies.clear()  # this reply, not one left from an earlier call
    canned.queue(Reply(200, body))
    df = orbit_nb.compare("Name a prime.", [spec], cache=False, **options)
    row = df.iloc[0]
    assert row["status"] == "ok", row["error_message"]
    return row


# -- dated snapshots -------------------------------------------------------------------


def test_a_dated_snapshot_has_its_own_price_not_its_familys(canned: CannedServer) -> None:
    # OpenAI lists gpt-4o-2024-05-13 at $5 in / $15 out; gpt-4o is $2.50 / $10.
    row = one_row(canned, openai_reply("gpt-4o-2024-05-13", 1_000, 500), "openai:gpt-4o-2024-05-13")
    assert row["cost_usd"] == exactly(1_000 * 5 * M + 500 * 15 * M)
    assert row["cost_usd"] == exactly(0.0125)
    assert row["price_source"] == library()


# -- the model that answered -----------------------------------------------------------


def test_the_served_model_is_priced_not_the_one_asked(canned: CannedServer) -> None:
    # Asked for gpt-4o ($2.50/$10); the response says gpt-4o-2024-05-13 ($5/$15) answered.
    row = one_row(canned, openai_reply("gpt-4o-2024-05-13", 2_000, 1_000), "openai:gpt-4o")
    assert (row["model"], row["served_model"]) == ("gpt-4o", "gpt-4o-2024-05-13")
    assert row["cost_usd"] == exactly(2_000 * 5 * M + 1_000 * 15 * M)  # $0.025, not $0.015


def test_a_served_model_without_a_price_falls_back_to_the_asked_one_and_says_so(
    canned: CannedServer,
) -> None:
    row = one_row(canned, openai_reply("gpt-4o-internal-build", 1_000, 100), "openai:gpt-4o")
    assert row["cost_usd"] == exactly(1_000 * 2.5 * M + 100 * 10 * M)
    assert "priced as 'gpt-4o'" in row["price_source"]
    assert "'gpt-4o-internal-build'" in row["price_source"]


# -- prices by request date ------------------------------------------------------------


def test_a_price_change_applies_from_its_date() -> None:
    # gemini-3.8-flash: $0.75 in / $3.75 out until 2026-12-31, $1.50 / $7.50 from 2027-01-01.
    before = priced("gemini", "gemini-3.8-flash", when=datetime(2026, 12, 31, 23, tzinfo=UTC))
    after = priced("gemini", "gemini-3.8-flash", when=datetime(2027, 1, 1, 1, tzinfo=UTC))
    assert before.price is not None and after.price is not None
    usage = orbit_nb.types.Usage(input_tokens=1_000_000, output_tokens=100_000)
    assert orbit_nb.cost.cost(before.price, usage) == exactly(0.75 + 0.375)  # $1.125
    assert orbit_nb.cost.cost(after.price, usage) == exactly(1.50 + 0.75)  # $2.25


def test_reprice_at_a_date_uses_that_dates_prices(llmock: LLMock) -> None:
    df = orbit_nb.compare("Say hi.", ["gemini:gemini-3.8-flash"], max_tokens=20)
    tokens_in, tokens_out = int(df.at[0, "input_tokens"]), int(df.at[0, "output_tokens"])
    # Today (2026) the row was billed at $0.75 / $3.75.
    assert df.at[0, "cost_usd"] == exactly(tokens_in * 0.75 * M + tokens_out * 3.75 * M)
    later = orbit_nb.reprice(df, at="2027-01-01")
    assert later.at[0, "cost_usd"] == exactly(tokens_in * 1.50 * M + tokens_out * 7.50 * M)
    earlier = orbit_nb.reprice(df, at=date(2026, 12, 31))
    assert earlier.at[0, "cost_usd"] == exactly(df.at[0, "cost_usd"])
    assert later.attrs["repriced_at"] == "2027-01-01"
    assert df.at[0, "cost_usd"] == exactly(earlier.at[0, "cost_usd"])  # the input is untouched


# -- service tiers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "rates"),
    [
        # gpt-5.4: standard $2.50 / $15, flex $1.25 / $7.50, priority $5 / $30.
        ("flex", (1.25, 7.5)),
        ("priority", (5.0, 30.0)),
        ("default", (2.5, 15.0)),
    ],
)
def test_the_tier_the_response_reports_is_priced(
    canned: CannedServer, tier: str, rates: tuple[float, float]
) -> None:
    body = openai_reply("gpt-5.4", 10_000, 2_000, service_tier=tier)
    row = one_row(canned, body, "openai:gpt-5.4", service_tier=tier)
    assert canned.seen[-1].body["service_tier"] == tier  # asked for
    assert row["service_tier"] == tier  # recorded as the response reports it
    assert row["cost_usd"] == exactly(10_000 * rates[0] * M + 2_000 * rates[1] * M)


def test_a_tier_asked_for_but_not_granted_is_priced_as_served(canned: CannedServer) -> None:
    # Asked for flex; the response says the default tier served it: billed at $2.50 / $15.
    body = openai_reply("gpt-5.4", 10_000, 2_000, service_tier="default")
    row = one_row(canned, body, "openai:gpt-5.4", service_tier="flex")
    assert row["service_tier"] == "default"
    assert row["cost_usd"] == exactly(10_000 * 2.5 * M + 2_000 * 15 * M)


def test_service_tier_is_sent_where_offered(canned: CannedServer) -> None:
    canned.queue(
        Reply(200, anthropic_reply("claude-haiku-4-5", {"input_tokens": 5, "output_tokens": 1}))
    )
    orbit_nb.compare("x", ["anthropic:claude-haiku-4-5"], service_tier="priority", cache=False)
    assert canned.seen[-1].body["service_tier"] == "auto"  # priority capacity where available
    orbit_nb.compare("x", ["anthropic:claude-haiku-4-5"], service_tier="flex", cache=False)
    assert "service_tier" not in canned.seen[-1].body  # Anthropic has no flex tier


def test_a_bad_service_tier_is_refused_before_any_call(canned: CannedServer) -> None:
    with pytest.raises(ParameterError, match="service_tier='cheap'"):
        orbit_nb.compare("x", ["openai:gpt-5.4"], service_tier="cheap")
    assert canned.seen == []


# -- Anthropic: cache writes by TTL, inference geography, fast mode ---------------------


def test_one_hour_and_five_minute_cache_writes(canned: CannedServer) -> None:
    # claude-haiku-4-5: input $1, 5-minute write $1.25, 1-hour write $2, read $0.10, output $5.
    usage = {
        "input_tokens": 100,
        "cache_creation_input_tokens": 3_000,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
        "output_tokens": 200,
    }
    row = one_row(
        canned, anthropic_reply("claude-haiku-4-5-20251001", usage), "anthropic:claude-haiku-4-5"
    )
    assert (row["cache_write_tokens"], row["cache_write_1h_tokens"]) == (3_000, 2_000)
    expected = 100 * 1 * M + 1_000 * 1.25 * M + 2_000 * 2 * M + 200 * 5 * M
    assert row["cost_usd"] == exactly(expected)  # $0.00635
    assert row["cost_usd"] == exactly(0.00635)


def test_us_only_inference_costs_more_on_claude_4_6_and_newer(canned: CannedServer) -> None:
    # claude-opus-4-6: $5 / $25; US-only inference ("inference_geo": "us") is 1.1x.
    usage = {"input_tokens": 1_000, "output_tokens": 1_000, "inference_geo": "us"}
    row = one_row(canned, anthropic_reply("claude-opus-4-6", usage), "anthropic:claude-opus-4-6")
    assert row["cost_usd"] == exactly((1_000 * 5 * M + 1_000 * 25 * M) * 1.1)  # $0.033
    # Older models have no geography premium.
    row = one_row(canned, anthropic_reply("claude-opus-4-5", usage), "anthropic:claude-opus-4-5")
    assert row["cost_usd"] == exactly(1_000 * 5 * M + 1_000 * 25 * M)


def test_fast_mode_is_priced_at_its_rates(canned: CannedServer) -> None:
    # claude-opus-5: $5 / $25; fast mode $10 / $50.
    usage = {"input_tokens": 1_000, "output_tokens": 1_000, "speed": "fast"}
    row = one_row(canned, anthropic_reply("claude-opus-5", usage), "anthropic:claude-opus-5")
    assert row["cost_usd"] == exactly(1_000 * 10 * M + 1_000 * 50 * M)  # $0.06


# -- long-context tiers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "rates"),
    [
        # gpt-5.4: $2.50 / $15 up to 272,000 prompt tokens; above, the whole call at $5 / $22.50.
        (272_000, (2.5, 15.0)),
        (272_001, (5.0, 22.5)),
    ],
)
def test_long_context_tier_boundary(
    canned: CannedServer, prompt: int, rates: tuple[float, float]
) -> None:
    row = one_row(canned, openai_reply("gpt-5.4", prompt, 1_000), "openai:gpt-5.4")
    assert row["cost_usd"] == exactly(prompt * rates[0] * M + 1_000 * rates[1] * M)


@pytest.mark.parametrize(
    ("prompt", "rates"),
    [
        # claude-sonnet-4-5: $3 / $15 up to 200,000 prompt tokens; above, $6 / $22.50.
        (200_000, (3.0, 15.0)),
        (200_001, (6.0, 22.5)),
    ],
)
def test_long_context_tier_boundary_anthropic(
    canned: CannedServer, prompt: int, rates: tuple[float, float]
) -> None:
    usage = {"input_tokens": prompt, "output_tokens": 1_000}
    body = anthropic_reply("claude-sonnet-4-5-20250929", usage)
    row = one_row(canned, body, "anthropic:claude-sonnet-4-5")
    assert row["cost_usd"] == exactly(prompt * rates[0] * M + 1_000 * rates[1] * M)


# -- current models --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "rates"),
    [
        ("anthropic", "claude-opus-5", (5.0, 25.0)),
        ("anthropic", "claude-opus-5-5", None),
        ("anthropic", "claude-sonnet-5", None),
        ("anthropic", "claude-sonnet-5-5", (2.0, 10.0)),
        ("anthropic", "claude-haiku-5-5", (0.1, 0.5)),
        ("openai", "gpt-6-sol", (2.0, 10.0)),
        ("openai", "gpt-6-luna", None),
        ("gemini", "gemini-3.6-flash", None),
        ("gemini", "gemini-3.7-flash", (0.75, 3.75)),
    ],
)
def test_current_models_are_priced(
    provider: str, model: str, rates: tuple[float, float] | None
) -> None:
    found = priced(provider, model)
    assert found.price is not None, found.source
    if rates is not None:
        assert (found.price.input, found.price.output) == rates


def test_prices_lists_every_current_model_the_library_knows() -> None:
    table = orbit_nb.prices()
    for model in ("claude-opus-5", "gpt-6-sol", "gemini-3.7-flash", "gpt-4o-2024-05-13"):
        assert model in table.index
    assert set(table["provider"].dropna()) >= {"anthropic", "openai", "gemini"}
    assert (table["source"] == library()).sum() == len(table)  # nothing overridden here
    assert table.attrs["library"] == library()


# -- registered endpoints --------------------------------------------------------------


@pytest.fixture
def local(llmock: LLMock) -> Iterator[str]:
    yield "local"
    _ENDPOINTS.pop("local", None)


def test_a_registered_endpoint_is_not_priced_by_model_name(llmock: LLMock, local: str) -> None:
    orbit_nb.register_endpoint(local, base_url=llmock.base_url("openai"))
    with pytest.warns(UserWarning, match="endpoint 'local' has no price for 'gpt-4o'"):
        df = orbit_nb.compare("hi", ["local:gpt-4o"], max_tokens=10)
    row = df.iloc[0]
    assert row["status"] == "ok" and pd.isna(row["cost_usd"])  # not OpenAI's $2.50 / $10
    assert row["price_source"].startswith("unpriced: endpoint 'local'")


def test_a_registered_endpoint_priced_like_a_public_model(llmock: LLMock, local: str) -> None:
    # price_as: every call billed like gpt-4o-mini ($0.15 / $0.60).
    orbit_nb.register_endpoint(
        local, base_url=llmock.base_url("openai"), price_as="openai:gpt-4o-mini"
    )
    row = orbit_nb.compare("hi", ["local:llama3.2"], max_tokens=10).iloc[0]
    expected = row["input_tokens"] * 0.15 * M + row["output_tokens"] * 0.60 * M
    assert row["cost_usd"] == exactly(expected)
    assert row["price_source"].startswith("price_as 'openai:gpt-4o-mini'")


def test_a_price_set_for_an_endpoint(llmock: LLMock, local: str) -> None:
    orbit_nb.register_endpoint(local, base_url=llmock.base_url("openai"))
    orbit_nb.set_price("gpt-4o", input=0.1, output=0.2, endpoint=local)
    row = orbit_nb.compare("hi", ["local:gpt-4o"], max_tokens=10).iloc[0]
    assert row["cost_usd"] == exactly(
        row["input_tokens"] * 0.1 * M + row["output_tokens"] * 0.2 * M
    )
    # The endpoint's price does not leak to OpenAI's gpt-4o.
    assert lookup("gpt-4o") is not None and lookup("gpt-4o").input == 2.5  # type: ignore[union-attr]


def test_price_as_must_name_a_public_model(local: str) -> None:
    with pytest.raises(SpecError, match="price_as='gpt-4o'"):
        orbit_nb.register_endpoint(local, base_url="http://127.0.0.1:9/v1", price_as="gpt-4o")


def test_set_price_for_an_unknown_endpoint_is_refused() -> None:
    with pytest.raises(ParameterError, match="endpoint='nowhere'"):
        orbit_nb.set_price("m", input=1, output=1, endpoint="nowhere")


# -- re-pricing ------------------------------------------------------------------------


def test_reprice_after_set_price(llmock: LLMock) -> None:
    df = orbit_nb.compare(["a", "b"], ["openai:gpt-4o"], max_tokens=10)
    # gpt-4o: $2.50 / $10.
    billed = df["input_tokens"] * 2.5 * M + df["output_tokens"] * 10 * M
    assert df["cost_usd"].tolist() == pytest.approx(billed.tolist(), rel=1e-9)
    orbit_nb.set_price("gpt-4o", input=1.0, output=4.0)
    again = orbit_nb.reprice(df)
    expected = df["input_tokens"] * 1.0 * M + df["output_tokens"] * 4.0 * M
    assert again["cost_usd"].tolist() == pytest.approx(expected.tolist(), rel=1e-9)
    assert set(again["price_source"]) == {"set_price()"}
    assert df["cost_usd"].tolist() == pytest.approx(billed.tolist(), rel=1e-9)  # a copy


def test_reprice_history_keeps_every_usage_field(canned: CannedServer) -> None:
    usage = {
        "input_tokens": 100,
        "cache_creation_input_tokens": 3_000,
        "cache_read_input_tokens": 500,
        "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
        "output_tokens": 200,
    }
    row = one_row(canned, anthropic_reply("claude-haiku-4-5", usage), "anthropic:claude-haiku-4-5")
    recorded = orbit_nb.history(run_id=row["run_id"])
    assert recorded.at[0, "cache_write_1h_tokens"] == 2_000
    again = orbit_nb.reprice(recorded)
    assert again.at[0, "cost_usd"] == exactly(row["cost_usd"])


def test_reprice_leaves_failed_rows_na(llmock: LLMock) -> None:
    df = orbit_nb.compare("x", ["openai:gpt-4o"], max_tokens=10)
    df.loc[0, ["input_tokens", "output_tokens"]] = pd.NA
    assert pd.isna(orbit_nb.reprice(df).at[0, "cost_usd"])


def test_reprice_names_a_bad_date() -> None:
    frame = pd.DataFrame(
        {c: [] for c in ("provider", "model", "input_tokens", "output_tokens", "cost_usd")}
    )
    with pytest.raises(ParameterError, match="at='soon'"):
        orbit_nb.reprice(frame, at="soon")


def test_a_cache_hit_keeps_its_first_cost(llmock: LLMock) -> None:
    first = orbit_nb.compare("cache me", ["openai:gpt-4o"], max_tokens=10)
    orbit_nb.set_price("gpt-4o", input=100.0, output=100.0)
    hit = orbit_nb.compare("cache me", ["openai:gpt-4o"], max_tokens=10)
    assert bool(hit.at[0, "cached"])
    assert hit.at[0, "cost_usd"] == exactly(first.at[0, "cost_usd"])
    assert hit.at[0, "price_source"] == first.at[0, "price_source"] == library()
