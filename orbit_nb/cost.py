"""Usage x price -> dollars: a pure function, no state and no I/O.

The price comes from :func:`orbit_nb.price_data.lookup`; this module only does the
arithmetic, so it gives the same answer for the same arguments on any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .types import Usage

if TYPE_CHECKING:
    from .price_data import Price

__all__ = ["cost"]

_PER_TOKEN = 1e-6  # prices are USD per million tokens


def cost(price: Price | None, usage: Usage) -> float | None:
    """USD for ``usage`` at ``price``; None when the price or the counts are unknown.

    Above ``price.long_context_threshold`` prompt tokens the whole call is billed
    at the long-context tier. Cached input is billed at the cached rate, cache
    writes at the write rate of their TTL (the 1-hour rate defaults to the
    5-minute one, which defaults to the input rate), reasoning as output (it is
    part of ``output_tokens``).

    >>> from orbit_nb.price_data import Price
    >>> gpt_4o = Price(input=2.5, output=10.0, cached_input=1.25)
    >>> cost(gpt_4o, Usage(input_tokens=2000, cached_input_tokens=1500, output_tokens=500))
    0.008125
    """
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
