"""The contract every provider adapter meets, and the shared failure rules.

An adapter translates: a :class:`~orbit_nb.types.Request` into one HTTP call,
the answer into a :class:`~orbit_nb.types.Completion`, and an exception into a
:class:`Failure` saying whether it is worth retrying. The engine, not the
adapter, decides when to retry, how long to wait, and how many calls to run.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from ..specs import Target
from ..types import Completion, ErrorType, Request

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "BadResponse",
    "Failure",
    "Provider",
    "StreamBroken",
    "classify_sdk_error",
    "connection_failure",
    "error_message",
    "failure_for_status",
    "json_body",
    "json_object",
    "parse_retry_after",
    "pool_limits",
    "pool_size",
    "redact",
    "redirect_failure",
    "require_event_stream",
    "require_json",
    "shaped",
    "stall_options",
    "stream_failure",
]


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failed attempt."""

    error_type: ErrorType
    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None  # seconds the server asked us to wait


class BadResponse(Exception):
    """A success status whose body is not an answer: not JSON, or JSON without content.

    Not retried: the server did answer, maybe billed the call, and a proxy or
    misconfigured base URL that sent it would send the same again.
    """


class StreamBroken(Exception):
    """A streamed answer that did not arrive whole: ``truncated`` (it ended without
    the provider's finish signal), ``disconnected`` (the connection dropped),
    ``stalled`` (nothing arrived for too long) or ``malformed`` (a chunk that is
    not what the API sends). Never a short answer. Retried like a dropped
    connection, unless part of the answer was shown already (the engine decides).
    """

    def __init__(self, error_type: ErrorType, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.error_type: ErrorType = error_type
        self.retryable = retryable


class Provider(Protocol):
    """One adapter instance per (endpoint, base URL, key); lives on the engine loop."""

    target: Target

    async def complete(self, request: Request) -> Completion:
        """Send one request and return its answer; raise on any failure."""
        ...

    async def stream(
        self,
        request: Request,
        on_text: Callable[[str], None],
        *,
        stall_s: float | None = None,
    ) -> Completion:
        """Send one request as a stream and return its whole answer, calling
        ``on_text(piece)`` with each piece of text as it arrives (on the engine
        loop; it must return at once).

        The Completion, usage included, is the one :meth:`complete` would give.
        A stream that breaks raises :class:`StreamBroken`, whatever text came
        before; so does one that goes ``stall_s`` seconds without a byte (None:
        the HTTP client's own read timeout). Other failures raise as in
        :meth:`complete`.
        """
        ...

    async def count_tokens(self, request: Request) -> int | None:
        """The input tokens of ``request`` from the API's free count endpoint, or
        None where it has none (see :mod:`orbit_nb.providers.facts`)."""
        ...

    async def output_limit(self, model: str) -> int | None:
        """The most output tokens ``model`` may give in one answer, as the API's
        model endpoint reports it, or None where it reports none."""
        ...

    def classify(self, exc: Exception) -> Failure:
        """Turn an exception raised by :meth:`complete` or :meth:`stream` into a
        :class:`Failure`."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client."""
        ...


_STATUS_TYPES: dict[int, ErrorType] = {
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
#: The shortest run of a key's characters that is redacted on its own: long
#: enough not to match ordinary words, short enough to catch a quoted prefix
#: or suffix of a key.
_PART = 8


def redact(text: str, secret: str | None) -> str:
    """Remove an API key from text: whole, escaped, or any run of 8+ of its characters.

    Also removes a masked echo of a key (``sk-ab***xyz``).
    """
    if secret:
        text = _cut(text, _needles(secret))
    return _MASKED.sub("[redacted]", text)


def _forms(secret: str) -> set[str]:
    """The key as error texts quote it: as is, repr() of str or bytes, JSON, URL-encoded."""
    forms = {secret, secret.strip(), json.dumps(secret)[1:-1], quote(secret, safe="")}
    return forms | {repr(secret)[1:-1], repr(secret.encode())[2:-1]}


def _needles(secret: str) -> set[str]:
    needles = _forms(secret)
    for form in list(needles):
        needles.update(form[i : i + _PART] for i in range(len(form) - _PART + 1))
    return {n for n in needles if n}


def _cut(text: str, needles: Iterable[str]) -> str:
    """``text`` with every stretch covered by some needle replaced by one marker."""
    covered = bytearray(len(text))
    for needle in needles:
        at = text.find(needle)
        while at != -1:
            covered[at : at + len(needle)] = b"\x01" * len(needle)
            at = text.find(needle, at + 1)
    pieces, start = [], 0
    for span in re.finditer(rb"\x01+", covered):
        pieces += [text[start : span.start()], "[redacted]"]
        start = span.end()
    return "".join([*pieces, text[start:]])


def error_message(body: Any, fallback: str) -> str:
    """The human message inside a provider's JSON error body, or ``fallback``."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return fallback


def pool_size(concurrency: int) -> int:
    """Connections an HTTP pool may open: never fewer than the engine lets run at once."""
    return max(1000, concurrency)


def pool_limits(concurrency: int) -> Any:
    """HTTP pool limits that never cap below the engine's concurrency limit."""
    import httpx2

    size = pool_size(concurrency)
    return httpx2.Limits(max_connections=size, max_keepalive_connections=min(size, 1000))


def redirect_failure(status: int, headers: Mapping[str, str], secret: str | None) -> Failure:
    """A 3xx answer. Redirects are never followed, by any adapter: httpx drops only
    ``Authorization`` when a redirect leaves the origin (Gemini's key header would
    go along), and a POST turned into a GET by 301/302/303 cannot work anyway."""
    location = redact(headers.get("location") or "an address it did not give", secret)
    return Failure(
        "redirect",
        f"the server answered {status}, a redirect to {location}; redirects are not "
        "followed: point the base URL at the final address",
        False,
        status,
    )


def _content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def require_json(response: httpx2.Response) -> None:
    """Raise :class:`BadResponse` unless a success answer says its body is JSON."""
    _require_json(response.status_code, response.headers)


def _require_json(status: int, headers: Mapping[str, str]) -> None:
    kind = _content_type(headers)
    if not kind.endswith("json"):
        raise BadResponse(
            f"the server answered {status} with {kind or 'no content type'}, "
            "not JSON (a proxy or captive portal?)"
        )


def require_event_stream(status: int, headers: Mapping[str, str]) -> None:
    """Raise :class:`BadResponse` unless a success answer says it is an event stream."""
    kind = _content_type(headers)
    if kind != "text/event-stream":
        raise BadResponse(
            f"the server answered {status} with {kind or 'no content type'}, "
            "not an event stream (a proxy or captive portal?)"
        )


def stall_options(timeout: Any, stall_s: float | None) -> Any:
    """Request options for an SDK client's stream: its timeouts, with ``stall_s``
    as the read timeout (the most a stream may go without a byte), if given."""
    import httpx2

    if stall_s is None:
        return {}
    base = timeout if isinstance(timeout, httpx2.Timeout) else httpx2.Timeout(timeout)
    return {
        "timeout": httpx2.Timeout(
            connect=base.connect, read=stall_s, write=base.write, pool=base.pool
        )
    }


def stream_failure(exc: StreamBroken, secret: str | None) -> Failure:
    """The failure of a broken stream (its message may quote what the server sent)."""
    return Failure(exc.error_type, redact(str(exc), secret), exc.retryable)


def _invalid_json(status: int) -> BadResponse:
    return BadResponse(f"the server answered {status} with a body that is not valid JSON")


def _not_an_object(status: int) -> BadResponse:
    return BadResponse(f"the server answered {status} with JSON that is not an object")


def json_object(response: httpx2.Response) -> dict[str, Any]:
    """The JSON object of a success answer, or :class:`BadResponse` saying what came."""
    require_json(response)
    try:
        data = response.json()
    except ValueError:
        raise _invalid_json(response.status_code) from None
    if not isinstance(data, dict):
        raise _not_an_object(response.status_code)
    return data


def json_body(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """:func:`json_object` for an answer read as its status, headers and body bytes
    (the Gemini adapter's aiohttp session), with the same checks and messages."""
    _require_json(status, headers)
    try:
        data = json.loads(body)
    except ValueError:
        raise _invalid_json(status) from None
    if not isinstance(data, dict):
        raise _not_an_object(status)
    return data


@contextmanager
def shaped(what: str) -> Iterator[None]:
    """Reading an answer whose shape is not the documented one is a bad response,
    not an internal error (the SDKs build their models without validating)."""
    try:
        yield
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise BadResponse(
            f"{what} does not have the documented shape ({type(exc).__name__}: {exc})"
        ) from None


def classify_sdk_error(
    exc: Exception, sdk: Any, secret: str | None, quota_codes: frozenset[str] = frozenset()
) -> Failure:
    """Classify an exception from the anthropic or openai SDK (they share a hierarchy).

    ``quota_codes`` are error codes meaning the account's quota is spent, which
    no retry can fix (OpenAI's ``insufficient_quota``).
    """
    import httpx2

    if isinstance(exc, BadResponse):
        return Failure("bad_response", redact(str(exc), secret), False)
    if isinstance(exc, StreamBroken):
        return stream_failure(exc, secret)
    if isinstance(exc, sdk.APIStatusError) and 300 <= exc.status_code < 400:
        return redirect_failure(exc.status_code, exc.response.headers, secret)
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
        return connection_failure(exc.__cause__ or exc, secret)
    return Failure("invalid_response", redact(f"{type(exc).__name__}: {exc}", secret), False)


def connection_failure(cause: BaseException, secret: str | None) -> Failure:
    """A transport failure; retried, unless the HTTP client refused to send the
    request at all (an illegal header), which it would do again: httpx2 raises
    ``LocalProtocolError`` for that, aiohttp a ``ValueError`` (no network
    trouble is a ValueError)."""
    import httpx2

    if isinstance(cause, httpx2.LocalProtocolError | ValueError):
        message = redact(f"the HTTP client refused to send the request: {cause!r}", secret)
        return Failure("bad_request", message, False)
    return Failure("connection", redact(f"connection error: {cause!r}", secret), True)
