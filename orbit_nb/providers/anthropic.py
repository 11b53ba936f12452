"""Anthropic's Messages API through the official SDK's ``AsyncAnthropic``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anthropic
import httpx2

from ..specs import Target
from ..types import Completion, ErrorType, Request, Usage
from . import sse
from .base import (
    BadResponse,
    Failure,
    StreamBroken,
    classify_sdk_error,
    error_message,
    json_object,
    pool_limits,
    require_event_stream,
    shaped,
    stall_options,
)
from .facts import facts_of_kind

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicProvider", "completion_from", "usage_from"]

#: The SDK's aiohttp transport, under the client's ``DefaultAioHttpClient``: a
#: streamed body is read straight from it (see :func:`.sse.sdk_chunks`).
_transport = sse.sdk_transport("anthropic")

#: The Messages API requires max_tokens; this is sent when the user gives none.
DEFAULT_MAX_TOKENS: int = facts_of_kind("anthropic").default_max_tokens or 1024


class AnthropicProvider:
    """Adapter for ``anthropic:<model>`` specs."""

    def __init__(self, target: Target, concurrency: int) -> None:
        self.target = target
        self._client = anthropic.AsyncAnthropic(
            api_key=target.api_key,
            base_url=target.base_url,
            max_retries=0,  # the engine retries, with the rules it owns
            # The SDK's aiohttp transport: a fraction of the client CPU per call of
            # its default (DESIGN.md, measured facts).
            http_client=anthropic.DefaultAioHttpClient(
                limits=pool_limits(concurrency),
                follow_redirects=False,  # see base.redirect_failure
            ),
        )

    def _body(self, request: Request) -> dict[str, Any]:
        body = _prompt(request)
        body["max_tokens"] = request.max_tokens or DEFAULT_MAX_TOKENS
        if request.temperature is not None:
            # The API takes temperature on the models that support it (newer ones
            # answer 400); anthropic>=1 dropped it from create()'s arguments.
            body["temperature"] = request.temperature
        tier = _TIERS.get(request.service_tier or "")
        if tier is not None:
            body["service_tier"] = tier
        return body

    async def complete(self, request: Request) -> Completion:
        # The client's own post(): its auth, headers, errors and transport, without
        # the response models (bench/results.md). The body is the documented one.
        response = await self._client.post(
            "/v1/messages", body=self._body(request), cast_to=httpx2.Response
        )
        data = json_object(response)
        with shaped("the answer"):
            return completion_from(data, response.headers)

    async def stream(
        self,
        request: Request,
        on_text: Callable[[str], None],
        *,
        stall_s: float | None = None,
    ) -> Completion:
        """The answer as Messages API events; usage from ``message_start``, updated
        by ``message_delta`` (whose counts are cumulative)."""
        body = self._body(request)
        body["stream"] = True
        # post(stream=True) with cast_to=httpx2.Response: the raw, unread response,
        # after the client's own auth, headers and status errors.
        response = await self._client.post(
            "/v1/messages",
            body=body,
            cast_to=httpx2.Response,
            options=stall_options(self._client.timeout, stall_s),
            stream=True,
        )
        try:
            require_event_stream(response.status_code, response.headers)
            answer = _Answer(on_text)
            next_chunk, translate = sse.sdk_chunks(response, _transport, stall_s)
            await sse.read(
                next_chunk,
                answer,
                stall_s=stall_s,
                read_errors=(httpx2.TransportError, httpx2.StreamError),
                read_timeouts=(httpx2.ReadTimeout,),
                translate=translate,
            )
            return answer.completion(response.headers)
        finally:
            await response.aclose()

    async def count_tokens(self, request: Request) -> int | None:
        """Input tokens of ``request`` from the free ``messages/count_tokens`` endpoint."""
        counted = await self._client.messages.count_tokens(**_prompt(request))
        return int(counted.input_tokens)

    async def output_limit(self, model: str) -> int | None:
        """``max_tokens`` of ``model``'s entry in the Models API (``GET /v1/models/{id}``)."""
        info = await self._client.models.retrieve(model)
        limit = info.max_tokens
        return limit if isinstance(limit, int) and limit > 0 else None

    def classify(self, exc: Exception) -> Failure:
        return classify_sdk_error(exc, anthropic, self.target.api_key)

    async def aclose(self) -> None:
        await self._client.close()


def _prompt(request: Request) -> dict[str, Any]:
    """The model, messages and system prompt, as both create() and count_tokens() take them."""
    kwargs: dict[str, Any] = {
        "model": request.model.model,
        "messages": [{"role": "user", "content": request.prompt}],
    }
    if request.system is not None:
        kwargs["system"] = request.system
    return kwargs


#: What orbit's service tiers ask of the Messages API: priority capacity where the
#: account has it, or standard only. Anthropic has no flex tier; it sends nothing.
_TIERS = {"priority": "auto", "default": "standard_only"}


def completion_from(data: Mapping[str, Any], headers: Mapping[str, str]) -> Completion:
    """The answer in a Messages API reply; thinking blocks are left out."""
    blocks = data.get("content")
    if blocks is None:
        raise BadResponse("the answer has no content")
    usage = data.get("usage")
    return Completion(
        content="".join(block["text"] for block in blocks if block.get("type") == "text"),
        usage=usage_from(usage),
        finish_reason=data.get("stop_reason"),
        request_id=headers.get("request-id"),
        response_model=data.get("model"),
        **billing(usage),
    )


def billing(usage: Mapping[str, Any] | None) -> dict[str, str | None]:
    """What the usage says about how the call is billed: the service tier that
    served it, the inference geography and the speed mode."""
    usage = usage or {}
    return {
        "service_tier": usage.get("service_tier"),
        "inference_geo": usage.get("inference_geo"),
        "speed": usage.get("speed"),
    }


def usage_from(usage: Mapping[str, Any] | None) -> Usage:
    """Normalise Anthropic usage: its ``input_tokens`` excludes cache reads and writes.

    A reply without usage keeps its answer; its counts are unknown (NA).
    """
    if usage is None:
        return Usage()
    read = usage.get("cache_read_input_tokens")
    write = usage.get("cache_creation_input_tokens")
    by_ttl = usage.get("cache_creation") or {}
    details = usage.get("output_tokens_details") or {}
    return Usage(
        input_tokens=usage["input_tokens"] + (read or 0) + (write or 0),
        output_tokens=usage.get("output_tokens"),
        cached_input_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=by_ttl.get("ephemeral_1h_input_tokens"),
        reasoning_tokens=details.get("thinking_tokens"),
    )


#: Error types an ``error`` event can carry, as error_type and whether a retry may help.
_STREAM_ERRORS: dict[str, tuple[ErrorType, bool]] = {
    "overloaded_error": ("overloaded", True),
    "rate_limit_error": ("rate_limit", True),
    "api_error": ("server_error", True),
    "timeout_error": ("timeout", True),
    "invalid_request_error": ("bad_request", False),
    "request_too_large": ("request_too_large", False),
}


class _Answer(sse.Pieces):
    """One streamed Messages API answer, put together; thinking is left out."""

    signal = "message_stop"

    def event(self, name: bytes, data: bytes) -> None:
        event = sse.parse(data)
        try:
            kind = event["type"]
            if kind == "content_block_delta":
                self._delta(event["delta"])
            elif kind == "content_block_start":
                self._delta(event["content_block"])
            elif kind == "message_start":
                message = event["message"]
                self.model = message.get("model")
                self.usage = dict(message.get("usage") or {}) or None
            elif kind == "message_delta":
                self.finish_reason = event["delta"].get("stop_reason") or self.finish_reason
                self._add_usage(event.get("usage"))
            elif kind == "message_stop":
                self.finished = True
        except sse.SHAPE_ERRORS as exc:
            what = f"a {name.decode(errors='replace') or 'nameless'} event"
            raise sse.misshapen(what, exc) from None
        if kind == "error":
            raise _stream_error(event.get("error"))

    def _delta(self, delta: Mapping[str, Any]) -> None:
        """Text of a text block's start (usually empty) or of a text delta."""
        if delta["type"] in ("text_delta", "text"):
            self.text(delta["text"])

    def _add_usage(self, usage: Mapping[str, Any] | None) -> None:
        """message_delta's counts are the totals so far; a count it leaves out or
        sends as null keeps message_start's."""
        if usage:
            merged = dict(self.usage or {})
            merged.update((k, v) for k, v in usage.items() if v is not None)
            self.usage = merged

    def completion(self, headers: Mapping[str, str]) -> Completion:
        try:
            usage = usage_from(self.usage)
        except sse.SHAPE_ERRORS as exc:
            raise sse.misshapen("the usage", exc) from None
        return Completion(
            content="".join(self.pieces),
            usage=usage,
            finish_reason=self.finish_reason,
            request_id=headers.get("request-id"),
            response_model=self.model,
            **billing(self.usage),
        )


def _stream_error(error: Any) -> StreamBroken:
    """An ``error`` event: the API failed after the stream began (e.g. overloaded)."""
    kind = error.get("type") if isinstance(error, Mapping) else None
    error_type, retryable = _STREAM_ERRORS.get(str(kind), ("server_error", True))
    message = error_message({"error": error}, str(kind))
    return StreamBroken(error_type, f"the stream carried an error: {kind}: {message}", retryable)
