"""Rows to a pandas DataFrame with one fixed schema, and tables built from it.

The frame is built once, at the end of a run, column by column: no per-call
formatting or copies while calls are in flight. The tables (:func:`summary`,
:func:`cost_table`, :func:`side_by_side`, :func:`project_cost`) take such a
frame and raise :class:`~orbit_nb.errors.ParameterError` for anything else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import ParameterError
from .rows import COLUMNS, row_values
from .table import Table, as_table
from .types import Row

__all__ = [
    "COLUMNS",
    "check_result",
    "cost_table",
    "project_cost",
    "side_by_side",
    "summary",
    "to_frame",
]


def to_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """One DataFrame row per call, with the dtypes of :data:`COLUMNS`."""
    columns = list(zip(*map(row_values, rows), strict=True)) if rows else [()] * len(COLUMNS)
    data = {
        name: pd.Series(values, dtype=dtype)
        for (name, dtype), values in zip(COLUMNS.items(), columns, strict=True)
    }
    return pd.DataFrame(data)


def check_result(df: object, needs: Iterable[str], func: str) -> pd.DataFrame:
    """``df`` if it is a DataFrame with the columns ``func`` needs; ParameterError otherwise."""
    hint = f"{func}() takes the DataFrame orbit_nb.compare() returns"
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"{hint}, not {type(df).__name__}")
    missing = [c for c in needs if c not in df.columns]
    if missing:
        raise ParameterError(f"{hint}; this one has no column {', '.join(map(repr, missing))}")
    return df


def _ok(df: pd.DataFrame) -> pd.Series:
    return df["status"].isin(["ok"])  # NA-safe, unlike == on a string column


def _models(df: pd.DataFrame) -> pd.Index:
    names: list[str] = sorted(df["model_spec"].dropna().unique())
    return pd.Index(names, dtype="string", name="model_spec")


_SUMMARY_SHOWN = (
    "calls",
    "ok",
    "errors",
    "latency_p50_s",
    "latency_p95_s",
    "output_tokens_per_call",
    "cost_per_call_usd",
    "cost_usd",
)


def summary(df: pd.DataFrame) -> Table:
    """Per model: calls, ok/error counts, error rate, latency p50/p95, ttft p50,
    mean tokens and cost per call (over ok rows), and total cost."""
    columns = ("model_spec", "status", "latency_s", "ttft_s", "cost_usd")
    check_result(df, (*columns, "input_tokens", "output_tokens"), "summary")
    groups = df.groupby("model_spec", sort=True)
    ok = df[df["status"] == "ok"].groupby("model_spec")
    out = pd.DataFrame(
        {
            "calls": groups.size(),
            "ok": groups["status"].apply(lambda s: int((s == "ok").sum())),
            "errors": groups["status"].apply(lambda s: int((s == "error").sum())),
        }
    )
    out["error_rate"] = out["errors"] / out["calls"]
    out["latency_p50_s"] = ok["latency_s"].median()
    out["latency_p95_s"] = ok["latency_s"].quantile(0.95)
    out["ttft_p50_s"] = ok["ttft_s"].median()
    out["input_tokens_per_call"] = ok["input_tokens"].mean()
    out["output_tokens_per_call"] = ok["output_tokens"].mean()
    out["cost_per_call_usd"] = ok["cost_usd"].mean()
    out["cost_usd"] = groups["cost_usd"].sum(min_count=1)
    out.index.name = "model_spec"
    return as_table(out, _SUMMARY_SHOWN)


_TOKEN_SUMS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")
_DAYS_PER_MONTH = 30


def _costs(df: pd.DataFrame, key: pd.Series, index: pd.Index) -> pd.DataFrame:
    """The cost_table columns for the rows grouped by ``key``, one row per ``index`` label.

    Sums by group code with numpy (``bincount``): one pass per column, no
    pandas groupby machinery, so a notebook's result view stays fast.
    """
    codes, groups = pd.factorize(key, use_na_sentinel=False)
    n = len(groups)
    ok = _ok(df).to_numpy(dtype=bool)
    cached = df["cached"].eq(True).to_numpy(dtype=bool)

    def sums(column: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per group: the sum of the column's known values in ``rows``, how many
        of those values are known, and how many rows there are."""
        values = df[column].to_numpy(dtype="float64", na_value=np.nan)
        known = rows & ~np.isnan(values)
        total = np.bincount(codes[known], weights=values[known], minlength=n)
        return total, np.bincount(codes[known], minlength=n), np.bincount(codes[rows], minlength=n)

    out = pd.DataFrame(index=pd.Index(groups, name=key.name))
    out["calls"] = np.bincount(codes, minlength=n)
    for column in _TOKEN_SUMS:  # a count no ok row reports stays NA, not 0
        total, known, _ = sums(column, ok)
        out[column] = pd.array(np.where(known > 0, total, np.nan), dtype="Float64").astype("Int64")
    for column, rows in (("spent_usd", ok & ~cached), ("saved_usd", ok & cached)):
        total, known, present = sums("cost_usd", rows)  # no such rows: 0; no known price: NA
        out[column] = np.where(present == 0, 0.0, np.where(known > 0, total, np.nan))
    total, known, _ = sums("cost_usd", ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["cost_per_1k_calls_usd"] = np.where(known > 0, total / known, np.nan) * 1000
    if len(index) != n or not index.equals(out.index):
        out = out.reindex(index)
        absent = ~index.isin(groups)  # labels with no rows at all: nothing spent
        out.loc[absent, ["calls", "spent_usd", "saved_usd"]] = 0
        out["calls"] = out["calls"].astype("int64")
    out.index = index
    return out


_COSTS_SHOWN = (
    "calls",
    "input_tokens",
    "output_tokens",
    "spent_usd",
    "saved_usd",
    "cost_per_1k_calls_usd",
)


def cost_table(df: pd.DataFrame) -> Table:
    """What each model cost, and what the cache saved, with a final ``total`` row.

    Per ``model_spec``: ``calls`` (every row: ok, error, cancelled, skipped);
    ``input_tokens``, ``cached_input_tokens``, ``output_tokens``,
    ``reasoning_tokens`` summed over ok rows (NA when no ok row reports the
    count); ``spent_usd``, the cost of ok rows that really went to the provider;
    ``saved_usd``, the cost of ok rows served from orbit's cache (their
    ``cost_usd`` is what they would have cost); and ``cost_per_1k_calls_usd``,
    the mean ``cost_usd`` of ok rows times 1000. Dollar sums are NA when every
    row's price is unknown. Example::

        df = orbit_nb.compare("Hi", ["openai:gpt-4o-mini", "gemini:gemini-2.5-flash"])
        orbit_nb.cost_table(df)[["calls", "spent_usd", "saved_usd"]]
    """
    columns = ("model_spec", "status", "cached", "cost_usd", *_TOKEN_SUMS)
    check_result(df, columns, "cost_table")
    per_model = _costs(df, df["model_spec"], _models(df))
    everything = pd.Series("total", index=df.index, dtype="string")
    total = _costs(df, everything, pd.Index(["total"], dtype="string", name="model_spec"))
    return as_table(pd.concat([per_model, total]), _COSTS_SHOWN, note=_unpriced_note(df))


def _unpriced_note(df: pd.DataFrame) -> str:
    """Which models the dollar totals leave out for want of a price."""
    unpriced = df.loc[_ok(df) & df["cost_usd"].isna(), "model_spec"].dropna().unique()
    if not len(unpriced):
        return ""
    names = ", ".join(sorted(map(str, unpriced)))
    return f"dollar totals leave out answers with no known price: {names}"


def _cells(rows: pd.DataFrame) -> pd.Series:
    """The answer, ``[error_type] error_message`` for errors, ``[status]`` otherwise."""
    status = rows["status"].astype("string")
    text = rows["content"].astype("string")
    error = status.isin(["error"])
    kind = rows.loc[error, "error_type"].astype("string").fillna("error")
    message = rows.loc[error, "error_message"].astype("string").fillna("")
    text[error] = ("[" + kind + "] " + message).str.rstrip()
    other = ~status.isin(["ok", "error"])
    text[other] = "[" + status[other].fillna("unknown") + "]"
    return text


def side_by_side(df: pd.DataFrame, repeat: int = 0) -> Table:
    """Answers to read across: one row per prompt, one column per model.

    The index is ``prompt_id`` (in the order the prompts were given), the first
    column the ``prompt``, then one column per ``model_spec`` holding that
    model's answer to repeat number ``repeat``. A failed call shows
    ``"[error_type] error_message"``, a cancelled or skipped one
    ``"[cancelled]"`` or ``"[skipped]"``. Example::

        df = orbit_nb.compare(["2+2?", "Capital of France?"], ["haiku", "gpt-4o-mini"])
        orbit_nb.side_by_side(df)
    """
    columns = ("prompt_id", "prompt", "model_spec", "repeat", "status", "content")
    check_result(df, (*columns, "error_type", "error_message"), "side_by_side")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 0:
        raise ParameterError(f"repeat={repeat!r} must be an int >= 0 (the `repeat` column)")
    rows = df[df["repeat"].isin([repeat])]
    if rows.empty and not df.empty:
        present = ", ".join(map(str, sorted(df["repeat"].dropna().unique())))
        raise ParameterError(f"repeat={repeat} has no rows; this frame has repeat {present}")
    if rows.duplicated(["prompt_id", "model_spec"]).any():
        raise ParameterError(
            f"side_by_side() found several rows for one prompt_id and model_spec at "
            f"repeat={repeat}: the frame mixes runs; pass one, e.g. df[df.run_id == ...]"
        )
    cells = pd.DataFrame(
        {"prompt_id": rows["prompt_id"], "model_spec": rows["model_spec"], "cell": _cells(rows)}
    )
    out = cells.pivot(index="prompt_id", columns="model_spec", values="cell").reindex(
        index=pd.Index(rows["prompt_id"].drop_duplicates(), name="prompt_id"),
        columns=pd.Index(rows["model_spec"].drop_duplicates()),
    )
    out.columns.name = None  # a plain header: the columns mix `prompt` and model specs
    prompts = rows.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    out.insert(0, "prompt", prompts.reindex(out.index))
    return as_table(out, wrap=True)


def _check_calls_per_day(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ParameterError(f"calls_per_day={value!r} must be a positive number, e.g. 1000")
    return float(value)


def project_cost(df: pd.DataFrame, *, calls_per_day: float) -> Table:
    """What each model would cost at ``calls_per_day`` calls like the ones in ``df``.

    Per ``model_spec``: ``cost_per_call_usd`` (mean ``cost_usd`` of ok rows,
    cached ones included, since they show what such a call costs),
    ``calls_per_day``, ``daily_usd`` and ``monthly_usd`` (30 days). NA for a
    model with no priced ok row. Example::

        df = orbit_nb.compare("Summarise: ...", ["haiku", "gpt-4o-mini"], repeat=5)
        orbit_nb.project_cost(df, calls_per_day=10_000)
    """
    check_result(df, ("model_spec", "status", "cost_usd"), "project_cost")
    per_day = _check_calls_per_day(calls_per_day)
    ok = _ok(df)
    per_call = df[ok].groupby("model_spec")["cost_usd"].mean().reindex(_models(df))
    out = pd.DataFrame({"cost_per_call_usd": per_call.astype("float64")})
    out["calls_per_day"] = per_day
    out["daily_usd"] = out["cost_per_call_usd"] * per_day
    out["monthly_usd"] = out["daily_usd"] * _DAYS_PER_MONTH
    return as_table(out)
