"""Rows: the only place a :class:`~orbit_nb.types.Row` is made or changed, and
the column schema every result frame and the history share.

A row starts ``pending`` and ends exactly once, through one of :func:`answered`,
:func:`failed`, :func:`cancelled`, :func:`skipped` or :func:`served` (a cache
hit). The runner calls these on the engine loop; nothing else writes a row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .types import Completion, Request, Row

if TYPE_CHECKING:
    from .cache import Entry
    from .providers.base import Failure

__all__ = [
    "COLUMNS",
    "FINAL",
    "answered",
    "attempting",
    "cancelled",
    "capped",
    "failed",
    "new",
    "row_values",
    "served",
    "skipped",
    "started",
]

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
    "served_model": _STR,
    "service_tier": _STR,
    "repeat": _INT,
    "status": _STR,
    "content": _STR,
    "error_type": _STR,
    "error_message": _STR,
    "input_tokens": _INT,
    "cached_input_tokens": _INT,
    "cache_write_tokens": _INT,
    "cache_write_1h_tokens": _INT,
    "output_tokens": _INT,
    "reasoning_tokens": _INT,
    "input_audio_tokens": _INT,
    "output_audio_tokens": _INT,
    "total_tokens": _INT,
    "latency_s": _FLOAT,
    "ttft_s": _FLOAT,
    "cost_usd": _FLOAT,
    "price_source": _STR,
    "cached": "bool",
    "finish_reason": _STR,
    "attempts": _INT,
    "request_id": _STR,
    "started_at": "datetime64[us, UTC]",
}

#: The statuses a row ends with.
FINAL = frozenset({"ok", "error", "cancelled", "skipped"})


def row_values(row: Row) -> tuple[object, ...]:
    """One row's values in the order of :data:`COLUMNS`."""
    req, usage = row.request, row.usage
    return (
        row.run_id,
        req.prompt_id,
        req.prompt,
        req.model.spec,
        req.model.provider,
        req.model.model,
        row.served_model,
        row.service_tier,
        req.repeat,
        row.status,
        row.content,
        row.error_type,
        row.error_message,
        usage.input_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
        usage.input_audio_tokens,
        usage.output_audio_tokens,
        usage.total_tokens,
        row.latency_s,
        row.ttft_s,
        row.cost_usd,
        row.price_source,
        row.cached,
        row.finish_reason,
        row.attempts,
        row.request_id,
        row.started_at,
    )


def new(run_id: str, request: Request) -> Row:
    """A pending row for one call of run ``run_id``."""
    return Row(run_id, request)


def capped(row: Row, request: Request) -> None:
    """A pending row's call goes out as ``request``: the same one with the
    ``max_tokens`` cap a budget needs (see :func:`orbit_nb.bounds.budget_bounds`)."""
    assert row.status == "pending"
    row.request = request


def started(row: Row) -> None:
    """The call (or its wait on an identical one in flight) begins now."""
    row.started_at = datetime.now(UTC)


def attempting(row: Row, attempt: int) -> None:
    """HTTP attempt number ``attempt`` (1-based) is being sent."""
    row.attempts = attempt


def answered(
    row: Row,
    completion: Completion,
    latency_s: float,
    cost_usd: float | None,
    ttft_s: float | None = None,
    price_source: str | None = None,
) -> None:
    """The provider answered; ``latency_s`` is the last attempt's, ``ttft_s`` its
    time to the first text (streamed calls only); ``cost_usd`` is priced for the
    served model and tier, from ``price_source``."""
    row.content = completion.content
    row.served_model = completion.response_model
    row.service_tier = completion.service_tier
    row.price_source = price_source
    row.usage = completion.usage
    row.finish_reason = completion.finish_reason
    row.request_id = completion.request_id
    row.latency_s = latency_s
    row.ttft_s = ttft_s
    row.cost_usd = cost_usd
    row.status = "ok"


def failed(
    row: Row,
    failure: Failure,
    latency_s: float | None = None,
    note: str = "",
    *,
    partial: str = "",
    ttft_s: float | None = None,
) -> None:
    """The call failed for good (``note`` is added to the failure's message). A
    stream that broke after part of its answer arrived keeps that part as
    ``content`` (``partial``), with its ``ttft_s``."""
    row.error_type = failure.error_type
    row.error_message = failure.message + note
    if latency_s is not None:
        row.latency_s = latency_s
    if partial:
        row.content = partial
        row.ttft_s = ttft_s
    row.status = "error"


def cancelled(row: Row, message: str) -> None:
    """The run was cancelled or interrupted before this call finished."""
    row.status = "cancelled"
    row.error_message = message


def skipped(row: Row, message: str) -> None:
    """Not sent (the run's budget was reached)."""
    row.status = "skipped"
    row.error_message = message


def served(row: Row, entry: Entry) -> None:
    """Answered by the cache, or by an identical call in flight: the original
    answer, usage, latency and cost; nothing was sent for this row."""
    c = entry.completion
    row.content, row.usage, row.finish_reason = c.content, c.usage, c.finish_reason
    row.request_id = c.request_id
    row.served_model, row.service_tier = c.response_model, c.service_tier
    row.latency_s, row.ttft_s, row.cost_usd = entry.latency_s, entry.ttft_s, entry.cost_usd
    row.price_source = entry.price_source
    row.cached, row.attempts, row.status = True, 0, "ok"
    if row.started_at is None:
        started(row)
