"""Upper-bound cost of a run, before anything is called.

Input tokens come from the provider's token-count endpoint where it offers
one (Anthropic ``messages/count_tokens``, Gemini ``countTokens``), else from
the documented heuristic of :data:`CHARS_PER_TOKEN` characters per token.
Output tokens are bounded by ``max_tokens`` (:data:`DEFAULT_OUTPUT_TOKENS`
when not set), so the estimate is what the run costs if every answer runs to
its limit.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import pricing
from .providers.base import Provider
from .types import Request, Usage

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_OUTPUT_TOKENS",
    "Bound",
    "bound_requests",
    "chars_estimate",
    "to_frame",
]

#: Characters per token assumed when a provider has no token-count endpoint.
CHARS_PER_TOKEN = 4
#: Output tokens assumed per call when ``max_tokens`` is not set.
DEFAULT_OUTPUT_TOKENS = 1024
_COUNT_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class Bound:
    """The estimate for one request."""

    request: Request
    input_tokens: int
    output_tokens: int
    counted_by: str  # "count_tokens" or "chars/4"
    max_cost_usd: float | None


def chars_estimate(request: Request) -> int:
    """Input tokens guessed from text length: system prompt and prompt."""
    text = (request.system or "") + request.prompt
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


async def _count(request: Request, provider: Provider, limit: asyncio.Semaphore) -> tuple[int, str]:
    counter = getattr(provider, "count_tokens", None)
    if counter is not None:
        async with limit:
            try:
                return int(await counter(request)), "count_tokens"
            except Exception:  # no endpoint, an error, a mock server: fall back
                pass
    return chars_estimate(request), f"chars/{CHARS_PER_TOKEN}"


async def bound_requests(
    requests: Sequence[Request], providers: Mapping[str, Provider]
) -> list[Bound]:
    """An upper bound per request; identical inputs (repeats) are counted once."""
    limit = asyncio.Semaphore(_COUNT_CONCURRENCY)
    unique: dict[tuple[object, ...], Request] = {}
    for req in requests:
        unique.setdefault((req.model, req.system, req.prompt), req)
    counted = await asyncio.gather(
        *(_count(req, providers[req.model.provider], limit) for req in unique.values())
    )
    by_input = dict(zip(unique, counted, strict=True))
    bounds = []
    for req in requests:
        tokens, how = by_input[(req.model, req.system, req.prompt)]
        output = req.max_tokens or DEFAULT_OUTPUT_TOKENS
        cost = pricing.cost(req.model.model, Usage(input_tokens=tokens, output_tokens=output))
        bounds.append(Bound(req, tokens, output, how, cost))
    return bounds


def to_frame(bounds: Sequence[Bound]) -> pd.DataFrame:
    """Per model: calls, estimated input tokens, output bound, and the cost bound."""
    import pandas as pd

    data = pd.DataFrame(
        {
            "model_spec": [b.request.model.spec for b in bounds],
            "input_tokens": [b.input_tokens for b in bounds],
            "output_tokens": [b.output_tokens for b in bounds],
            "max_cost_usd": pd.array([b.max_cost_usd for b in bounds], dtype="Float64"),
            "counted_by": [b.counted_by for b in bounds],
        }
    )
    groups = data.groupby("model_spec", sort=True)  # like summary() and cost_table()
    out = groups.agg(
        calls=("input_tokens", "size"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        max_cost_usd=("max_cost_usd", lambda s: s.sum(min_count=len(s))),
        counted_by=("counted_by", "first"),
    )
    from .table import as_table

    return as_table(out)
