"""Price data: the ``genai-prices`` library, the user's price file and set_price().

Every shipped price comes from `genai-prices <https://pypi.org/project/genai-prices/>`_,
the maintained price data of the pydantic team: prices by request date, long
context tiers, 5-minute and 1-hour cache writes, service tiers, and per
provider model matching (a dated snapshot such as ``gpt-4o-2024-05-13`` has its
own price, not its family's). Two layers sit on top, the later one winning:

- a user price file: ``ORBIT_PRICES=/path/to/prices.json`` with ``models``
  (model id -> rates in USD per million tokens) and optional ``endpoints``
  (endpoint name -> models), for example::

      {"models": {"gpt-4o": {"input": 2.5, "output": 10}},
       "endpoints": {"local": {"llama3.2": {"input": 0, "output": 0}}}}

  A broken file gives one warning naming it and is ignored;
- :func:`set_price`, for this process only, until :func:`reset_prices`.

A registered endpoint (``register_endpoint``) is never priced by model name: a
local server answering as ``gpt-4o`` is not billed at OpenAI's price. It is
priced only by a price set for that endpoint, or like the public model its
``price_as=`` names.

Loading (the library's data, the user file) happens in :func:`table`, which the
caller's thread runs before every run. :func:`priced` runs on the engine loop
for each finished call: it resolves a (model, date, tier) once and remembers
the answer, so a call costs a dictionary lookup. Turning a price and a usage
into dollars is :func:`orbit_nb.cost.cost`'s job.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from functools import cache
from typing import TYPE_CHECKING, Any

from . import config
from .errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd
    from genai_prices.types import ModelPrice

__all__ = [
    "ENV_VAR",
    "PROVIDER_IDS",
    "Price",
    "Priced",
    "library",
    "load",
    "lookup",
    "priced",
    "prices",
    "reset_prices",
    "set_price",
    "table",
    "unpriced_notes",
]

#: Environment variable naming a user price file that overrides the shipped one.
ENV_VAR = config.PRICES

#: The price library's provider id for each built-in provider of orbit.
PROVIDER_IDS = {"anthropic": "anthropic", "openai": "openai", "gemini": "google"}

_SPEC_PREFIXES = tuple(f"{p}:" for p in PROVIDER_IDS)
_DATE_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|-latest)$")
_VERSION_SUFFIX = re.compile(r"-\d{3}$")  # Gemini's modelVersion: gemini-2.5-flash-001
# Anthropic's documented cache multipliers of the input rate (read, 5-minute
# write, 1-hour write), the same for every Claude model.
_CLAUDE_CACHE = (0.1, 1.25, 2.0)
# US-only inference (inference_geo "us") costs 1.1x on Claude 4.6 and newer.
_US_GEO = 1.1
_CLAUDE_VERSION = re.compile(r"claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2}))?(?:-|$)")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens for one model (and one context tier).

    A rate left ``None`` is unknown: a call that used it has no cost.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    input_audio: float | None = None
    output_audio: float | None = None
    long_context_threshold: int | None = None
    long_context: Price | None = None
    as_of: str | None = None
    source: str | None = None
    provider: str | None = None

    def scaled(self, factor: float) -> Price:
        """Every rate times ``factor`` (a billing modifier such as US-only inference)."""

        def times(rate: float | None) -> float | None:
            return None if rate is None else rate * factor

        return replace(
            self,
            input=self.input * factor,
            output=self.output * factor,
            cached_input=times(self.cached_input),
            cache_write=times(self.cache_write),
            cache_write_1h=times(self.cache_write_1h),
            input_audio=times(self.input_audio),
            output_audio=times(self.output_audio),
            long_context=self.long_context.scaled(factor) if self.long_context else None,
        )


@dataclass(frozen=True, slots=True)
class Priced:
    """The price a call is billed at, and where it came from (``price_source``).

    ``price`` is None when no price is known; ``source`` then says why.
    """

    price: Price | None
    source: str


# -- the library -------------------------------------------------------------


@cache
def _library_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


def library() -> str:
    """The price library and its version, as ``price_source`` names it."""
    return f"genai-prices {_library_version()}"


@cache
def _snapshot() -> Any:
    """The library's bundled price data (about 0.5 s to load the first time).

    Never the auto-updating snapshot: no price lookup touches the network.
    """
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


def _decimal(value: Any) -> float | None:
    return None if value is None else float(value)


def _tiered(value: Any) -> tuple[float | None, int | None, float | None]:
    """(base rate, tier threshold, tier rate) of a library price value."""
    from genai_prices.types import TieredPrices

    if isinstance(value, TieredPrices):
        tier = value.tiers[0] if value.tiers else None
        return (
            float(value.base),
            tier.start if tier else None,
            float(tier.price) if tier else None,
        )
    return _decimal(value), None, None


def _from_library(mp: ModelPrice, provider: str, source: str, as_of: str) -> Price | None:
    """Our Price for a library ModelPrice; None when it has no token rates.

    A rate the library leaves out is billed at its parent's (a cache read
    with no cache rate at the input rate, a 1-hour write at the 5-minute
    rate), as the library itself bills it.
    """
    keys = {
        "input": "input_mtok",
        "output": "output_mtok",
        "cached_input": "cache_read_mtok",
        "cache_write": "cache_write_mtok",
        "cache_write_1h": "cache_write_1h_mtok",
        "input_audio": "input_audio_mtok",
        "output_audio": "output_audio_mtok",
    }
    base: dict[str, float | None] = {}
    upper: dict[str, float | None] = {}
    threshold: int | None = None
    for ours, theirs in keys.items():
        rate, start, tier_rate = _tiered(getattr(mp, theirs, None))
        base[ours] = rate
        upper[ours] = tier_rate if start is not None else rate
        if start is not None:
            threshold = start if threshold is None else min(threshold, start)
    if base["input"] is None or base["output"] is None:
        return None

    def filled(rates: dict[str, float | None]) -> dict[str, float | None]:
        out = dict(rates)
        for name, parent in (
            ("cached_input", "input"),
            ("cache_write", "input"),
            ("cache_write_1h", "cache_write"),
        ):
            if out[name] is None:
                out[name] = out[parent]
        return out

    def make(rates: dict[str, float | None], **more: Any) -> Price:
        return Price(**rates, as_of=as_of, source=source, provider=provider, **more)  # type: ignore[arg-type]

    if threshold is None:
        return make(filled(base))
    return make(filled(base), long_context_threshold=threshold, long_context=make(filled(upper)))


def _context(tier: str | None, speed: str | None) -> dict[str, str]:
    """The library's price context for what the response says served a call."""
    context: dict[str, str] = {}
    if tier == "batch":
        context["processing"] = "batch"
    elif tier and tier not in ("default", "standard", "auto"):
        context["service_tier"] = tier
    if speed == "fast":
        context["speed"] = "fast"
    return context


def _library_price(
    provider: str, model: str, when: datetime, tier: str | None, speed: str | None
) -> tuple[Price | None, str]:
    """The library's price and a note of the tier and speed it is for ("" if
    standard); a tier the library has no price for is priced as standard, and
    the note says so."""
    snapshot = _snapshot()
    try:
        _, info = snapshot.find_provider_model(model, None, PROVIDER_IDS[provider], None)
    except LookupError:
        return None, ""
    context = _context(tier, speed)
    mp = info.get_prices(when, context or None)
    note = ""
    if context:
        special = ", ".join(context.values())
        if mp == info.get_prices(when):
            note = f", standard price: no {special} price known for {info.id!r}"
        else:
            note = f", {special} price"
    return _from_library(mp, provider, library(), when.date().isoformat()), note


def _claude_version(model: str) -> float | None:
    match = _CLAUDE_VERSION.search(model)
    if not match:
        return None
    return float(f"{match.group(1)}.{match.group(2) or 0}")


def _modified(price: Price, provider: str, model: str, geo: str | None) -> Price:
    """``price`` with the documented modifiers the response reported."""
    if provider == "anthropic" and geo == "us":
        version = _claude_version(model)
        if version is not None and version >= 4.6:
            return price.scaled(_US_GEO)
    return price


# -- the override layers -----------------------------------------------------

_Key = tuple[str | None, str]  # (endpoint, or None for any built-in provider; model)
_FileKey = tuple[str, int, int]  # (path, mtime_ns, size) of the user price file


@dataclass(slots=True)
class _State:
    key: _FileKey | None  # the user file this state was read from, if any
    from_file: dict[_Key, Price]
    overrides: dict[_Key, Price]
    # What priced() resolved, by its arguments; dropped with the state.
    resolved: dict[tuple[object, ...], Priced] = field(default_factory=dict)


# The engine thread only reads `_state` (one attribute load) and adds to its
# `resolved` memo; writers rebind `_state` under the lock.
_state: _State | None = None
_overrides: dict[_Key, Price] = {}
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


def _price(entry: object, where: str, source: str, as_of: str | None = None) -> Price:
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
        long_context=_price(tier, f"{where}.long_context", source) if tier else None,
        as_of=entry.get("as_of", as_of),
        source=entry.get("source", source),
        provider=entry.get("provider"),
    )


def _parse(data: object, source: str) -> dict[_Key, Price]:
    """The prices in a price file's JSON; ParameterError naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
        raise ParameterError('expected a JSON object with a "models" object')
    as_of = data.get("as_of")
    found: dict[_Key, Price] = {
        (None, str(name)): _price(entry, f"models[{name!r}]", source, as_of)
        for name, entry in data.get("models", {}).items()
    }
    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise ParameterError('"aliases" must be an object mapping model ids to model ids')
    for alias, name in aliases.items():
        if (None, name) in found:
            found[(None, str(alias))] = found[(None, name)]
    per_endpoint = data.get("endpoints", {})
    if not isinstance(per_endpoint, dict) or not all(
        isinstance(v, dict) for v in per_endpoint.values()
    ):
        raise ParameterError('"endpoints" must map endpoint names to objects of models')
    for endpoint, models in per_endpoint.items():
        for name, entry in models.items():
            where = f"endpoints[{endpoint!r}][{name!r}]"
            found[(str(endpoint), str(name))] = _price(entry, where, source, as_of)
    return found


def _file_key() -> _FileKey | None:
    path = config.prices_file()
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, stat.st_mtime_ns, stat.st_size)


def _read_user_file(path: str) -> dict[_Key, Price]:
    """The user file's prices; nothing (and one warning) if it is broken."""
    try:
        with open(path, encoding="utf-8") as f:
            return _parse(json.load(f), f"{ENV_VAR} file")
    except (OSError, ValueError) as exc:  # JSONDecodeError and ParameterError are ValueErrors
        warnings.warn(
            f"ignoring the price file {path!r} named by {ENV_VAR}: {exc}; using the shipped prices",
            stacklevel=5,
        )
        return {}


def _load() -> _State:
    """The current state, (re)built when the user price file changed. Does file I/O."""
    global _state
    key = _file_key()
    with _lock:
        if _state is None or _state.key != key:
            from_file = _read_user_file(key[0]) if key else {}
            _state = _State(key, from_file, dict(_overrides))
        return _state


def _current() -> _State:
    """The state already loaded; no I/O unless nothing has been loaded yet."""
    state = _state
    return state if state is not None else _load()


def load() -> None:
    """Load the price library's data and (re-)read the ``ORBIT_PRICES`` file when
    it changed: what :func:`priced` needs, done in the caller's thread before a
    run (``compare()`` does), never on the engine loop."""
    _snapshot()
    _load()


def table() -> tuple[dict[str, Price], dict[str, str], str]:
    """(prices of the built-in providers' current models, {}, today's date).

    Loads the price library and re-reads the ``ORBIT_PRICES`` file when it
    changed, so call it from the caller's thread before a run (``compare()``
    does), never on the engine loop.
    """
    state = _load()
    when = datetime.now(UTC)
    found = {name: price for (_, name), price in _catalogue(when).items()}
    for (endpoint, name), price in {**state.from_file, **state.overrides}.items():
        if endpoint is None:
            found[name] = price
    return found, {}, when.date().isoformat()


def _catalogue(when: datetime) -> dict[tuple[str, str], Price]:
    """Every current (not deprecated) model of the built-in providers that the
    library prices per token, by (provider, model id), at ``when``."""
    found: dict[tuple[str, str], Price] = {}
    ours = {theirs: mine for mine, theirs in PROVIDER_IDS.items()}
    for provider in _snapshot().providers:
        mine = ours.get(provider.id)
        if mine is None:
            continue
        for info in provider.models:
            foreign = mine == "gemini" and not info.id.startswith(("gemini", "gemma"))
            if info.deprecated or foreign:  # Google also lists the Claude models it hosts
                continue
            price = _from_library(info.get_prices(when), mine, library(), when.date().isoformat())
            if price is not None:
                found[(mine, info.id)] = price
    return found


# -- resolving a call's price ------------------------------------------------


def _override(state: _State, endpoint: str | None, model: str) -> Price | None:
    for name in (model, _DATE_SUFFIX.sub("", model)):
        for layer in (state.overrides, state.from_file):
            if (endpoint, name) in layer:
                return layer[(endpoint, name)]
    return None


def _refs(model: str, served: str | None) -> list[str]:
    """The model ids to price a call by, best first: the served model (and its
    unversioned name), then the model asked for."""
    refs = []
    for ref in (served, _VERSION_SUFFIX.sub("", served) if served else None, model):
        if ref and ref not in refs:
            refs.append(ref)
    return refs


def _resolve(
    endpoint: str,
    model: str,
    served: str | None,
    when: datetime,
    tier: str | None,
    geo: str | None,
    speed: str | None,
) -> Priced:
    state = _current()
    builtin = endpoint in PROVIDER_IDS
    refs = _refs(model, served)
    for ref in refs:
        found = _override(state, endpoint, ref) or (
            _override(state, None, ref) if builtin else None
        )
        if found is not None:
            return Priced(found, _asked_note(found.source or "set_price()", ref, served))
    if builtin:
        for ref in refs:
            price, note = _library_price(endpoint, ref, when, tier, speed)
            if price is not None:
                source = _asked_note(f"{library()}{note}", ref, served)
                return Priced(_modified(price, endpoint, ref, geo), source)
        return Priced(
            None,
            f"unpriced: {library()} has no price for {refs[0]!r}; orbit_nb.set_price() can add one",
        )
    from .specs import endpoints

    like = getattr(endpoints().get(endpoint), "price_as", None)
    if like:
        provider, _, public = like.partition(":")
        inner = _resolve(provider, public, None, when, tier, geo, speed)
        if inner.price is not None:
            return Priced(inner.price, f"price_as {like!r} ({inner.source})")
        return Priced(None, f"unpriced: price_as {like!r}: {inner.source}")
    return Priced(
        None,
        f"unpriced: endpoint {endpoint!r} has no price for {model!r}; use "
        f"orbit_nb.set_price({model!r}, ..., endpoint={endpoint!r}) or "
        f"register_endpoint(..., price_as='provider:model')",
    )


def _asked_note(source: str, ref: str, served: str | None) -> str:
    if served and ref != served and _VERSION_SUFFIX.sub("", served) != ref:
        return f"{source}; priced as {ref!r}: no price for the served model {served!r}"
    return source


def priced(
    endpoint: str,
    model: str,
    served: str | None = None,
    when: datetime | None = None,
    tier: str | None = None,
    geo: str | None = None,
    speed: str | None = None,
) -> Priced:
    """The price of one call on ``endpoint`` ("openai", "anthropic", "gemini" or a
    registered endpoint) that asked for ``model`` and was answered by
    ``served``, at request time ``when`` (now if None), on service ``tier``
    with Anthropic's ``geo`` and ``speed`` as the response reported them.

    Resolved once per (endpoint, model, served, day, tier, geo, speed) and
    remembered: runs on the engine loop, so it never reads a file.

    >>> priced("openai", "gpt-4o-2024-05-13").price.input  # a snapshot's own price
    5.0
    """
    when = when or datetime.now(UTC)
    state = _current()
    key = (endpoint, model, served, when.date(), tier, geo, speed)
    found = state.resolved.get(key)
    if found is None:
        day = datetime.combine(when.date(), time(12), tzinfo=UTC)
        found = _resolve(endpoint, model, served, day, tier, geo, speed)
        state.resolved[key] = found
    return found


def lookup(model: str, provider: str | None = None, when: datetime | None = None) -> Price | None:
    """The price of ``model`` on a built-in provider (guessed from the model id
    when not given) at ``when`` (now), or None if unknown.

    >>> lookup("claude-haiku-4-5-20251001").input  # a snapshot finds its model
    1.0
    """
    if provider is None:
        provider = _guess_provider(model)
        if provider is None:
            state = _current()
            return _override(state, None, model)
    return priced(provider, model, when=when).price


def _guess_provider(model: str) -> str | None:
    if model.startswith("claude"):
        return "anthropic"
    if model.startswith(("gemini", "gemma")):
        return "gemini"
    if model.startswith(("gpt", "o1", "o3", "o4", "chatgpt", "text-", "ft:")):
        return "openai"
    return None


# -- the user's overrides ----------------------------------------------------


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


def _check_endpoint(endpoint: object) -> str | None:
    if endpoint is None:
        return None
    from .specs import endpoints

    known = endpoints()
    if not isinstance(endpoint, str) or endpoint not in known:
        raise ParameterError(
            f"endpoint={endpoint!r} is not a known endpoint; known: "
            f"{', '.join(map(repr, sorted(known)))}"
        )
    return None if endpoint in PROVIDER_IDS else endpoint


def _cache_ratios(model: str) -> tuple[float, float, float] | None:
    """(read, 5-minute write, 1-hour write) as fractions of the input rate for
    ``model``: its own from the library, else Anthropic's documented ones for a
    Claude model, else None."""
    provider = _guess_provider(model)
    known = _library_price(provider, model, datetime.now(UTC), None, None)[0] if provider else None
    if known is not None and known.input > 0:
        return (
            (known.cached_input or known.input) / known.input,
            (known.cache_write or known.input) / known.input,
            (known.cache_write_1h or known.cache_write or known.input) / known.input,
        )
    if model.startswith("claude"):
        return _CLAUDE_CACHE
    return None


def set_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    cache_write: float | None = None,
    cache_write_1h: float | None = None,
    endpoint: str | None = None,
) -> None:
    """Use this price (USD per million tokens) for ``model`` in this process.

    It replaces the library's price (and any ``ORBIT_PRICES`` entry) for calls
    that finish afterwards, snapshots of ``model`` included. ``endpoint``
    prices a model of a registered endpoint (which is otherwise unpriced).
    Cache rates left out keep the model's own ratio to the input rate where
    the library knows the model (Claude's documented 0.1x read, 1.25x and 2x
    writes for any Claude model); otherwise a call that read or wrote the
    cache has no cost. No long-context tier applies. :func:`reset_prices`
    drops every override.

    >>> set_price("llama3.2", input=0, output=0)  # a local model costs nothing
    >>> lookup("llama3.2").output
    0.0
    >>> reset_prices()
    """
    global _state
    name = _check_model(model)
    where = _check_endpoint(endpoint)
    rate_in = _rate(input, "input")
    read = _optional_rate(cached_input, "cached_input")
    write = _optional_rate(cache_write, "cache_write")
    write_1h = _optional_rate(cache_write_1h, "cache_write_1h")
    ratios = _cache_ratios(name) if None in (read, write, write_1h) else None
    if ratios is None and rate_in == 0:
        ratios = (0.0, 0.0, 0.0)  # a free model's cache is free too
    if ratios is not None:
        read = rate_in * ratios[0] if read is None else read
        write = rate_in * ratios[1] if write is None else write
        write_1h = rate_in * ratios[2] if write_1h is None else write_1h
    price = Price(
        input=rate_in,
        output=_rate(output, "output"),
        cached_input=read,
        cache_write=write,
        cache_write_1h=write_1h,
        source="set_price()",
        provider=endpoint or _guess_provider(name),
    )
    state = _load()
    with _lock:
        _overrides[(where, name)] = price
        _state = _State(state.key, state.from_file, dict(_overrides))


def reset_prices() -> None:
    """Drop every :func:`set_price` override; the library and ``ORBIT_PRICES`` prices apply."""
    global _state
    with _lock:
        _overrides.clear()
        if _state is not None:
            _state = _State(_state.key, _state.from_file, {})


# -- the table people see ----------------------------------------------------


def at_date(at: date | datetime | str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, str):
        try:
            at = date.fromisoformat(at)
        except ValueError:
            raise ParameterError(f"at={at!r} must be a date such as '2027-01-01'") from None
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    if isinstance(at, date):
        return datetime.combine(at, time(12), tzinfo=UTC)
    raise ParameterError(f"at={at!r} must be a date, a datetime or an ISO date string")


def prices(at: date | datetime | str | None = None) -> pd.DataFrame:
    """The prices in use on date ``at`` (today), one row per model, USD per million tokens.

    Every current model of Anthropic, OpenAI and Gemini that the price library
    prices per token, then the ``ORBIT_PRICES`` file's and :func:`set_price`'s
    models. Columns: provider, input, output, cached_input, cache_write,
    cache_write_1h, long_context_threshold (prompt tokens above which the whole
    call is billed at long-context rates), as_of (the date the prices hold
    on), source (the library and its version, or the override) and
    ``overridden``.

    >>> df = prices(at="2026-12-31")
    >>> df.loc["gemini-3.8-flash", ["input", "output"]].tolist()
    [0.75, 3.75]
    """
    import pandas as pd

    when = at_date(at)
    state = _load()
    items: list[tuple[str, Price, bool]] = []
    seen: set[str] = set()
    layered = {**state.from_file, **state.overrides}
    for (_, name), price in _catalogue(when).items():
        if name in seen:
            continue
        seen.add(name)
        override = layered.get((None, name))
        items.append((name, override or price, override is not None))
    for (endpoint, name), price in layered.items():
        label = name if endpoint is None else f"{endpoint}:{name}"
        if label not in seen:
            seen.add(label)
            items.append((label, replace(price, provider=endpoint or price.provider), True))

    def column(values: Iterable[object], dtype: str) -> pd.Series:
        return pd.Series(list(values), dtype=dtype)

    day = when.date().isoformat()
    df = pd.DataFrame(
        {
            "provider": column((p.provider for _, p, _ in items), "string"),
            "input": column((p.input for _, p, _ in items), "float64"),
            "output": column((p.output for _, p, _ in items), "float64"),
            "cached_input": column((p.cached_input for _, p, _ in items), "float64"),
            "cache_write": column((p.cache_write for _, p, _ in items), "float64"),
            "cache_write_1h": column((p.cache_write_1h for _, p, _ in items), "float64"),
            "long_context_threshold": column(
                (p.long_context_threshold for _, p, _ in items), "Int64"
            ),
            "as_of": column((p.as_of or day for _, p, _ in items), "string"),
            "source": column((p.source for _, p, _ in items), "string"),
            "overridden": column((o for _, _, o in items), "bool"),
        }
    )
    df.index = pd.Index([name for name, _, _ in items], dtype="string", name="model")
    df.attrs["as_of"] = day
    df.attrs["library"] = library()
    from .table import as_table

    per_mtok = dict.fromkeys(
        ("input", "output", "cached_input", "cache_write", "cache_write_1h"), "$/MTok"
    )
    shown = ("provider", "input", "output", "cached_input", "cache_write", "source", "overridden")
    return as_table(
        df,
        shown,
        units=per_mtok,
        note=f"USD per million tokens on {day}; from {library()} unless overridden",
    )


def unpriced_notes(sources: Iterable[str | None]) -> list[str]:
    """One note per distinct reason a call has no price (``price_source``)."""
    return sorted({s for s in sources if s and s.startswith("unpriced")})
