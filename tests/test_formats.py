"""Numbers as people read them, and tables that display them so while keeping raw values."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orbit_nb
from orbit_nb import formats
from orbit_nb.frame import to_frame
from orbit_nb.table import Table, as_table, header
from orbit_nb.types import ModelSpec, Request, Row, Usage


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.000297, "$0.000297"),
        (12.4, "$12.40"),
        (1234.5, "$1,234.50"),
        (3.2e-05, "$0.000032"),
        (0, "$0.00"),
        (0.5, "$0.50"),
        (-0.002, "-$0.002"),
        (1e-12, "<$0.00000001"),
        (None, formats.NA),
        (math.nan, formats.NA),
        (pd.NA, formats.NA),
    ],
)
def test_dollars(value: object, text: str) -> None:
    assert formats.usd(value) == text


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_dollars_never_use_scientific_notation(value: float) -> None:
    assert not re.search(r"[eE][+-]?\d", formats.usd(value))


def test_seconds_tokens_percent() -> None:
    assert formats.seconds(1.234) == "1.23 s" and formats.seconds(pd.NA) == formats.NA
    assert formats.tokens(12345) == "12,345" and formats.tokens(12.6) == "13"
    assert formats.percent(0.125) == "12.5%"


def test_headers_carry_units() -> None:
    assert header("latency_p50_s") == "latency p50 (s)"
    assert header("cost_per_1k_calls_usd") == "cost per 1k calls ($)"
    assert header("input", "$/MTok") == "input ($/MTok)"
    assert header("input_tokens") == "input tokens"


def frame() -> pd.DataFrame:
    gpt, bad = ModelSpec("openai", "gpt-4o-mini"), ModelSpec("openai", "gpt-unpriced")
    rows = [
        Row("r", Request("p0", "q", gpt), "ok", "a", usage=Usage(12000, 20), latency_s=0.4,
            cost_usd=3.2e-05, attempts=1),
        Row("r", Request("p0", "q", bad), "ok", "b", usage=Usage(10, 20), latency_s=0.5,
            attempts=1),
        Row("r", Request("p1", "q\nline two", gpt), "error", error_type="timeout",
            error_message="late", attempts=2),
    ]  # fmt: skip
    return to_frame(rows)


def test_tables_keep_raw_values_and_display_formatted() -> None:
    df = frame()
    table = orbit_nb.cost_table(df)
    assert isinstance(table, Table) and isinstance(table, pd.DataFrame)
    assert table.loc["openai:gpt-4o-mini", "spent_usd"] == pytest.approx(3.2e-05)  # raw
    html = table._repr_html_()
    assert "$0.000032" in html and "spent ($)" in html and "12,000" in html
    assert "e-05" not in html and "e-05" not in repr(table)
    assert "leave out answers with no known price: openai:gpt-unpriced" in html
    assert "input tokens" in repr(table)
    summary = orbit_nb.summary(df)
    assert "latency p50 (s)" in summary._repr_html_() and "0.40" in summary._repr_html_()
    assert "error_rate" in summary.columns  # the frame keeps every column
    assert "error rate" not in summary._repr_html_()  # the display is compact
    assert "error rate" in summary[["calls", "error_rate"]]._repr_html_()  # a selection shows all


def test_a_model_whose_calls_all_failed_has_na_tokens() -> None:
    df = frame()
    table = orbit_nb.cost_table(df[df["status"].eq("error") | df["model"].eq("gpt-unpriced")])
    assert pd.isna(table.loc["openai:gpt-4o-mini", "input_tokens"])


def test_side_by_side_shows_whole_answers_wrapped() -> None:
    long = "First paragraph.\n\n" + "word " * 40
    gpt = ModelSpec("openai", "gpt-4o-mini")
    df = to_frame([Row("r", Request("p0", "q", gpt), "ok", long, attempts=1)])
    html = orbit_nb.side_by_side(df)._repr_html_()
    assert "orbit-nb-wrap" in html and long.strip() in html  # not cut, line breaks kept


def test_as_table_is_a_view_not_a_copy_of_meaning() -> None:
    df = pd.DataFrame({"cost_usd": [0.1, 0.2]})
    table = as_table(df)
    assert table["cost_usd"].sum() == pytest.approx(0.3)
    assert type(table + 1) is Table  # operations keep the formatted display
