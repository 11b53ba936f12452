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

from .cost import cost as cost_of
from .price_data import lookup
from .providers.base import Provider
from .providers.facts import facts, facts_of_kind
from .types import Request, Usage

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_OUTPUT_TOKENS",
    "Bound",
    "bound_requests",
    "chars_estimate",
    "output_bound",
    "to_frame",
]

#: Characters per token assumed when a provider has no token-count endpoint.
CHARS_PER_TOKEN = 4
#: Output tokens assumed per call when ``max_tokens`` is not set and the API
#: applies its own limit (see :func:`output_bound`).
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
    if facts_of_kind(provider.target.kind).counts_tokens:
        async with limit:
            try:
                counted = await provider.count_tokens(request)
            except Exception:  # an error, a server without the endpoint: fall back
                counted = None
        if counted is not None:
            return int(counted), "count_tokens"
    return chars_estimate(request), f"chars/{CHARS_PER_TOKEN}"


def output_bound(request: Request) -> int:
    """The most output tokens ``request`` can bring: its ``max_tokens``, the
    ``max_tokens`` its API requires orbit to send, else :data:`DEFAULT_OUTPUT_TOKENS`."""
    sent = request.max_tokens or facts(request.model.provider).default_max_tokens
    return sent or DEFAULT_OUTPUT_TOKENS


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
        output = output_bound(req)
        usage = Usage(input_tokens=tokens, output_tokens=output)
        cost = cost_of(lookup(req.model.model), usage)
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
