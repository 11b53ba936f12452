"""cost() as a pure function: a Price made by hand, a Usage, exact dollars.

No price table, no environment, no set_price(): only the arithmetic.
"""

from __future__ import annotations

import pytest

from orbit_nb.cost import cost
from orbit_nb.price_data import Price
from orbit_nb.types import Usage

M = 1e-6  # USD per token, per $1 of "per million" price

# A Sonnet-like price with every rate set and a long-context tier above 200k prompt tokens.
TIERED = Price(
    input=3.0,
    output=15.0,
    cached_input=0.30,
    cache_write=3.75,
    cache_write_1h=6.0,
    long_context_threshold=200_000,
    long_context=Price(
        input=6.0, output=22.5, cached_input=0.60, cache_write=7.5, cache_write_1h=12.0
    ),
)


def exactly(dollars: float) -> object:
    return pytest.approx(dollars, rel=1e-12, abs=0)


def test_every_rate_below_the_long_context_threshold() -> None:
    # 10k prompt tokens: 3k fresh, 4k read from cache, 3k written (1k of them for an hour).
    usage = Usage(
        input_tokens=10_000,
        cached_input_tokens=4_000,
        cache_write_tokens=3_000,
        cache_write_1h_tokens=1_000,
        output_tokens=2_000,
        reasoning_tokens=500,  # part of output_tokens: not billed again
    )
    expected = (3_000 * 3.0 + 4_000 * 0.30 + 2_000 * 3.75 + 1_000 * 6.0 + 2_000 * 15.0) * M
    assert expected == exactly(0.0537)
    assert cost(TIERED, usage) == exactly(expected)


def test_the_whole_call_is_billed_at_the_long_context_tier_above_the_threshold() -> None:
    usage = Usage(
        input_tokens=250_000,
        cached_input_tokens=100_000,
        cache_write_tokens=50_000,
        cache_write_1h_tokens=20_000,
        output_tokens=1_000,
    )
    expected = (100_000 * 6.0 + 100_000 * 0.60 + 30_000 * 7.5 + 20_000 * 12.0 + 1_000 * 22.5) * M
    assert expected == exactly(1.1475)
    assert cost(TIERED, usage) == exactly(expected)


def test_the_threshold_itself_is_still_the_base_tier() -> None:
    at = Usage(input_tokens=200_000, output_tokens=100)
    above = Usage(input_tokens=200_001, output_tokens=100)
    assert cost(TIERED, at) == exactly((200_000 * 3.0 + 100 * 15.0) * M)
    assert cost(TIERED, above) == exactly((200_001 * 6.0 + 100 * 22.5) * M)


def test_unknown_cache_rates_make_the_cost_unknown_not_input_priced() -> None:
    usage = Usage(
        input_tokens=1_000,
        cached_input_tokens=300,
        cache_write_tokens=500,
        cache_write_1h_tokens=200,
        output_tokens=10,
    )
    # No cache rates at all: billing reads at the input rate would be 10x too
    # much for a Claude model, so the cost is unknown instead of wrong.
    plain = Price(input=2.0, output=8.0)
    assert cost(plain, usage) is None
    # The same price without cache traffic is fine.
    assert cost(plain, Usage(input_tokens=1_000, output_tokens=10)) == exactly(
        (1_000 * 2.0 + 10 * 8.0) * M
    )
    # A 5-minute write rate only: the 1-hour writes are billed at it too.
    five_minutes = Price(input=2.0, output=8.0, cached_input=0.5, cache_write=2.5)
    expected = (200 * 2.0 + 300 * 0.5 + 500 * 2.5 + 10 * 8.0) * M
    assert cost(five_minutes, usage) == exactly(expected)


def test_unknown_price_or_counts_cost_nothing_known() -> None:
    assert cost(None, Usage(input_tokens=1, output_tokens=1)) is None
    assert cost(TIERED, Usage(output_tokens=1)) is None
    assert cost(TIERED, Usage(input_tokens=1)) is None
    assert cost(TIERED, Usage(input_tokens=0, output_tokens=0)) == 0.0


def test_a_free_model_costs_zero() -> None:
    free = Price(input=0.0, output=0.0, cached_input=0.0)
    assert cost(free, Usage(input_tokens=5_000, cached_input_tokens=10, output_tokens=9)) == 0.0


def test_audio_tokens_are_billed_at_the_audio_rates() -> None:
    # gpt-4o-audio-like: text $2.50/$10, audio $40/$80 per MTok.
    price = Price(input=2.5, output=10.0, cached_input=1.25, input_audio=40.0, output_audio=80.0)
    usage = Usage(
        input_tokens=1_000, input_audio_tokens=400, output_tokens=300, output_audio_tokens=100
    )
    expected = (600 * 2.5 + 400 * 40.0 + 200 * 10.0 + 100 * 80.0) * M
    assert expected == exactly(0.0275)
    assert cost(price, usage) == exactly(expected)
    # A price without audio rates bills audio as text.
    assert cost(Price(input=2.5, output=10.0), usage) == exactly((1_000 * 2.5 + 300 * 10.0) * M)
