"""The contract every provider adapter meets, and the shared failure rules.

An adapter translates: a :class:`~orbit_nb.types.Request` into one HTTP call,
the answer into a :class:`~orbit_nb.types.Completion`, and an exception into a
:class:`Failure` saying whether it is worth retrying. The engine, not the
adapter, decides when to retry, how long to wait, and how many calls to run.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..specs import Target
from ..types import Completion, Request

__all__ = [
    "Failure",
    "Provider",
    "classify_sdk_error",
    "error_message",
    "failure_for_status",
    "parse_retry_after",
    "pool_limits",
    "redact",
]


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failed attempt."""

    error_type: str
    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None  # seconds the server asked us to wait


class Provider(Protocol):
    """One adapter instance per (endpoint, base URL, key); lives on the engine loop."""

    target: Target

    async def complete(self, request: Request) -> Completion:
        """Send one request and return its answer; raise on any failure."""
        ...

    def classify(self, exc: Exception) -> Failure:
        """Turn an exception raised by :meth:`complete` into a :class:`Failure`."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client."""
        ...


_STATUS_TYPES = {
    400: "bad_request",
    401: "authentication",
    403: "permission",
    404: "not_found",
    408: "timeout",
    409: "conflict",
    413: "request_too_large",
    422: "unprocessable",
    429: "rate_limit",
    529: "overloaded",
}
_RETRYABLE = frozenset({408, 409, 429, 529})


def failure_for_status(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
    quota_exhausted: bool = False,
) -> Failure:
    """The standard rule: 408/409/429/5xx/529 retry, other 4xx and spent quotas do not."""
    if quota_exhausted:
        return Failure("quota_exhausted", message, False, status)
    error_type = _STATUS_TYPES.get(status) or ("server_error" if status >= 500 else "client_error")
    retryable = status in _RETRYABLE or status >= 500
    if retry_after is None and headers is not None:
        retry_after = parse_retry_after(headers)
    return Failure(error_type, message, retryable, status, retry_after)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


_MASKED = re.compile(r"\S*\*{3,}\S*")


def redact(text: str, secret: str | None) -> str:
    """Remove an API key, and any masked echo of one (``sk-ab***xyz``), from text."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return _MASKED.sub("[redacted]", text)


def error_message(body: Any, fallback: str) -> str:
    """The human message inside a provider's JSON error body, or ``fallback``."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return fallback


def pool_limits(concurrency: int) -> Any:
    """HTTP pool limits that never cap below the engine's concurrency limit."""
    import httpx2

    size = max(1000, concurrency)
    return httpx2.Limits(max_connections=size, max_keepalive_connections=min(size, 1000))


def classify_sdk_error(
    exc: Exception, sdk: Any, secret: str | None, quota_codes: frozenset[str] = frozenset()
) -> Failure:
    """Classify an exception from the anthropic or openai SDK (they share a hierarchy).

    ``quota_codes`` are error codes meaning the account's quota is spent, which
    no retry can fix (OpenAI's ``insufficient_quota``).
    """
    import httpx2

    if isinstance(exc, sdk.APIStatusError):
        body = exc.body
        message = redact(error_message(body, exc.message), secret)
        code = body.get("code") or body.get("type") if isinstance(body, Mapping) else None
        inner = body.get("error") if isinstance(body, Mapping) else None
        if isinstance(inner, Mapping):
            code = inner.get("code") or inner.get("type")
        return failure_for_status(
            exc.status_code,
            f"{exc.status_code} {message}",
            headers=exc.response.headers,
            quota_exhausted=code in quota_codes,
        )
    if isinstance(exc, sdk.APITimeoutError | httpx2.TimeoutException):
        return Failure("timeout", "the request timed out", True)
    if isinstance(exc, sdk.APIConnectionError | httpx2.TransportError):
        cause = exc.__cause__ or exc
        return Failure("connection", redact(f"connection error: {cause!r}", secret), True)
    return Failure("invalid_response", redact(f"{type(exc).__name__}: {exc}", secret), False)
