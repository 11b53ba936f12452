"""Cost tables, side-by-side answers, projections and price overrides, no server needed.

Result frames are built with the same ``to_frame`` the engine uses, from
hand-made rows whose ``cost_usd`` comes from ``cost(lookup(model), usage)`` as it
does on the engine; every expected number below is worked out by hand from the shipped
prices (USD per million tokens):

    gpt-4o            input 2.50  cached 1.25  output 10.00
    gpt-4o-mini       input 0.15  cached 0.075 output 0.60
    claude-haiku-4-5  input 1.00  cached 0.10  write 5m 1.25  write 1h 2.00  output 5.00
    gemini-2.5-flash  input 0.30  cached 0.03  output 2.50
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import orbit_nb
from orbit_nb.cost import cost
from orbit_nb.errors import ParameterError
from orbit_nb.frame import cost_table, project_cost, side_by_side, summary, to_frame
from orbit_nb.price_data import ENV_VAR, lookup, priced, reset_prices
from orbit_nb.price_data import load as load_prices
from orbit_nb.price_data import prices as prices_frame
from orbit_nb.types import ModelSpec, Request, Row, Usage

M = 1e-6  # USD per token, per $1 of "per million" price

GPT4O = "openai:gpt-4o"
MINI = "openai:gpt-4o-mini"
HAIKU = "anthropic:claude-haiku-4-5"
FLASH = "gemini:gemini-2.5-flash"

# OpenAI: 1500 of 2000 prompt tokens cached, 200 of 500 output tokens reasoning.
OPENAI_USAGE = Usage(
    input_tokens=2000,
    cached_input_tokens=1500,
    cache_write_tokens=0,
    output_tokens=500,
    reasoning_tokens=200,
)
OPENAI_COST = (500 * 2.50 + 1500 * 1.25 + 500 * 10.0) * M  # reasoning billed as output
OPENAI_PLAIN = Usage(
    input_tokens=1000,
    cached_input_tokens=0,
    cache_write_tokens=0,
    output_tokens=100,
    reasoning_tokens=0,
)
OPENAI_PLAIN_COST = (1000 * 2.50 + 100 * 10.0) * M
# An OpenAI-compatible answer without usage details: cache and reasoning are NA.
MINI_USAGE = Usage(input_tokens=9, output_tokens=3)
MINI_COST = (9 * 0.15 + 3 * 0.60) * M
# Anthropic: 50 fresh, 2000 read from cache, 1000 written (600 of them to the 1h cache).
ANTHROPIC_USAGE = Usage(
    input_tokens=3050,
    cached_input_tokens=2000,
    cache_write_tokens=1000,
    cache_write_1h_tokens=600,
    output_tokens=300,
    reasoning_tokens=120,
)
ANTHROPIC_COST = (50 * 1.0 + 2000 * 0.10 + 400 * 1.25 + 600 * 2.0 + 300 * 5.0) * M
ANTHROPIC_SMALL = Usage(
    input_tokens=100, cached_input_tokens=0, cache_write_tokens=0, output_tokens=20
)
ANTHROPIC_SMALL_COST = (100 * 1.0 + 20 * 5.0) * M
# Gemini: 2048 of 3000 prompt tokens cached; output includes 600 thought tokens.
GEMINI_USAGE = Usage(
    input_tokens=3000, cached_input_tokens=2048, output_tokens=1000, reasoning_tokens=600
)
GEMINI_COST = (952 * 0.30 + 2048 * 0.03 + 1000 * 2.50) * M


def model_cost(model: str, usage: Usage) -> float | None:
    """What the engine bills: the price of ``model`` now, times ``usage``."""
    return cost(lookup(model), usage)


@pytest.fixture(autouse=True)
def _shipped_prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts and ends on the shipped prices, with no user file or override."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    reset_prices()
    load_prices()
    yield
    monkeypatch.delenv(ENV_VAR, raising=False)
    reset_prices()
    load_prices()


def make_row(
    prompt_id: str,
    spec: str,
    repeat: int = 0,
    *,
    status: str = "ok",
    usage: Usage | None = None,
    cached: bool = False,
    error_type: str | None = None,
    error_message: str | None = None,
    run_id: str = "run1",
) -> Row:
    """A finished row, priced the way the engine prices it."""
    provider, model = spec.split(":", 1)
    request = Request(prompt_id, f"question {prompt_id}", ModelSpec(provider, model), repeat)
    ok = status == "ok"
    usage = usage or Usage()
    return Row(
        run_id,
        request,
        status=status,
        content=f"{model} on {prompt_id}/{repeat}" if ok else None,
        error_type=error_type,
        error_message=error_message,
        usage=usage if ok else Usage(),
        cost_usd=model_cost(model, usage) if ok else None,
        cached=cached,
        attempts=0 if status in ("cancelled", "skipped") else 1,
    )


def grid() -> list[Row]:
    """Two prompts x four models x two repeats, with every kind of outcome."""
    return [
        make_row("p0", GPT4O, 0, usage=OPENAI_USAGE),
        make_row("p1", GPT4O, 0, usage=OPENAI_PLAIN),
        make_row("p0", GPT4O, 1, usage=OPENAI_USAGE, cached=True),
        make_row("p1", GPT4O, 1, status="error", error_type="rate_limit", error_message="slow"),
        make_row("p0", HAIKU, 0, usage=ANTHROPIC_USAGE),
        make_row("p1", HAIKU, 0, status="cancelled"),
        make_row("p0", HAIKU, 1, usage=ANTHROPIC_SMALL),
        make_row("p1", HAIKU, 1, usage=ANTHROPIC_SMALL, cached=True),
        make_row("p0", FLASH, 0, usage=GEMINI_USAGE),
        make_row("p1", FLASH, 0, status="error", error_type="timeout", error_message="no answer"),
        make_row("p0", FLASH, 1, status="skipped"),
        make_row("p1", FLASH, 1, status="skipped"),
        *(make_row(p, MINI, r, usage=MINI_USAGE) for r in (0, 1) for p in ("p0", "p1")),
    ]


@pytest.fixture
def df() -> pd.DataFrame:
    return to_frame(grid())


# --- cost on each provider's usage shape ----------------------------------------------


def test_cost_of_each_usage_shape() -> None:
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(OPENAI_COST)
    assert model_cost("gpt-4o-mini", MINI_USAGE) == pytest.approx(MINI_COST)
    assert model_cost("claude-haiku-4-5", ANTHROPIC_USAGE) == pytest.approx(ANTHROPIC_COST)
    assert model_cost("gemini-2.5-flash", GEMINI_USAGE) == pytest.approx(GEMINI_COST)


def test_reasoning_is_billed_as_part_of_output() -> None:
    # reasoning_tokens is a subset of output_tokens: it must not be billed twice.
    no_reasoning = Usage(input_tokens=2000, cached_input_tokens=1500, output_tokens=500)
    assert model_cost("gpt-4o", no_reasoning) == model_cost("gpt-4o", OPENAI_USAGE)


def test_anthropic_cache_writes_priced_by_ttl() -> None:
    def writes(one_hour: int) -> Usage:
        return Usage(
            input_tokens=1000, cache_write_tokens=1000, cache_write_1h_tokens=one_hour,
            output_tokens=0,
        )  # fmt: skip

    assert model_cost("claude-haiku-4-5", writes(0)) == pytest.approx(1000 * 1.25 * M)
    assert model_cost("claude-haiku-4-5", writes(1000)) == pytest.approx(1000 * 2.0 * M)
    assert model_cost("claude-haiku-4-5", writes(600)) == pytest.approx(
        (400 * 1.25 + 600 * 2.0) * M
    )


# --- cost_table ------------------------------------------------------------------------


def test_cost_table(df: pd.DataFrame) -> None:
    na = pd.NA
    columns = [
        "calls",
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "spent_usd",
        "saved_usd",
        "cost_per_1k_calls_usd",
    ]
    ok_costs = {  # cost_usd of each model's ok rows
        HAIKU: [ANTHROPIC_COST, ANTHROPIC_SMALL_COST, ANTHROPIC_SMALL_COST],
        FLASH: [GEMINI_COST],
        GPT4O: [OPENAI_COST, OPENAI_PLAIN_COST, OPENAI_COST],
        MINI: [MINI_COST] * 4,
    }
    all_ok = [c for costs in ok_costs.values() for c in costs]
    rows = {
        # haiku: the 1h/5m write row, a small one, and the small one again from cache;
        # reasoning is reported by one row only, so the sum is that row's.
        HAIKU: [4, 3250, 2000, 340, 120,
                ANTHROPIC_COST + ANTHROPIC_SMALL_COST, ANTHROPIC_SMALL_COST],
        # gemini: one ok row; an error and two skipped rows count as calls only.
        FLASH: [4, 3000, 2048, 1000, 600, GEMINI_COST, 0.0],
        # gpt-4o: the cached repeat is saved, not spent; the error row adds a call only.
        GPT4O: [4, 5000, 3000, 1100, 400, OPENAI_COST + OPENAI_PLAIN_COST, OPENAI_COST],
        # gpt-4o-mini: nobody reports cache or reasoning counts, so they stay NA.
        MINI: [4, 36, na, 12, na, 4 * MINI_COST, 0.0],
        "total": [16, 11286, 7048, 2452, 1120,
                  ANTHROPIC_COST + ANTHROPIC_SMALL_COST + GEMINI_COST + 4 * MINI_COST
                  + OPENAI_COST + OPENAI_PLAIN_COST,
                  ANTHROPIC_SMALL_COST + OPENAI_COST],
    }  # fmt: skip
    for name, costs in [*ok_costs.items(), ("total", all_ok)]:
        rows[name].append(sum(costs) / len(costs) * 1000)
    expected = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    expected = expected.astype(
        {
            "calls": "int64",
            **{c: "Int64" for c in columns[1:5]},
            **{c: "float64" for c in columns[5:]},
        }
    )
    expected.index.name = "model_spec"

    table = cost_table(df)

    assert table.index.tolist() == [HAIKU, FLASH, GPT4O, MINI, "total"]
    pd.testing.assert_frame_equal(table, expected, check_index_type=False, rtol=1e-9)


def test_cost_table_money_adds_up(df: pd.DataFrame) -> None:
    table = cost_table(df)
    ok = df[df["status"] == "ok"]
    total = table.loc["total"]
    assert total["spent_usd"] + total["saved_usd"] == pytest.approx(ok["cost_usd"].sum())
    assert total["spent_usd"] == pytest.approx(table["spent_usd"].iloc[:-1].sum())


def test_cost_table_unknown_price_is_na_not_zero() -> None:
    rows = [
        make_row("p0", "ollama:llama3.2", usage=MINI_USAGE),
        make_row("p1", "ollama:llama3.2", usage=MINI_USAGE),
    ]
    assert priced("ollama", "llama3.2").source.startswith("unpriced: endpoint 'ollama'")
    table = cost_table(to_frame(rows))
    row = table.loc["ollama:llama3.2"]
    assert row["calls"] == 2 and row["input_tokens"] == 18 and row["output_tokens"] == 6
    assert pd.isna(row["cached_input_tokens"]) and pd.isna(row["reasoning_tokens"])
    assert pd.isna(row["spent_usd"])  # not known, so not a made-up $0
    assert row["saved_usd"] == 0.0  # nothing came from the cache
    assert pd.isna(row["cost_per_1k_calls_usd"])


def test_cost_table_of_a_model_with_no_ok_row() -> None:
    rows = [make_row("p0", GPT4O, status="error", error_type="authentication", error_message="x")]
    row = cost_table(to_frame(rows)).loc[GPT4O]
    assert row["calls"] == 1 and pd.isna(row["input_tokens"])  # no ok row: NA, not 0 tokens
    assert row["spent_usd"] == 0.0 and row["saved_usd"] == 0.0
    assert pd.isna(row["cost_per_1k_calls_usd"])


def test_cost_table_of_an_empty_frame() -> None:
    table = cost_table(to_frame([]))
    assert table.index.tolist() == ["total"]
    assert table.loc["total", "calls"] == 0 and table.loc["total", "spent_usd"] == 0.0


# --- side_by_side ----------------------------------------------------------------------


def test_side_by_side_first_repeat(df: pd.DataFrame) -> None:
    table = side_by_side(df)
    assert table.index.name == "prompt_id"
    assert table.index.tolist() == ["p0", "p1"]  # in the order given, not sorted
    assert table.columns.tolist() == ["prompt", GPT4O, HAIKU, FLASH, MINI]
    assert table.to_dict(orient="index") == {
        "p0": {
            "prompt": "question p0",
            GPT4O: "gpt-4o on p0/0",
            HAIKU: "claude-haiku-4-5 on p0/0",
            FLASH: "gemini-2.5-flash on p0/0",
            MINI: "gpt-4o-mini on p0/0",
        },
        "p1": {
            "prompt": "question p1",
            GPT4O: "gpt-4o on p1/0",
            HAIKU: "[cancelled]",
            FLASH: "[timeout] no answer",
            MINI: "gpt-4o-mini on p1/0",
        },
    }


def test_side_by_side_other_repeat(df: pd.DataFrame) -> None:
    table = side_by_side(df, repeat=1)
    assert table.loc["p0", GPT4O] == "gpt-4o on p0/1"  # served from cache, still an answer
    assert table.loc["p1", GPT4O] == "[rate_limit] slow"
    assert table.loc["p1", HAIKU] == "claude-haiku-4-5 on p1/1"
    assert table.loc["p0", FLASH] == "[skipped]"
    assert table.loc["p1", FLASH] == "[skipped]"


def test_side_by_side_error_without_details() -> None:
    table = side_by_side(to_frame([make_row("p0", GPT4O, status="error")]))
    assert table.loc["p0", GPT4O] == "[error]"


def test_side_by_side_rejects_a_missing_repeat(df: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match=r"repeat=2 has no rows; .* repeat 0, 1"):
        side_by_side(df, repeat=2)


@pytest.mark.parametrize("repeat", [-1, True, "0", 1.0, None])
def test_side_by_side_rejects_a_bad_repeat(df: pd.DataFrame, repeat: Any) -> None:
    with pytest.raises(ParameterError, match=re.escape(f"repeat={repeat!r}")):
        side_by_side(df, repeat=repeat)


def test_side_by_side_refuses_mixed_runs() -> None:
    two_runs = to_frame(
        [make_row("p0", GPT4O, usage=MINI_USAGE, run_id=run) for run in ("run1", "run2")]
    )
    with pytest.raises(ParameterError, match="mixes runs"):
        side_by_side(two_runs)


# --- project_cost ----------------------------------------------------------------------


def test_project_cost(df: pd.DataFrame) -> None:
    table = project_cost(df, calls_per_day=2000)
    per_call = {
        HAIKU: (ANTHROPIC_COST + 2 * ANTHROPIC_SMALL_COST) / 3,
        FLASH: GEMINI_COST,
        GPT4O: (2 * OPENAI_COST + OPENAI_PLAIN_COST) / 3,  # the cached repeat counts too
        MINI: MINI_COST,
    }
    assert table.index.tolist() == list(per_call)
    assert table.columns.tolist() == [
        "cost_per_call_usd",
        "calls_per_day",
        "daily_usd",
        "monthly_usd",
    ]
    for spec, usd in per_call.items():
        row = table.loc[spec]
        assert row["cost_per_call_usd"] == pytest.approx(usd)
        assert row["calls_per_day"] == 2000
        assert row["daily_usd"] == pytest.approx(usd * 2000)
        assert row["monthly_usd"] == pytest.approx(usd * 2000 * 30)


def test_project_cost_unknown_price_is_na() -> None:
    frame = to_frame([make_row("p0", "ollama:llama3.2", usage=MINI_USAGE)])
    row = project_cost(frame, calls_per_day=10).loc["ollama:llama3.2"]
    assert pd.isna(row["daily_usd"]) and pd.isna(row["monthly_usd"])


@pytest.mark.parametrize("calls", [0, -5, math.nan, math.inf, "100", True, None])
def test_project_cost_rejects_bad_volume(df: pd.DataFrame, calls: Any) -> None:
    with pytest.raises(ParameterError, match=re.escape(f"calls_per_day={calls!r}")):
        project_cost(df, calls_per_day=calls)


# --- not a result frame ----------------------------------------------------------------

TABLES = [
    pytest.param(cost_table, id="cost_table"),
    pytest.param(side_by_side, id="side_by_side"),
    pytest.param(lambda df: project_cost(df, calls_per_day=1), id="project_cost"),
    pytest.param(summary, id="summary"),
]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("value", [None, [1, 2], {"status": ["ok"]}])
def test_tables_reject_what_is_not_a_frame(table: Any, value: object) -> None:
    with pytest.raises(ParameterError, match=f"not {type(value).__name__}"):
        table(value)


@pytest.mark.parametrize("table", TABLES)
def test_tables_name_missing_columns(df: pd.DataFrame, table: Any) -> None:
    with pytest.raises(ParameterError, match=r"no column 'model_spec', 'status'"):
        table(df.drop(columns=["model_spec", "status"]))


def test_tables_are_public(df: pd.DataFrame) -> None:
    assert orbit_nb.cost_table is cost_table
    assert orbit_nb.side_by_side is side_by_side
    assert orbit_nb.project_cost is project_cost
    assert orbit_nb.prices is prices_frame


# --- prices() and set_price() ----------------------------------------------------------


def shipped_as_of() -> str:
    """The prices shown are today's (the library keeps every price by date)."""
    return datetime.now(UTC).date().isoformat()


def test_prices_table() -> None:
    table = prices_frame()
    assert table.index.name == "model"
    assert table.columns.tolist() == [
        "provider",
        "input",
        "output",
        "cached_input",
        "cache_write",
        "cache_write_1h",
        "long_context_threshold",
        "as_of",
        "source",
        "overridden",
    ]
    assert table.attrs["as_of"] == shipped_as_of()
    assert not table["overridden"].any()
    gpt = table.loc["gpt-4o"]
    assert (gpt["provider"], gpt["input"], gpt["output"], gpt["cached_input"]) == (
        "openai",
        2.5,
        10.0,
        1.25,
    )
    # No cache-write rate of its own: writes are billed as input, as shown.
    assert gpt["cache_write"] == 2.5 and pd.isna(gpt["long_context_threshold"])
    assert gpt["source"] == orbit_nb.price_data.library()
    assert table.loc["claude-haiku-4-5", "cache_write_1h"] == 2.0
    assert table.loc["gemini-2.5-pro", "long_context_threshold"] == 200_000
    # A dated snapshot with its own price is its own row, at its own rates.
    assert table.loc["gpt-4o-2024-05-13", ["input", "output"]].tolist() == [5.0, 15.0]


def test_set_price_overrides_a_shipped_price() -> None:
    orbit_nb.set_price("gpt-4o", input=1.0, output=2.0)
    # No cached rate given: it keeps gpt-4o's own ratio (cached input at half the
    # input rate), never the full input rate.
    expected = (500 * 1.0 + 1500 * 0.5 + 500 * 2.0) * M
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(expected)
    # A dated snapshot of the model finds the override too.
    assert model_cost("gpt-4o-2024-08-06", OPENAI_USAGE) == pytest.approx(expected)
    row = orbit_nb.prices().loc["gpt-4o"]
    assert row["overridden"] and row["source"] == "set_price()" and row["provider"] == "openai"
    assert lookup("gpt-4o-mini") is not None  # others untouched
    assert not orbit_nb.prices().loc["gpt-4o-mini", "overridden"]

    orbit_nb.reset_prices()
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(OPENAI_COST)
    assert not orbit_nb.prices()["overridden"].any()


def test_set_price_with_cache_rates() -> None:
    orbit_nb.set_price(
        "claude-haiku-4-5", input=2, output=10, cached_input=0.2, cache_write=2.5,
        cache_write_1h=4,
    )  # fmt: skip
    expected = (50 * 2 + 2000 * 0.2 + 400 * 2.5 + 600 * 4 + 300 * 10) * M
    assert model_cost("claude-haiku-4-5", ANTHROPIC_USAGE) == pytest.approx(expected)
    # Rates left out keep Claude's documented ratios to the input rate: reads
    # 0.1x (not the full input rate, 10x too much), 1-hour writes 2x.
    orbit_nb.set_price("claude-haiku-4-5", input=2, output=10, cache_write=2.5)
    assert model_cost("claude-haiku-4-5", ANTHROPIC_USAGE) == pytest.approx(expected)
    orbit_nb.set_price("claude-next-7", input=2, output=10)
    assert model_cost("claude-next-7", ANTHROPIC_USAGE) == pytest.approx(expected)


def test_set_price_adds_an_unknown_model() -> None:
    assert priced("openai", "my-model").source.startswith("unpriced: genai-prices")
    assert lookup("my-model") is None

    orbit_nb.set_price("my-model", input=0.5, output=1.5)
    assert priced("openai", "my-model").source == "set_price()"  # known now: no warning
    row = make_row("p0", "ollama:my-model", usage=MINI_USAGE)
    frame = to_frame([row])
    assert frame.loc[0, "cost_usd"] == pytest.approx((9 * 0.5 + 3 * 1.5) * M)
    row = orbit_nb.prices().loc["my-model"]
    assert row["overridden"] and pd.isna(row["provider"])


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        ("", {}, "model=''"),
        ("  ", {}, "model='  '"),
        (3, {}, "model=3"),
        ("openai:gpt-4o", {}, "use 'gpt-4o'"),
        ("gpt-4o", {"input": -1}, "input=-1 must be a non-negative finite number"),
        ("gpt-4o", {"output": math.nan}, "output=nan"),
        ("gpt-4o", {"input": math.inf}, "input=inf"),
        ("gpt-4o", {"input": "1"}, "input='1'"),
        ("gpt-4o", {"input": True}, "input=True"),
        ("gpt-4o", {"input": None}, "input=None"),
        ("gpt-4o", {"cached_input": -0.1}, "cached_input=-0.1"),
        ("gpt-4o", {"cache_write_1h": "2"}, "cache_write_1h='2'"),
    ],
)
def test_set_price_rejects_bad_values(model: Any, kwargs: dict[str, Any], message: str) -> None:
    rates: dict[str, Any] = {"input": 1.0, "output": 2.0, **kwargs}
    with pytest.raises(ParameterError, match=re.escape(message)):
        orbit_nb.set_price(model, **rates)
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(OPENAI_COST)  # unchanged


# --- ORBIT_PRICES user file --------------------------------------------------------------

USER_FILE: dict[str, Any] = {
    "as_of": "2027-01-15",
    "models": {
        "gpt-4o": {"provider": "openai", "input": 2.0, "output": 8.0, "cached_input": 0.5,
                   "source": "our contract"},
        "house-model": {"input": 0.4, "output": 1.6},
    },
    "aliases": {"house-model-v2": "house-model"},
}  # fmt: skip


def write_prices(path: Path, data: object) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_user_price_file_overrides_and_adds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, write_prices(tmp_path / "prices.json", USER_FILE))
    load_prices()  # what compare() does before each run

    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(
        (500 * 2.0 + 1500 * 0.5 + 500 * 8.0) * M
    )
    assert model_cost("house-model-v2", MINI_USAGE) == pytest.approx((9 * 0.4 + 3 * 1.6) * M)
    assert model_cost("gpt-4o-mini", MINI_USAGE) == pytest.approx(MINI_COST)  # untouched

    table = orbit_nb.prices()
    assert table.attrs["as_of"] == shipped_as_of()
    assert table.loc["gpt-4o", "source"] == "our contract"
    assert table.loc["gpt-4o", "as_of"] == "2027-01-15"  # the file's date
    assert table.loc["house-model", "input"] == 0.4
    overridden = table["overridden"][table["overridden"]].index.tolist()
    assert overridden == ["gpt-4o", "house-model", "house-model-v2"]  # an alias is a row too

    # set_price wins over the file.
    orbit_nb.set_price("house-model", input=1, output=1)
    assert model_cost("house-model", MINI_USAGE) == pytest.approx(12 * M)
    orbit_nb.reset_prices()
    assert model_cost("house-model", MINI_USAGE) == pytest.approx((9 * 0.4 + 3 * 1.6) * M)


def test_user_price_file_is_read_by_table_not_by_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_prices(tmp_path / "prices.json", USER_FILE)
    monkeypatch.setenv(ENV_VAR, path)
    assert lookup("house-model") is None  # cost()/lookup() do no file I/O
    load_prices()
    assert lookup("house-model") is not None

    edited = {"models": {"house-model": {"input": 0.8, "output": 3.2}}}
    write_prices(tmp_path / "prices.json", edited)
    os.utime(path, ns=(0, 1_000_000_000))  # a certain change of modification time
    load_prices()
    assert model_cost("house-model", MINI_USAGE) == pytest.approx((9 * 0.8 + 3 * 3.2) * M)
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(OPENAI_COST)  # dropped

    monkeypatch.delenv(ENV_VAR)
    load_prices()
    assert lookup("house-model") is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "Expecting property name"),
        ([1, 2], '"models" object'),
        ({"models": {"x": {"input": -1, "output": 1}}}, "models['x'].input=-1"),
        ({"models": {"x": {"input": 1}}}, "models['x'].output=None"),
        ({"models": {"x": {"input": 1, "output": 1, "long_context": {"input": 2, "output": 2}}}},
         "models['x'].long_context.threshold=None"),
        ({"models": {}, "aliases": {"a": 3}}, '"aliases"'),
    ],
)  # fmt: skip
def test_broken_user_price_file_warns_once_and_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: object, reason: str
) -> None:
    path = write_prices(tmp_path / "prices.json", content)
    monkeypatch.setenv(ENV_VAR, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_prices()
        load_prices()  # unchanged file: no second warning
    assert len(caught) == 1
    message = str(caught[0].message)
    assert path in message and ENV_VAR in message and reason in message
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(OPENAI_COST)


def test_broken_entry_discards_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {"models": {**USER_FILE["models"], "bad": {"input": "cheap", "output": 1}}}
    monkeypatch.setenv(ENV_VAR, write_prices(tmp_path / "prices.json", data))
    with pytest.warns(UserWarning, match=re.escape("models['bad'].input='cheap'")):
        load_prices()
    assert lookup("house-model") is None
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(OPENAI_COST)


def test_missing_user_price_file_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "nope.json")
    monkeypatch.setenv(ENV_VAR, path)
    with pytest.warns(UserWarning, match=re.escape(repr(path))):
        load_prices()
    assert model_cost("gpt-4o", OPENAI_USAGE) == pytest.approx(OPENAI_COST)
