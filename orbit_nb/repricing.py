"""Re-pricing: the cost of calls already made, at today's or another date's prices.

A result or a history keeps every usage count a price needs (cache reads, 5-minute
and 1-hour cache writes, audio), the model that answered and the tier that
served it, so :func:`reprice` can bill them again after a price changes or a
:func:`~orbit_nb.price_data.set_price` override is added.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from .cost import cost
from .frame import check_result
from .price_data import at_date, load, priced
from .types import Usage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["reprice"]

_USAGE = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
)
_NEEDS = ("provider", "model", "input_tokens", "output_tokens", "cost_usd")


def _count(value: object) -> int | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def _text(value: object) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else str(value)  # type: ignore[call-overload]


def reprice(df: pd.DataFrame, at: date | datetime | str | None = None) -> pd.DataFrame:
    """A copy of ``df`` (from :func:`~orbit_nb.compare` or :func:`~orbit_nb.history`)
    with ``cost_usd`` and ``price_source`` recomputed from its usage columns.

    ``at=None`` prices every call at today's prices (and overrides); a date
    (``"2027-01-01"``, a ``date`` or ``datetime``) at that date's. Each call is
    priced for the model that answered it (``served_model``) on the tier that
    served it (``service_tier``); rows without usage (errors, cancelled calls)
    keep NA. Anthropic's inference-geography and speed modifiers are not in
    the result columns, so a call billed with one is re-priced without it::

        orbit_nb.set_price("gpt-4o", input=2.0, output=8.0)
        df2 = orbit_nb.reprice(df)
        (df2.cost_usd - df.cost_usd).sum()
    """
    df = check_result(df, _NEEDS, "reprice")
    when = at_date(at)
    load()  # the library and the price file here, in the caller's thread
    out = df.copy()
    columns = {name: out.get(name) for name in _USAGE}
    served, tiers = out.get("served_model"), out.get("service_tier")
    costs: list[float | None] = []
    sources: list[str | None] = []
    for i in range(len(out)):
        counts = {
            field: _count(column.iat[i]) if column is not None else None
            for field, column in columns.items()
        }
        usage = Usage(**counts)
        if usage.input_tokens is None or usage.output_tokens is None:
            costs.append(None)
            sources.append(_text(out["price_source"].iat[i]) if "price_source" in out else None)
            continue
        bill = priced(
            str(out["provider"].iat[i]),
            str(out["model"].iat[i]),
            _text(served.iat[i]) if served is not None else None,
            when,
            _text(tiers.iat[i]) if tiers is not None else None,
        )
        costs.append(cost(bill.price, usage))
        sources.append(bill.source)
    import pandas as pd

    out["cost_usd"] = pd.Series(costs, index=out.index, dtype="float64")
    out["price_source"] = pd.Series(sources, index=out.index, dtype="string")
    out.attrs = {**df.attrs, "repriced_at": when.date().isoformat()}
    return out
