"""Rows to a pandas DataFrame with one fixed schema, and tables built from it.

The frame is built once, at the end of a run, column by column: no per-call
formatting or copies while calls are in flight.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from . import pricing
from .types import Row

__all__ = ["COLUMNS", "summary", "to_frame"]

_INT = "Int64"
_FLOAT = "float64"
_STR = "string"

#: Every result column and its dtype, in order.
COLUMNS: dict[str, str] = {
    "run_id": _STR,
    "prompt_id": _STR,
    "prompt": _STR,
    "model_spec": _STR,
    "provider": _STR,
    "model": _STR,
    "repeat": _INT,
    "status": _STR,
    "content": _STR,
    "error_type": _STR,
    "error_message": _STR,
    "input_tokens": _INT,
    "cached_input_tokens": _INT,
    "cache_write_tokens": _INT,
    "output_tokens": _INT,
    "reasoning_tokens": _INT,
    "total_tokens": _INT,
    "latency_s": _FLOAT,
    "ttft_s": _FLOAT,
    "cost_usd": _FLOAT,
    "cached": "bool",
    "finish_reason": _STR,
    "attempts": _INT,
    "request_id": _STR,
    "started_at": "datetime64[us, UTC]",
}


def _record(row: Row) -> tuple[object, ...]:
    req, usage = row.request, row.usage
    return (
        row.run_id,
        req.prompt_id,
        req.prompt,
        req.model.spec,
        req.model.provider,
        req.model.model,
        req.repeat,
        row.status,
        row.content,
        row.error_type,
        row.error_message,
        usage.input_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
        usage.total_tokens,
        row.latency_s,
        row.ttft_s,
        row.cost_usd,
        row.cached,
        row.finish_reason,
        row.attempts,
        row.request_id,
        row.started_at,
    )


def to_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """One DataFrame row per call, with the dtypes of :data:`COLUMNS`.

    Warns once, naming them, about models whose price is unknown.
    """
    pricing.warn_unknown(
        {r.request.model.model for r in rows if r.status == "ok" and r.cost_usd is None}
    )
    columns = list(zip(*map(_record, rows), strict=True)) if rows else [()] * len(COLUMNS)
    data = {
        name: pd.Series(values, dtype=dtype)
        for (name, dtype), values in zip(COLUMNS.items(), columns, strict=True)
    }
    return pd.DataFrame(data)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per model: calls, ok/error counts, error rate, latency p50/p95, ttft p50,
    mean tokens and cost per call (over ok rows), and total cost."""
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
    return out
