"""Gemini's REST ``generateContent`` over an httpx2 async client.

The API key travels in the ``x-goog-api-key`` header, never in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx2

from ..specs import Target
from ..types import Completion, Request, Usage
from .base import (
    BadResponse,
    Failure,
    connection_failure,
    error_message,
    failure_for_status,
    json_object,
    pool_limits,
    redact,
    redirect_failure,
    shaped,
)

__all__ = ["GeminiProvider", "GeminiStatusError", "usage_from"]


class GeminiStatusError(Exception):
    """An HTTP error answer from the Gemini API."""

    def __init__(self, status: int, headers: Mapping[str, str], body: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body


class GeminiProvider:
    """Adapter for ``gemini:<model>`` specs."""

    def __init__(self, target: Target, concurrency: int) -> None:
        self.target = target
        self._headers = {"x-goog-api-key": target.api_key or ""}
        self._client = httpx2.AsyncClient(
            limits=pool_limits(concurrency),
            # The engine enforces the per-call deadline; pool waits are bounded
            # by its semaphore, so they must not time out on their own.
            timeout=httpx2.Timeout(600.0, connect=10.0, pool=None),
            follow_redirects=False,  # as the SDK adapters; see base.redirect_failure
        )

    def _url(self, model: str, method: str = "generateContent") -> str:
        return f"{self.target.base_url}/v1beta/models/{quote(model, safe='')}:{method}"

    async def _post(self, url: str, payload: dict[str, Any]) -> httpx2.Response:
        response = await self._client.post(url, json=payload, headers=self._headers)
        if response.status_code >= 300:
            raise GeminiStatusError(response.status_code, response.headers, _json(response))
        return response

    async def complete(self, request: Request) -> Completion:
        payload = _contents(request)
        config: dict[str, Any] = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if config:
            payload["generationConfig"] = config
        response = await self._post(self._url(request.model.model), payload)
        data = json_object(response)
        with shaped("the answer"):
            return completion_from(data, response.headers)

    async def count_tokens(self, request: Request) -> int | None:
        """Input tokens of ``request`` from the free ``countTokens`` endpoint."""
        model = request.model.model
        payload = {"generateContentRequest": {"model": f"models/{model}", **_contents(request)}}
        response = await self._post(self._url(model, "countTokens"), payload)
        return int(json_object(response)["totalTokens"])

    def classify(self, exc: Exception) -> Failure:
        key = self.target.api_key
        if isinstance(exc, BadResponse):
            return Failure("bad_response", redact(str(exc), key), False)
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
        if isinstance(exc, httpx2.TimeoutException):
            return Failure("timeout", "the request timed out", True)
        if isinstance(exc, httpx2.TransportError):
            return connection_failure(exc, key)
        return Failure("invalid_response", redact(f"{type(exc).__name__}: {exc}", key), False)

    async def aclose(self) -> None:
        await self._client.aclose()


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
    )


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


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
