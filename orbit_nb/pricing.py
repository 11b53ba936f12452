"""Prices per model and the pure function that turns usage into dollars.

The table ships as package data (``data/prices.json``) with an ``as_of`` date
and a source per model, in USD per million tokens. Prices are looked up by the
model the user asked for; a dated snapshot id (``claude-sonnet-4-5-20250929``)
finds its family's price through the table's aliases or by dropping the date.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .types import Usage

__all__ = ["Price", "cost", "lookup", "table", "warn_unknown"]

_PER_TOKEN = 1e-6
_DATE_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|-latest)$")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens for one model (and one context tier)."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    long_context_threshold: int | None = None
    long_context: Price | None = None
    as_of: str | None = None
    source: str | None = None


def _price(entry: dict[str, Any], as_of: str | None) -> Price:
    tier = entry.get("long_context")
    return Price(
        input=float(entry["input"]),
        output=float(entry["output"]),
        cached_input=entry.get("cached_input"),
        cache_write=entry.get("cache_write"),
        cache_write_1h=entry.get("cache_write_1h"),
        long_context_threshold=tier["threshold"] if tier else None,
        long_context=_price(tier, None) if tier else None,
        as_of=entry.get("as_of", as_of),
        source=entry.get("source"),
    )


@cache
def table() -> tuple[dict[str, Price], dict[str, str], str]:
    """(prices by model, aliases, as_of) read once from the package data."""
    text = resources.files("orbit_nb").joinpath("data/prices.json").read_text("utf-8")
    data = json.loads(text)
    as_of = data["as_of"]
    prices = {name: _price(entry, as_of) for name, entry in data["models"].items()}
    return prices, dict(data.get("aliases", {})), as_of


def lookup(model: str) -> Price | None:
    """The price of ``model`` (a bare model id, no provider), or None if unknown."""
    prices, aliases, _ = table()
    for name in (model, _DATE_SUFFIX.sub("", model)):
        name = aliases.get(name, name)
        if name in prices:
            return prices[name]
    return None


def cost(model: str, usage: Usage) -> float | None:
    """USD for ``usage`` on ``model``; None when the model or the counts are unknown.

    Cached input is billed at the cached rate, cache writes at the write rate of
    their TTL, reasoning as output (it is part of ``output_tokens``).
    """
    price = lookup(model)
    if price is None or usage.input_tokens is None or usage.output_tokens is None:
        return None
    if price.long_context and usage.input_tokens > (price.long_context_threshold or 0):
        price = price.long_context
    cached = usage.cached_input_tokens or 0
    written = usage.cache_write_tokens or 0
    written_1h = usage.cache_write_1h_tokens or 0
    write_5m = price.cache_write if price.cache_write is not None else price.input
    write_1h = price.cache_write_1h if price.cache_write_1h is not None else write_5m
    read = price.cached_input if price.cached_input is not None else price.input
    dollars = (
        (usage.input_tokens - cached - written) * price.input
        + cached * read
        + (written - written_1h) * write_5m
        + written_1h * write_1h
        + usage.output_tokens * price.output
    )
    return dollars * _PER_TOKEN


def warn_unknown(models: Iterable[str]) -> None:
    """One warning naming every model that has no price (their cost is NA)."""
    unknown = sorted({m for m in models if lookup(m) is None})
    if unknown:
        warnings.warn(
            f"no price known for {', '.join(map(repr, unknown))}; their cost_usd is NA",
            stacklevel=3,
        )
