"""How numbers read in every display: dollars, seconds, tokens, counts.

Pure functions from a value to display text. DataFrames keep their raw values;
only what people read goes through here. A missing value (None, NaN, NA)
reads as :data:`NA`.

>>> usd(0.000297), usd(12.4), usd(4.25e-05), usd(0.5), usd(0)
('$0.000297', '$12.40', '$0.0000425', '$0.50', '$0.00')
>>> seconds(1.234), tokens(12345), percent(0.125)
('1.23 s', '12,345', '12.5%')
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

__all__ = ["NA", "count", "is_missing", "percent", "seconds", "stamp", "tokens", "usd"]

#: What a missing value reads as.
NA = "\N{EN DASH}"
_SIGNIFICANT = 3  # digits shown of an amount under a dollar
_MAX_DECIMALS = 8


def is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NA (NA != NA is NA, whose bool raises)
    except TypeError:
        return True


def _real(value: Any) -> float | None:
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def usd(value: Any) -> str:
    """Dollars: two decimals from $1 up, three significant digits below, never 1e-05."""
    amount = _real(value)
    if amount is None:
        return NA
    size = abs(amount)
    if size >= 1 or size == 0:
        return f"{'-' if amount < 0 else ''}${size:,.2f}"
    decimals = _SIGNIFICANT - 1 - math.floor(math.log10(size))
    if decimals > _MAX_DECIMALS:
        return f"<${10.0**-_MAX_DECIMALS:.{_MAX_DECIMALS}f}"
    text = f"{size:.{decimals}f}".rstrip("0")
    text += "0" * max(0, 2 - len(text.partition(".")[2]))  # at least cents: $0.50
    return f"{'-' if amount < 0 else ''}${text}"


def seconds(value: Any) -> str:
    """Seconds with two decimals: ``1.23 s``."""
    number = _real(value)
    return NA if number is None else f"{number:,.2f} s"


def tokens(value: Any) -> str:
    """A token count (or a mean of counts) with thousands separators: ``12,345``."""
    number = _real(value)
    return NA if number is None else f"{round(number):,}"


count = tokens  # calls, rows and attempts read the same way


def percent(value: Any) -> str:
    """A fraction as a percentage with one decimal: ``12.5%``."""
    number = _real(value)
    return NA if number is None else f"{number:.1%}"


def stamp(value: Any) -> str:
    """A timestamp to the second, in its own time zone: ``2026-11-28 21:24:53``."""
    if is_missing(value) or not isinstance(value, datetime):
        return NA
    return value.strftime("%Y-%m-%d %H:%M:%S")
