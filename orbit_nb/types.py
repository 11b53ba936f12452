"""Frozen value types shared by every part of orbit_nb.

A run turns :class:`Request` values into :class:`Row` values; a provider turns
one request into one :class:`Completion` carrying a normalised :class:`Usage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["Completion", "ErrorType", "ModelSpec", "Request", "Row", "Status", "Usage"]

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
    "invalid_response",
    "not_found",
    "overloaded",
    "permission",
    "quota_exhausted",
    "rate_limit",
    "redirect",
    "request_too_large",
    "server_error",
    "timeout",
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


@dataclass(frozen=True, slots=True)
class Request:
    """One call to make: a prompt for one model, one repeat."""

    prompt_id: str
    prompt: str
    model: ModelSpec
    repeat: int = 0
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts in one convention for every provider.

    ``input_tokens`` counts every prompt token billed as input, cached ones
    included; ``cached_input_tokens`` is the part read from the provider's
    prompt cache and ``cache_write_tokens`` the part written to it (of which
    ``cache_write_1h_tokens`` went to a one-hour cache). ``output_tokens``
    counts every generated token, reasoning included; ``reasoning_tokens`` is
    that subset. ``None`` means the API does not report the figure at all.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None

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
    response_model: str | None = None


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
