"""Frozen value types shared by every part of orbit_nb.

A run turns :class:`Request` values into :class:`Row` values; a provider turns
one request into one :class:`Completion` carrying a normalised :class:`Usage`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from .errors import ParameterError

__all__ = [
    "SERVICE_TIERS",
    "Completion",
    "ErrorType",
    "ModelSpec",
    "Options",
    "Request",
    "Row",
    "Status",
    "Usage",
]

#: The service tiers a run can ask for (``service_tier=``); ``None`` sends none.
SERVICE_TIERS = ("default", "flex", "priority")

#: What became of a call: ``pending`` only while the run goes on.
Status = Literal["pending", "ok", "error", "cancelled", "skipped"]

#: Why a call failed (the ``error_type`` column).
ErrorType = Literal[
    "authentication",
    "bad_request",
    "bad_response",
    "client_error",
    "conflict",
    "connection",
    "disconnected",
    "invalid_response",
    "malformed",
    "not_found",
    "overloaded",
    "permission",
    "quota_exhausted",
    "rate_limit",
    "redirect",
    "request_too_large",
    "server_error",
    "stalled",
    "timeout",
    "truncated",
    "unprocessable",
]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A parsed ``"provider:model"`` spec, e.g. ``ModelSpec("openai", "gpt-4o")``."""

    provider: str
    model: str

    @property
    def spec(self) -> str:
        return f"{self.provider}:{self.model}"

    def __str__(self) -> str:
        return self.spec


def number(name: str, value: object) -> float:
    """``value`` as a finite float, or a ParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name}={value!r} is not a number")
    if not math.isfinite(value):
        raise ParameterError(f"{name}={value!r} must be a finite number")
    return float(value)


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name}={value!r} must be a whole number >= 1")
    if value < 1:
        raise ParameterError(f"{name}={value!r} must be >= 1")
    return value


#: Marks an option that is sent with every request: it becomes a field of
#: :class:`Request` of the same name, and so part of the cache key.
_SENT: dict[str, Any] = {"sent": True}


@dataclass(frozen=True, slots=True)
class Options:
    """Every option of a run (``compare()``, ``acompare()``, ``%%orbit``, the panel),
    checked when made: a bad value raises :class:`~orbit_nb.errors.ParameterError`
    naming it, before anything is sent. Checks that depend on the models (the
    temperature range each provider accepts) are made when the run is planned.

    An option marked ``sent`` is copied into every :class:`Request`; the cache
    key covers every request field, so such an option can never be left out
    of it.
    """

    system: str | None = field(default=None, metadata=_SENT)
    temperature: float | None = field(default=None, metadata=_SENT)
    max_tokens: int | None = field(default=None, metadata=_SENT)
    repeat: int = 1
    cache: bool = True
    concurrency: int | None = None
    timeout: float | None = None
    budget: float | None = None
    #: Asked of every provider that offers it; the row records the tier that served.
    service_tier: str | None = field(default=None, metadata=_SENT)
    # Not sent: a streamed answer is the same answer, and shares its cache entry.
    stream: bool = False

    def __post_init__(self) -> None:
        if self.system is not None and not isinstance(self.system, str):
            raise ParameterError(f"system={self.system!r} must be a str or None")
        if self.temperature is not None:
            object.__setattr__(self, "temperature", number("temperature", self.temperature))
        if self.max_tokens is not None:
            _whole("max_tokens", self.max_tokens)
        _whole("repeat", self.repeat)
        if not isinstance(self.cache, bool):
            raise ParameterError(f"cache={self.cache!r} must be True or False")
        if self.concurrency is not None:
            _whole("concurrency", self.concurrency)
        if self.timeout is not None:
            timeout = number("timeout", self.timeout)
            if timeout <= 0:
                raise ParameterError(f"timeout={self.timeout!r} must be > 0 seconds")
            object.__setattr__(self, "timeout", timeout)
        if self.budget is not None:
            budget = number("budget", self.budget)
            if budget <= 0:
                raise ParameterError(f"budget={self.budget!r} must be > 0 dollars")
            object.__setattr__(self, "budget", budget)
        if not isinstance(self.stream, bool):
            raise ParameterError(f"stream={self.stream!r} must be True or False")
        if self.service_tier is not None and self.service_tier not in SERVICE_TIERS:
            raise ParameterError(
                f"service_tier={self.service_tier!r} must be one of "
                f"{', '.join(map(repr, SERVICE_TIERS))} or None"
            )

    def sent(self) -> dict[str, Any]:
        """The options every request carries, by name (see :class:`Request`)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("sent")}


@dataclass(frozen=True, slots=True)
class Request:
    """One call to make: a prompt for one model, one repeat, and the options
    sent with it (those :class:`Options` marks ``sent``)."""

    prompt_id: str
    prompt: str
    model: ModelSpec
    repeat: int = 0
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    service_tier: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts in one convention for every provider.

    ``input_tokens`` counts every prompt token billed as input, cached ones
    included; ``cached_input_tokens`` is the part read from the provider's
    prompt cache and ``cache_write_tokens`` the part written to it (of which
    ``cache_write_1h_tokens`` went to a one-hour cache). ``output_tokens``
    counts every generated token, reasoning included; ``reasoning_tokens`` is
    that subset. ``input_audio_tokens`` and ``output_audio_tokens`` are the
    audio parts of input and output, billed at audio rates where a model has
    them. ``None`` means the API does not report the figure at all.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None
    input_audio_tokens: int | None = None
    output_audio_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    """What a provider answered to one request."""

    content: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    request_id: str | None = None
    #: The model the response names, which may differ from the one asked for.
    response_model: str | None = None
    #: The tier the response says served it (OpenAI ``service_tier``, Anthropic
    #: ``usage.service_tier``); None when it says nothing.
    service_tier: str | None = None
    #: Anthropic's billing modifiers as the response reports them.
    inference_geo: str | None = None
    speed: str | None = None


@dataclass(slots=True)
class Row:
    """The outcome of one call; becomes one DataFrame row.

    Mutable only while the engine fills it in; a finished row is not changed.
    """

    run_id: str
    request: Request
    status: Status = "pending"
    content: str | None = None
    error_type: ErrorType | None = None
    error_message: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float | None = None
    ttft_s: float | None = None
    cost_usd: float | None = None
    cached: bool = False
    finish_reason: str | None = None
    attempts: int = 0
    request_id: str | None = None
    started_at: datetime | None = None
    served_model: str | None = None
    service_tier: str | None = None
    #: Where the row's price came from, or why it has none.
    price_source: str | None = None
