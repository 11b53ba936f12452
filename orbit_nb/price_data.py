"""Price data: the shipped table, the user's price file and set_price() overrides.

The table ships as package data (``data/prices.json``) with an ``as_of`` date
and a source per model, in USD per million tokens. Prices are looked up by the
model the user asked for; a dated snapshot id (``claude-sonnet-4-5-20250929``)
finds its family's price through the table's aliases or by dropping the date.

Two layers sit on the shipped table, the later one winning:

- a user price file: ``ORBIT_PRICES=/path/to/prices.json``, in the shipped
  file's format (``models`` and optional ``aliases``); a broken file gives one
  warning naming it and is ignored;
- :func:`set_price`, for this process only, until :func:`reset_prices`.

Loading happens in :func:`table`, which runs in the caller's thread before every
run and re-reads the user file when ``ORBIT_PRICES`` or the file changed.
:func:`lookup` runs on the engine loop for each finished call, so it only reads
the table already loaded and never touches the disk. Turning a price and a
usage into dollars is :func:`orbit_nb.cost.cost`'s job.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from . import config
from .errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ENV_VAR",
    "Price",
    "lookup",
    "prices",
    "reset_prices",
    "set_price",
    "table",
    "unknown_note",
]

#: Environment variable naming a user price file that overrides the shipped one.
ENV_VAR = config.PRICES

_DATE_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|-latest)$")
_SPEC_PREFIXES = ("anthropic:", "openai:", "gemini:")


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
    provider: str | None = None


Table = tuple[dict[str, Price], dict[str, str], str]
_FileKey = tuple[str, int, int]  # (path, mtime_ns, size) of the user price file


@dataclass(frozen=True, slots=True)
class _State:
    key: _FileKey | None  # the user file this state was read from, if any
    base: dict[str, Price]  # shipped prices with the user file's on top
    aliases: dict[str, str]
    as_of: str
    from_file: frozenset[str]
    prices: dict[str, Price]  # base with set_price() overrides on top: what lookup() reads


# The engine thread only ever reads `_state` (one attribute load); writers rebind
# it under the lock, and never mutate a dict a reader may hold.
_state: _State | None = None
_overrides: dict[str, Price] = {}
_lock = threading.Lock()


def _rate(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ParameterError(
            f"{name}={value!r} must be a non-negative finite number (USD per million tokens)"
        )
    return float(value)


def _optional_rate(value: object, name: str) -> float | None:
    return None if value is None else _rate(value, name)


def _threshold(tier: dict[str, Any], where: str) -> int:
    value = tier.get("threshold")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(f"{where}.threshold={value!r} must be a positive int of tokens")
    return value


def _price(entry: object, where: str, as_of: str | None) -> Price:
    if not isinstance(entry, dict):
        raise ParameterError(f"{where} must be an object with input and output prices")
    tier = entry.get("long_context")
    if tier is not None and not isinstance(tier, dict):
        raise ParameterError(f"{where}.long_context must be an object")
    return Price(
        input=_rate(entry.get("input"), f"{where}.input"),
        output=_rate(entry.get("output"), f"{where}.output"),
        cached_input=_optional_rate(entry.get("cached_input"), f"{where}.cached_input"),
        cache_write=_optional_rate(entry.get("cache_write"), f"{where}.cache_write"),
        cache_write_1h=_optional_rate(entry.get("cache_write_1h"), f"{where}.cache_write_1h"),
        long_context_threshold=_threshold(tier, f"{where}.long_context") if tier else None,
        long_context=_price(tier, f"{where}.long_context", None) if tier else None,
        as_of=entry.get("as_of", as_of),
        source=entry.get("source"),
        provider=entry.get("provider"),
    )


def _parse(data: object) -> tuple[dict[str, Price], dict[str, str], str | None]:
    """Prices, aliases and as_of from a price file's JSON; ValueError naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ParameterError('expected a JSON object with a "models" object')
    as_of = data.get("as_of")
    found = {
        str(name): _price(entry, f"models[{name!r}]", as_of)
        for name, entry in data["models"].items()
    }
    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise ParameterError('"aliases" must be an object mapping model ids to model ids')
    return found, {str(k): v for k, v in aliases.items()}, as_of


@cache
def _shipped() -> Table:
    text = resources.files("orbit_nb").joinpath("data/prices.json").read_text("utf-8")
    found, aliases, as_of = _parse(json.loads(text))
    return found, aliases, str(as_of)


def _file_key() -> _FileKey | None:
    path = config.prices_file()
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, stat.st_mtime_ns, stat.st_size)


def _read_user_file(path: str) -> tuple[dict[str, Price], dict[str, str]]:
    """The user file's prices and aliases; nothing (and one warning) if it is broken."""
    try:
        with open(path, encoding="utf-8") as f:
            found, aliases, _ = _parse(json.load(f))
    except (OSError, ValueError) as exc:  # JSONDecodeError and ParameterError are ValueErrors
        warnings.warn(
            f"ignoring the price file {path!r} named by {ENV_VAR}: {exc}; using the shipped prices",
            stacklevel=5,
        )
        return {}, {}
    return found, aliases


def _build(key: _FileKey | None) -> _State:
    base, aliases, as_of = _shipped()
    extra, extra_aliases = _read_user_file(key[0]) if key else ({}, {})
    return _State(
        key=key,
        base={**base, **extra},
        aliases={**aliases, **extra_aliases},
        as_of=as_of,
        from_file=frozenset(extra),
        prices={**base, **extra, **_overrides},
    )


def _load() -> _State:
    """The current state, (re)built when the user price file changed. Does file I/O."""
    global _state
    key = _file_key()
    with _lock:
        if _state is None or _state.key != key:
            _state = _build(key)
        return _state


def _current() -> _State:
    """The state already loaded; no I/O unless nothing has been loaded yet."""
    state = _state
    return state if state is not None else _load()


def table() -> Table:
    """(prices by model, aliases, as_of) as :func:`lookup` sees them.

    Shipped prices, then the ``ORBIT_PRICES`` file, then :func:`set_price`
    overrides. Re-reads the user file when the variable or the file changed
    since the last call, so call it from the caller's thread before a run
    (``compare()`` does), never on the engine loop.
    """
    state = _load()
    return state.prices, state.aliases, state.as_of


def lookup(model: str) -> Price | None:
    """The price of ``model`` (a bare model id, no provider), or None if unknown.

    >>> lookup("claude-haiku-4-5-20251001").input  # a snapshot finds its family
    1.0
    """
    state = _current()
    for name in (model, _DATE_SUFFIX.sub("", model)):
        for candidate in (name, state.aliases.get(name)):
            if candidate is not None and candidate in state.prices:
                return state.prices[candidate]
    return None


def unknown_note(models: Iterable[str]) -> str | None:
    """A note naming every model that has no price (their cost is NA), or None."""
    unknown = sorted({m for m in models if lookup(m) is None})
    if not unknown:
        return None
    return (
        f"no price known for {', '.join(map(repr, unknown))}; their cost_usd is NA; "
        "orbit_nb.set_price() or an ORBIT_PRICES file can add one"
    )


def _check_model(model: object) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ParameterError(f"model={model!r} must be a non-empty model id such as 'gpt-4o'")
    if model.startswith(_SPEC_PREFIXES):
        bare = model.split(":", 1)[1]
        raise ParameterError(
            f"model={model!r} is a spec; prices are per model id: use {bare!r} "
            "(the value of the `model` column)"
        )
    return model


def set_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    cache_write: float | None = None,
    cache_write_1h: float | None = None,
) -> None:
    """Use this price (USD per million tokens) for ``model`` in this process.

    It replaces the shipped price (and any ``ORBIT_PRICES`` entry) for calls
    that finish afterwards, snapshots of ``model`` included. Rates left out are
    billed at the input rate (``cached_input``, ``cache_write``) or at the
    5-minute write rate (``cache_write_1h``); no long-context tier applies.
    :func:`reset_prices` drops every override.

    >>> set_price("llama3.2", input=0, output=0)  # a local model costs nothing
    >>> lookup("llama3.2").output
    0.0
    >>> reset_prices()
    """
    global _state
    name = _check_model(model)
    known = lookup(name)
    price = Price(
        input=_rate(input, "input"),
        output=_rate(output, "output"),
        cached_input=_optional_rate(cached_input, "cached_input"),
        cache_write=_optional_rate(cache_write, "cache_write"),
        cache_write_1h=_optional_rate(cache_write_1h, "cache_write_1h"),
        source="set_price()",
        provider=known.provider if known else None,
    )
    _load()
    with _lock:
        _overrides[name] = price
        if _state is not None:
            _state = replace(_state, prices={**_state.base, **_overrides})


def reset_prices() -> None:
    """Drop every :func:`set_price` override; the shipped and ``ORBIT_PRICES`` prices apply."""
    global _state
    with _lock:
        _overrides.clear()
        if _state is not None:
            _state = replace(_state, prices=dict(_state.base))


def prices() -> pd.DataFrame:
    """The price table in use, one row per model, USD per million tokens.

    Columns: provider, input, output, cached_input, cache_write, cache_write_1h,
    long_context_threshold (prompt tokens above which the whole call is billed at
    long-context rates), as_of, source, and ``overridden`` (the price comes from
    ``ORBIT_PRICES`` or :func:`set_price`, not the shipped table). The shipped
    table's date is in ``df.attrs["as_of"]``.

    >>> df = prices()
    >>> df.loc["gpt-4o", ["input", "output"]].tolist()
    [2.5, 10.0]
    """
    import pandas as pd

    state = _load()
    overridden = set(state.from_file) | set(_overrides)
    items = list(state.prices.items())

    def column(values: Iterable[object], dtype: str) -> pd.Series:
        return pd.Series(list(values), dtype=dtype)

    df = pd.DataFrame(
        {
            "provider": column((p.provider for _, p in items), "string"),
            "input": column((p.input for _, p in items), "float64"),
            "output": column((p.output for _, p in items), "float64"),
            "cached_input": column((p.cached_input for _, p in items), "float64"),
            "cache_write": column((p.cache_write for _, p in items), "float64"),
            "cache_write_1h": column((p.cache_write_1h for _, p in items), "float64"),
            "long_context_threshold": column((p.long_context_threshold for _, p in items), "Int64"),
            "as_of": column((p.as_of for _, p in items), "string"),
            "source": column((p.source for _, p in items), "string"),
            "overridden": column((name in overridden for name, _ in items), "bool"),
        }
    )
    df.index = pd.Index([name for name, _ in items], dtype="string", name="model")
    df.attrs["as_of"] = state.as_of
    from .table import as_table

    per_mtok = {c: "$/MTok" for c in ("input", "output", "cached_input", "cache_write")}
    per_mtok["cache_write_1h"] = "$/MTok"
    shown = ("provider", "input", "output", "cached_input", "cache_write", "as_of", "overridden")
    return as_table(
        df, shown, units=per_mtok, note=f"USD per million tokens; table of {state.as_of}"
    )
