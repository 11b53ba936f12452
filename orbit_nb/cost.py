"""Usage x price -> dollars: a pure function, no state and no I/O.

The price comes from :func:`orbit_nb.price_data.priced`; this module only does
the arithmetic, so it gives the same answer for the same arguments on any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .types import Usage

if TYPE_CHECKING:
    from .price_data import Price

__all__ = ["cost"]

_PER_TOKEN = 1e-6  # prices are USD per million tokens


def _part(tokens: int | None, rate: float | None, fallback: float) -> float | None:
    """``tokens`` at ``rate``; None when some were used at a rate nobody knows.

    ``fallback`` is the rate of the tokens' parent (audio input is input).
    """
    if not tokens:
        return 0.0
    return None if rate is None else tokens * (rate - fallback)


def _or(rate: float | None, parent: float) -> float:
    return parent if rate is None else rate


def cost(price: Price | None, usage: Usage) -> float | None:
    """USD for ``usage`` at ``price``; None when the price or the counts are unknown.

    Above ``price.long_context_threshold`` prompt tokens the whole call is billed
    at the long-context tier. Cached input is billed at the cached rate, cache
    writes at the write rate of their TTL, audio at the audio rates where the
    price has them, reasoning as output (it is part of ``output_tokens``). A
    rate the price leaves unknown (``None``) that the usage needs makes the
    cost unknown rather than a guess.

    >>> from orbit_nb.price_data import Price
    >>> gpt_4o = Price(input=2.5, output=10.0, cached_input=1.25)
    >>> cost(gpt_4o, Usage(input_tokens=2000, cached_input_tokens=1500, output_tokens=500))
    0.008125
    """
    if price is None or usage.input_tokens is None or usage.output_tokens is None:
        return None
    if price.long_context and usage.input_tokens > (price.long_context_threshold or 0):
        price = price.long_context
    written = usage.cache_write_tokens or 0
    written_1h = usage.cache_write_1h_tokens or 0
    write_1h = price.cache_write_1h if price.cache_write_1h is not None else price.cache_write
    parts = (
        _part(usage.cached_input_tokens, price.cached_input, price.input),
        _part(written - written_1h, price.cache_write, price.input),
        _part(written_1h, write_1h, price.input),
        _part(usage.input_audio_tokens, _or(price.input_audio, price.input), price.input),
        _part(usage.output_audio_tokens, _or(price.output_audio, price.output), price.output),
    )
    if None in parts:
        return None
    dollars = usage.input_tokens * price.input + usage.output_tokens * price.output
    return (dollars + sum(p for p in parts if p is not None)) * _PER_TOKEN
