"""Upper bound on the cost of a run, before anything is called.

Input tokens of each request are counted by the provider's free count endpoint
where it has one (Anthropic ``messages/count_tokens``, Gemini ``countTokens``,
OpenAI ``responses/input_tokens`` for the same messages). Where counting is not
offered or fails, they are bounded by the UTF-8 bytes sent (system prompt and
prompt): a byte-level BPE token covers at least one byte, so a text has no more
tokens than bytes. Either way :data:`MESSAGE_OVERHEAD_TOKENS` per message are
added for the API's message framing (and for the small difference Anthropic
documents between its count and the billed input).

Output tokens are bounded by ``max_tokens``; without it, by the ``max_tokens``
orbit sends where the API requires one, else by the model's maximum output as
the provider's model endpoint reports it. With none of these the output is
unbounded and so is the cost (``max_cost_usd`` NA, ``output_by`` "unbounded").

The bound is priced as billed: at the long-context tier when the input bound is
above the tier's threshold, and at the cache-write rate when writing the prompt
cache costs more than input (a provider may write it on its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .cost import cost as cost_of
from .formats import tokens
from .price_data import Price, priced
from .providers.base import Provider
from .providers.facts import Facts, facts_of_kind
from .types import ModelSpec, Request, Usage

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BY_BYTES",
    "BY_COUNT",
    "LOOKUP_TIMEOUT",
    "MESSAGE_OVERHEAD_TOKENS",
    "Bound",
    "Cap",
    "bound_requests",
    "budget_bounds",
    "budget_caps",
    "byte_bound",
    "cap_note",
    "max_cost",
    "to_frame",
]

#: Tokens added per message (the system prompt, the prompt, and the reply the
#: API opens) for role markers and separators the API wraps around the text.
MESSAGE_OVERHEAD_TOKENS = 8
#: Seconds a count or a model lookup may take before the estimate does without it.
LOOKUP_TIMEOUT = 10.0
#: ``counted_by``: the input tokens come from the provider's count endpoint.
BY_COUNT = "count endpoint"
#: ``counted_by``: the input tokens are bounded by the UTF-8 bytes sent.
BY_BYTES = "utf-8 bytes"
_COUNT_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class Bound:
    """The most one request can cost.

    ``output_by`` says what bounds its output: ``max_tokens`` (the request's),
    ``default max_tokens`` (what orbit sends to an API that requires one),
    ``model limit`` (the model's maximum output) or ``unbounded`` (then
    ``output_tokens`` and ``max_cost_usd`` are None). ``max_cost_usd`` is also
    None when the model has no known price.
    """

    request: Request
    input_tokens: int
    counted_by: str
    output_tokens: int | None
    output_by: str
    max_cost_usd: float | None


@dataclass(frozen=True, slots=True)
class Cap:
    """The ``max_tokens`` a run with a budget sends to a model the user gave none for."""

    spec: str
    max_tokens: int
    why: str


def _messages(request: Request) -> int:
    """The prompt, the system prompt if any, and the reply the API opens."""
    return 2 + (request.system is not None)


def _overhead(request: Request) -> int:
    return MESSAGE_OVERHEAD_TOKENS * _messages(request)


def byte_bound(request: Request) -> int:
    """Input tokens of ``request`` at most: the UTF-8 bytes of its system prompt and
    prompt, plus :data:`MESSAGE_OVERHEAD_TOKENS` per message."""
    texts = [request.prompt] if request.system is None else [request.system, request.prompt]
    # surrogatepass: a lone surrogate (from a broken decode) is sent as 3 bytes too.
    sent = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts)
    return sent + _overhead(request)


async def _count(request: Request, provider: Provider, limit: asyncio.Semaphore) -> tuple[int, str]:
    if facts_of_kind(provider.target.kind).counts_tokens:
        try:
            async with limit:
                async with asyncio.timeout(LOOKUP_TIMEOUT):
                    counted = await provider.count_tokens(request)
        except Exception:  # an error, a server without the endpoint: bound by bytes
            counted = None
        if counted is not None:
            return counted + _overhead(request), BY_COUNT
    return byte_bound(request), BY_BYTES


def _facts(request: Request, providers: Mapping[str, Provider]) -> Facts:
    return facts_of_kind(providers[request.model.provider].target.kind)


async def _output_limit(spec: ModelSpec, provider: Provider) -> int | None:
    try:
        async with asyncio.timeout(LOOKUP_TIMEOUT):
            return await provider.output_limit(spec.model)
    except Exception:  # an error, a server without the endpoint: not known
        return None


async def _output_limits(
    requests: Sequence[Request], providers: Mapping[str, Provider]
) -> dict[ModelSpec, int | None]:
    """The maximum output of each model that needs it: asked no ``max_tokens``, on
    an API that sends no default of its own."""
    wanted = list(
        dict.fromkeys(
            r.model
            for r in requests
            if r.max_tokens is None
            and _facts(r, providers).default_max_tokens is None
            and _facts(r, providers).lists_output_limit
        )
    )
    found = await asyncio.gather(*(_output_limit(s, providers[s.provider]) for s in wanted))
    return dict(zip(wanted, found, strict=True))


def _output_bound(request: Request, facts: Facts, limit: int | None) -> tuple[int | None, str]:
    if request.max_tokens is not None:
        return request.max_tokens, "max_tokens"
    if facts.default_max_tokens is not None:
        return facts.default_max_tokens, "default max_tokens"
    if limit is not None:
        return limit, "model limit"
    return None, "unbounded"


def _prices(req: Request) -> list[Price | None]:
    """The prices ``req`` may be billed at: the standard one, and the tier it asks
    for (a tier asked for may not be granted, and priority costs more)."""
    provider, model = req.model.provider, req.model.model
    found = [priced(provider, model).price]
    if req.service_tier not in (None, "default"):
        found.append(priced(provider, model, tier=req.service_tier).price)
    return found


def _most(
    prices: Sequence[Price | None], input_tokens: int, output_tokens: int | None
) -> float | None:
    """The highest :func:`max_cost` over ``prices``; None if any of them is unknown."""
    costs = [max_cost(p, input_tokens, output_tokens) for p in prices]
    return None if None in costs else max(c for c in costs if c is not None)


def max_cost(price: Price | None, input_tokens: int, output_tokens: int | None) -> float | None:
    """USD for ``input_tokens`` and ``output_tokens`` at most; None when unknown.

    :func:`~orbit_nb.cost.cost` prices the call at the long-context tier when the
    input is above its threshold; where writing the prompt cache costs more than
    input, every input token is priced as written.
    """
    if output_tokens is None:
        return None
    plain = cost_of(price, Usage(input_tokens=input_tokens, output_tokens=output_tokens))
    written = cost_of(
        price,
        Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_write_tokens=input_tokens,
        ),
    )
    known = [c for c in (plain, written) if c is not None]
    return max(known) if known else None


async def _inputs(
    requests: Sequence[Request], providers: Mapping[str, Provider], counting: bool
) -> list[tuple[int, str]]:
    if not counting:
        return [(byte_bound(req), BY_BYTES) for req in requests]
    limit = asyncio.Semaphore(_COUNT_CONCURRENCY)
    return await asyncio.gather(
        *(_count(req, providers[req.model.provider], limit) for req in requests)
    )


async def bound_requests(
    requests: Sequence[Request], providers: Mapping[str, Provider], *, counting: bool = True
) -> list[Bound]:
    """An upper bound per request; identical inputs (repeats) are counted once.
    ``counting=False`` bounds every input by its bytes, sending no count request."""
    unique: dict[tuple[object, ...], Request] = {}
    for req in requests:
        unique.setdefault((req.model, req.system, req.prompt), req)
    counted, limits = await asyncio.gather(
        _inputs(list(unique.values()), providers, counting),
        _output_limits(requests, providers),
    )
    by_input = dict(zip(unique, counted, strict=True))
    bounds = []
    for req in requests:
        tokens, how = by_input[(req.model, req.system, req.prompt)]
        output, output_by = _output_bound(req, _facts(req, providers), limits.get(req.model))
        cost = _most(_prices(req), tokens, output)
        bounds.append(Bound(req, tokens, how, output, output_by, cost))
    return bounds


async def budget_bounds(
    requests: Sequence[Request], providers: Mapping[str, Provider], budget: float
) -> list[Bound]:
    """Bounds to hold ``budget`` against, with no more requests than its verdict
    needs: the byte bound first, which sends nothing; the providers' counts only
    when that bound exceeds the budget and the answers' cost alone does not (a
    tighter input could then bring it under)."""
    bounds = await bound_requests(requests, providers, counting=False)
    if any(b.max_cost_usd is None for b in bounds) or _total(bounds) <= budget:
        return bounds
    answers = sum(_most(_prices(b.request), 0, b.output_tokens) or 0.0 for b in bounds)
    if answers > budget:
        return bounds
    return await bound_requests(requests, providers)


def _total(bounds: Sequence[Bound]) -> float:
    return sum(b.max_cost_usd or 0.0 for b in bounds)


async def budget_caps(
    requests: Sequence[Request], providers: Mapping[str, Provider]
) -> tuple[list[Request], list[Cap]]:
    """``requests`` of a run with a budget and no ``max_tokens``, as they are sent,
    and the cap each model gets, so that the run's cost is bounded.

    The cap is the ``max_tokens`` orbit sends anyway where the API requires one;
    else the model's maximum output where the API reports it (the limit the API
    applies anyway, so the answer and its cache entry are those of a call
    without it); else the API's
    :attr:`~orbit_nb.providers.facts.Facts.fallback_max_tokens`: put in the
    request by the plan where the API never reports a maximum (so that it is
    part of the cache key), or here when the model's maximum could not be read.
    """
    limits = await _output_limits(requests, providers)
    sent: list[Request] = []
    caps: dict[str, Cap] = {}
    for req in requests:
        facts = _facts(req, providers)
        cap = _cap(req, facts, limits.get(req.model))
        if facts.default_max_tokens is None:
            req = replace(req, max_tokens=cap.max_tokens)
        sent.append(req)
        caps.setdefault(cap.spec, cap)
    return sent, [caps[spec] for spec in sorted(caps)]


def _cap(request: Request, facts: Facts, limit: int | None) -> Cap:
    spec = request.model.spec
    if facts.default_max_tokens is not None:
        return Cap(spec, facts.default_max_tokens, "orbit's default for this API")
    if limit is not None:
        return Cap(spec, limit, "the model's maximum output")
    if request.max_tokens is not None:  # the plan's fallback: the API reports no limit
        return Cap(spec, request.max_tokens, "orbit's cap: the API reports no maximum output")
    assert facts.fallback_max_tokens is not None  # every API without a default has one
    return Cap(spec, facts.fallback_max_tokens, "orbit's cap: the maximum output could not be read")


def cap_note(caps: Sequence[Cap]) -> str:
    """Which ``max_tokens`` a run with a budget sends each model, and why."""
    each = ", ".join(f"{tokens(c.max_tokens)} tokens for {c.spec} ({c.why})" for c in caps)
    return (
        f"budget= without max_tokens: output capped per call at {each}; "
        "pass max_tokens= to choose the cap"
    )


def _joined(values: pd.Series) -> str:
    return ", ".join(sorted(set(values)))


def to_frame(bounds: Sequence[Bound]) -> pd.DataFrame:
    """Per model: calls, the input and output token bounds, the cost bound, and
    how each was found (``counted_by``, ``output_by``)."""
    import pandas as pd

    data = pd.DataFrame(
        {
            "model_spec": [b.request.model.spec for b in bounds],
            "input_tokens": [b.input_tokens for b in bounds],
            "output_tokens": pd.array([b.output_tokens for b in bounds], dtype="Int64"),
            "max_cost_usd": pd.array([b.max_cost_usd for b in bounds], dtype="Float64"),
            "counted_by": [b.counted_by for b in bounds],
            "output_by": [b.output_by for b in bounds],
        }
    )
    groups = data.groupby("model_spec", sort=True)  # like summary() and cost_table()
    out = groups.agg(
        calls=("input_tokens", "size"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", lambda s: s.sum(min_count=len(s))),
        max_cost_usd=("max_cost_usd", lambda s: s.sum(min_count=len(s))),
        counted_by=("counted_by", _joined),
        output_by=("output_by", _joined),
    )
    from .table import as_table

    return as_table(out, note=_unbounded_note(out))


def _unbounded_note(out: pd.DataFrame) -> str:
    unbounded = [str(spec) for spec, by in out["output_by"].items() if "unbounded" in by]
    if not unbounded:
        return ""
    return (
        f"output unbounded for {', '.join(unbounded)}: no max_tokens and no known maximum "
        "output, so max_cost_usd is NA; pass max_tokens= to bound it"
    )
