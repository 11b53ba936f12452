"""Gemini's REST ``generateContent`` over bare aiohttp.

Bare aiohttp costs the least client CPU per call of the HTTP clients measured
here (DESIGN.md, "HTTP and CPU facts"). The adapter is built in a worker thread,
and an :class:`aiohttp.ClientSession` belongs to the loop it is made on, so the
session is made on first use, on the engine loop; what needs disk or the
environment (the TLS trust store, the proxy) is read when the adapter is built.

It behaves as the httpx2 client it replaced: TLS verified against the same trust
store as the SDK adapters, proxies from ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``ALL_PROXY`` unless ``NO_PROXY`` covers the host, no redirect followed (see
:func:`~.base.redirect_failure`), a pool never smaller than the engine's limit,
and no deadline of its own beyond 10 s to connect and 600 s between reads: the
engine enforces each call's deadline.

The API key travels in the ``x-goog-api-key`` header, never in the URL.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import re
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx2
from aiohttp.http_exceptions import ContentEncodingError
from yarl import URL

from ..specs import Target
from ..types import Completion, Request, Usage
from . import sse
from .base import (
    BadResponse,
    Failure,
    StreamBroken,
    error_message,
    failure_for_status,
    json_body,
    pool_size,
    redact,
    redirect_failure,
    require_event_stream,
    shaped,
    stream_failure,
)

__all__ = ["GeminiProvider", "GeminiStatusError", "completion_from", "usage_from"]

#: No total: the engine enforces the per-call deadline, and waits for a pooled
#: connection are bounded by its limit, so they must not time out on their own.
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=600.0)
#: Seconds an idle pooled connection is kept (httpx's default, which this replaced).
_KEEPALIVE = 5.0
#: A header value HTTP/1.1 can carry (as h11 checks it for httpx): printable
#: ASCII, with spaces or tabs only between visible characters.
_HEADER_VALUE = re.compile(r"(?:[!-~]+(?:[ \t]+[!-~]+)*)?")
#: What a failed connection raises: aiohttp's connection and payload errors, a
#: malformed answer or a refusing proxy (ClientResponseError: this session never
#: raises it for a status), raw socket errors, and a base URL without an HTTP
#: scheme or a host (retried, as httpx's UnsupportedProtocol was).
_TRANSPORT_ERRORS = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientResponseError,
    aiohttp.InvalidURL,
    aiohttp.NonHttpUrlClientError,
    OSError,
)


def _stream_timeout(stall_s: float) -> aiohttp.ClientTimeout:
    """The session's timeouts, with ``stall_s`` as the most a stream may go without a byte."""
    return aiohttp.ClientTimeout(total=None, sock_connect=_TIMEOUT.sock_connect, sock_read=stall_s)


class GeminiStatusError(Exception):
    """An HTTP error answer from the Gemini API."""

    def __init__(self, status: int, headers: Mapping[str, str], body: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body


class _RefusedHeader(Exception):
    """The key cannot travel in a header: sending is refused, as it would be again."""


class GeminiProvider:
    """Adapter for ``gemini:<model>`` specs."""

    def __init__(self, target: Target, concurrency: int) -> None:
        self.target = target
        key = target.api_key or ""
        self._headers = {"x-goog-api-key": key, "content-type": "application/json"}
        self._key_ok = _HEADER_VALUE.fullmatch(key) is not None
        self._limit = pool_size(concurrency)
        # Read here, in the worker thread that builds the adapter: loading the trust
        # store reads files, which the engine loop must not do.
        self._ssl = httpx2.create_ssl_context()
        self._proxy, self._proxy_auth = _env_proxy(target.base_url)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._urls: dict[tuple[str, str], URL] = {}

    def _client(self) -> aiohttp.ClientSession:
        """The session, made on first use on the running (engine) loop."""
        session = self._session
        if session is None:
            if self._closed:
                raise RuntimeError("the Gemini client has been closed")
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._limit, keepalive_timeout=_KEEPALIVE, ssl=self._ssl
                ),
                timeout=_TIMEOUT,
                # The proxy was read from the environment once, when the adapter was
                # built (as httpx does); trust_env would read it and ~/.netrc on every
                # request, in worker threads, and send netrc logins to the API host.
                trust_env=False,
            )
        return session

    def _url(self, model: str, method: str = "generateContent") -> URL:
        url = self._urls.get((model, method))
        if url is None:
            base = URL(self.target.base_url)  # normalised (quoted) once, as httpx does
            # Already quoted: the model is one path segment, its ':' and '/' kept escaped.
            raw = f"{base}/v1beta/models/{quote(model, safe='')}:{method}"
            url = self._urls[model, method] = URL(raw, encoded=True)
        return url

    def _request(self, url: URL, payload: dict[str, Any], **options: Any) -> Any:
        """The POST of ``payload``, to be entered with ``async with``."""
        if not self._key_ok:
            raise _RefusedHeader("an illegal character in the x-goog-api-key header")
        # As httpx encodes JSON: compact, UTF-8, and NaN or infinity refused.
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return self._client().post(
            url,
            data=data.encode(),
            headers=self._headers,
            allow_redirects=False,  # see base.redirect_failure
            proxy=self._proxy,
            proxy_auth=self._proxy_auth,
            **options,
        )

    async def _post(
        self, url: URL, payload: dict[str, Any]
    ) -> tuple[int, Mapping[str, str], bytes]:
        async with self._request(url, payload) as response:
            body = await response.read()  # inside: the connection goes back to the pool
        if response.status >= 300:
            raise _status_error(response, body)
        return response.status, response.headers, body

    async def complete(self, request: Request) -> Completion:
        status, headers, body = await self._post(self._url(request.model.model), _payload(request))
        data = json_body(status, headers, body)
        with shaped("the answer"):
            return completion_from(data, headers)

    async def stream(
        self,
        request: Request,
        on_text: Callable[[str], None],
        *,
        stall_s: float | None = None,
    ) -> Completion:
        """The answer as ``streamGenerateContent`` SSE chunks; only the last chunk's
        usage is complete."""
        url = self._url(request.model.model, "streamGenerateContent?alt=sse")
        options = {} if stall_s is None else {"timeout": _stream_timeout(stall_s)}
        async with self._request(url, _payload(request), **options) as response:
            if response.status >= 300:
                raise _status_error(response, await response.read())
            require_event_stream(response.status, response.headers)
            answer = _Answer(on_text)
            await sse.read(
                sse.aiohttp_chunks(response, stall_s),
                answer,
                stall_s=stall_s,
                read_errors=_TRANSPORT_ERRORS,
            )
            return answer.completion(response.headers)

    async def count_tokens(self, request: Request) -> int | None:
        """Input tokens of ``request`` from the free ``countTokens`` endpoint."""
        model = request.model.model
        payload = {"generateContentRequest": {"model": f"models/{model}", **_contents(request)}}
        status, headers, body = await self._post(self._url(model, "countTokens"), payload)
        return int(json_body(status, headers, body)["totalTokens"])

    async def output_limit(self, model: str) -> int | None:
        """``outputTokenLimit`` of ``model`` from ``models.get`` (``GET /v1beta/models/...``)."""
        if not self._key_ok:
            raise _RefusedHeader("an illegal character in the x-goog-api-key header")
        # Already quoted, as in _url: the model is one path segment.
        base = URL(self.target.base_url)
        url = URL(f"{base}/v1beta/models/{quote(model, safe='')}", encoded=True)
        async with self._client().get(
            url,
            headers=self._headers,
            allow_redirects=False,  # see base.redirect_failure
            proxy=self._proxy,
            proxy_auth=self._proxy_auth,
        ) as response:
            body = await response.read()
        if response.status >= 300:
            raise _status_error(response, body)
        limit = json_body(response.status, response.headers, body).get("outputTokenLimit")
        return limit if isinstance(limit, int) and limit > 0 else None

    def classify(self, exc: Exception) -> Failure:
        key = self.target.api_key
        if isinstance(exc, BadResponse):
            return Failure("bad_response", redact(str(exc), key), False)
        if isinstance(exc, StreamBroken):
            return stream_failure(exc, key)
        if isinstance(exc, GeminiStatusError) and 300 <= exc.status < 400:
            return redirect_failure(exc.status, exc.headers, key)
        if isinstance(exc, GeminiStatusError):
            message = redact(error_message(exc.body, f"HTTP {exc.status}"), key)
            return failure_for_status(
                exc.status,
                f"{exc.status} {message}",
                headers=exc.headers,
                retry_after=_retry_delay(exc.body),
                quota_exhausted=exc.status == 429 and _per_day_quota(exc.body),
            )
        if isinstance(exc, _RefusedHeader):
            message = f"the HTTP client refused to send the request: {exc}"
            return Failure("bad_request", redact(message, key), False)
        # Before the transport errors: aiohttp's read and connect timeouts are both.
        if isinstance(exc, asyncio.TimeoutError):
            return Failure("timeout", "the request timed out", True)
        # A body that does not decode (bad gzip) is not retried, as httpx's DecodingError.
        if isinstance(exc, _TRANSPORT_ERRORS) and not _undecodable(exc):
            return Failure("connection", redact(f"connection error: {_describe(exc)}", key), True)
        return Failure("invalid_response", redact(f"{type(exc).__name__}: {exc}", key), False)

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _env_proxy(base_url: str) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The proxy for ``base_url`` from the environment, and its login if its URL has one.

    Read as httpx reads it when a client is built: the scheme's proxy, else
    ``ALL_PROXY``; none where ``NO_PROXY`` (or the system settings) exempt the host.
    """
    try:
        url = URL(base_url)
    except ValueError:
        return None, None  # the request reports the bad URL
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or (url.host and urllib.request.proxy_bypass(url.host)):
        return None, None
    proxy_url = URL(proxy if "://" in proxy else f"http://{proxy}")
    return str(proxy_url.with_user(None)), aiohttp.BasicAuth.from_url(proxy_url)


def _undecodable(exc: Exception) -> bool:
    return isinstance(exc, aiohttp.ClientPayloadError) and isinstance(
        exc.__cause__, ContentEncodingError
    )


def _describe(exc: Exception) -> str:
    """A transport error for a message, as ``Name('what happened')``. Not a
    ClientResponseError's repr: that holds the request's headers, so the key."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}({exc.status}, {exc.message!r})"
    return f"{type(exc).__name__}({str(exc)!r})"


def _payload(request: Request) -> dict[str, Any]:
    """A generateContent request body (streamed or not)."""
    payload = _contents(request)
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if config:
        payload["generationConfig"] = config
    if request.service_tier in ("flex", "priority"):
        payload["serviceTier"] = request.service_tier
    return payload


def _contents(request: Request) -> dict[str, Any]:
    payload: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": request.prompt}]}]}
    if request.system is not None:
        payload["systemInstruction"] = {"parts": [{"text": request.system}]}
    return payload


def completion_from(data: Mapping[str, Any], headers: Mapping[str, str]) -> Completion:
    """Build a Completion from a generateContent answer.

    No candidates is an answer only when the prompt was blocked (``promptFeedback``
    says why); otherwise it is a :class:`BadResponse`.
    """
    candidates = data.get("candidates") or []
    first = candidates[0] if candidates else {}
    parts = (first.get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
    finish = first.get("finishReason")
    if not candidates:
        feedback = data.get("promptFeedback") or {}
        if not feedback.get("blockReason"):
            raise BadResponse("the answer has no candidates")
        finish = f"blocked:{feedback['blockReason']}"
    return Completion(
        content=text,
        usage=usage_from(data.get("usageMetadata")),
        finish_reason=finish,
        request_id=data.get("responseId") or headers.get("x-request-id"),
        response_model=data.get("modelVersion"),
    )


def usage_from(meta: Mapping[str, Any] | None) -> Usage:
    """Normalise Gemini usage: candidatesTokenCount excludes thoughtsTokenCount.

    The API omits zero counts (proto3 JSON), so an absent count is 0; it never
    reports cache writes, which stay unknown.
    """
    if not meta:
        return Usage()
    thoughts = meta.get("thoughtsTokenCount", 0)
    return Usage(
        input_tokens=meta.get("promptTokenCount", 0),
        output_tokens=meta.get("candidatesTokenCount", 0) + thoughts,
        cached_input_tokens=meta.get("cachedContentTokenCount", 0),
        reasoning_tokens=thoughts,
        input_audio_tokens=_modality(meta.get("promptTokensDetails"), "AUDIO"),
        output_audio_tokens=_modality(meta.get("candidatesTokensDetails"), "AUDIO"),
    )


def _modality(details: Any, modality: str) -> int | None:
    """The tokens of one modality in a per-modality count list (None: not reported)."""
    if not details:
        return None
    return int(sum(d.get("tokenCount", 0) for d in details if d.get("modality") == modality))


class _Answer(sse.Pieces):
    """One streamed generateContent answer (the first candidate), put together.

    Each chunk is a GenerateContentResponse with the next parts; the finish
    signal is a ``finishReason`` (or, for a blocked prompt, ``promptFeedback``),
    and the usage of the last chunk that has one is the call's.
    """

    signal = "finishReason"

    def __init__(self, on_text: Callable[[str], None]) -> None:
        super().__init__(on_text)
        self.response_id: str | None = None

    def event(self, name: bytes, data: bytes) -> None:
        chunk = sse.parse(data)
        try:
            self.usage = chunk.get("usageMetadata") or self.usage
            self.model = chunk.get("modelVersion") or self.model
            self.response_id = chunk.get("responseId") or self.response_id
            candidates = chunk.get("candidates")
            if candidates:
                self._candidate(candidates[0])
            elif (chunk.get("promptFeedback") or {}).get("blockReason"):
                self.finish_reason = f"blocked:{chunk['promptFeedback']['blockReason']}"
                self.finished = True
        except sse.SHAPE_ERRORS as exc:
            raise sse.misshapen("a chunk", exc) from None

    def _candidate(self, candidate: Mapping[str, Any]) -> None:
        for part in (candidate.get("content") or {}).get("parts") or ():
            text = part.get("text")
            if text and not part.get("thought"):
                self.text(text)
        if candidate.get("finishReason"):
            self.finish_reason = candidate["finishReason"]
            self.finished = True

    def completion(self, headers: Mapping[str, str]) -> Completion:
        return Completion(
            content="".join(self.pieces),
            usage=usage_from(self.usage),
            finish_reason=self.finish_reason,
            request_id=self.response_id or headers.get("x-request-id"),
            response_model=self.model,
        )


def _status_error(response: aiohttp.ClientResponse, body: bytes) -> GeminiStatusError:
    return GeminiStatusError(response.status, response.headers, _error_body(body, response.charset))


def _error_body(body: bytes, charset: str | None) -> Any:
    """An error answer's JSON, else the start of its text (decoded as httpx does:
    the declared charset if Python knows it, else UTF-8, bad bytes replaced)."""
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        encoding = codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        encoding = "utf-8"
    return body.decode(encoding, errors="replace")[:500]


def _details(body: Any) -> list[Mapping[str, Any]]:
    error = body.get("error") if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def _retry_delay(body: Any) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail, e.g. ``"retryDelay": "1.5s"``."""
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = str(detail.get("retryDelay", "")).removesuffix("s")
            try:
                return max(float(delay), 0.0)
            except ValueError:
                return None
    return None


def _per_day_quota(body: Any) -> bool:
    """Whether a 429 is a spent daily quota (QuotaFailure with a per-day quota id)."""
    for detail in _details(body):
        for violation in detail.get("violations") or []:
            if isinstance(violation, Mapping) and "PerDay" in str(violation.get("quotaId", "")):
                return True
    return False
