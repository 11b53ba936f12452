"""OpenAI's Chat Completions API through the official SDK's ``AsyncOpenAI``.

Also serves every OpenAI-compatible server registered with
:func:`orbit_nb.register_endpoint` (Ollama, vLLM, LM Studio, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx2
import openai

from ..specs import Target
from ..types import Completion, Request, Usage
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

__all__ = ["OpenAIProvider", "completion_from", "usage_from"]

#: The SDK's aiohttp transport, under the client's ``DefaultAioHttpClient``: a
#: streamed body is read straight from it (see :func:`.sse.sdk_chunks`).
_transport = sse.sdk_transport("openai")

_QUOTA_CODES = frozenset({"insufficient_quota"})


class OpenAIProvider:
    """Adapter for ``openai:<model>`` and registered OpenAI-compatible endpoints."""

    def __init__(self, target: Target, concurrency: int) -> None:
        self.target = target
        # OpenAI's own API wants max_completion_tokens (reasoning models refuse
        # max_tokens); compatible servers mostly know only max_tokens.
        self._max_tokens_field = (
            "max_completion_tokens" if target.endpoint == "openai" else "max_tokens"
        )
        # Service tiers are OpenAI's; a compatible server has none to choose.
        self._tiers = target.endpoint == "openai"
        self._client = openai.AsyncOpenAI(
            api_key=target.api_key or "unused",  # the SDK insists on one
            base_url=target.base_url,
            max_retries=0,  # the engine retries, with the rules it owns
            # The SDK's aiohttp transport: a fraction of the client CPU per call of
            # its default (DESIGN.md, measured facts).
            http_client=openai.DefaultAioHttpClient(
                limits=pool_limits(concurrency),
                follow_redirects=False,  # see base.redirect_failure
            ),
        )

    def _body(self, request: Request) -> dict[str, Any]:
        messages: list[dict[str, str]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        body: dict[str, Any] = {"model": request.model.model, "messages": messages}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body[self._max_tokens_field] = request.max_tokens
        if request.service_tier is not None and self._tiers:
            body["service_tier"] = request.service_tier
        return body

    async def complete(self, request: Request) -> Completion:
        # The client's own post(): its auth, headers, errors and transport, without
        # create()'s parameter transform and response models (about a third of the
        # client CPU per call; bench/results.md). The body is the documented one.
        response = await self._client.post(
            "/chat/completions",
            body=self._body(request),
            cast_to=httpx2.Response,
            options={"security": {"bearer_auth": True}},
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
        """The answer as Chat Completions chunks; usage comes in a last chunk of its
        own (``include_usage``), which compatible servers may leave out (usage NA)."""
        body = self._body(request)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        # post(stream=True) with cast_to=httpx2.Response: the raw, unread response,
        # after the client's own auth, headers and status errors.
        options = stall_options(self._client.timeout, stall_s)
        options["security"] = {"bearer_auth": True}
        response = await self._client.post(
            "/chat/completions", body=body, cast_to=httpx2.Response, options=options, stream=True
        )
        try:
            if response.headers.get("content-type", "").startswith("application/json"):
                return await _whole(response, on_text)  # a server that does not stream
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
        """Input tokens of the request's messages from the free Responses input-token
        count (``POST /responses/input_tokens``): Chat Completions has no count of
        its own, so the same system and user messages are counted as Responses
        input. None on compatible servers, which have no such endpoint."""
        if self.target.endpoint != "openai":
            return None
        messages = self._body(request)["messages"]
        counted = await self._client.responses.input_tokens.count(
            model=request.model.model, input=messages
        )
        return int(counted.input_tokens)

    async def output_limit(self, model: str) -> int | None:
        """None: OpenAI's Models API does not report a model's maximum output."""
        return None

    def classify(self, exc: Exception) -> Failure:
        return classify_sdk_error(exc, openai, self.target.api_key, _QUOTA_CODES)

    async def aclose(self) -> None:
        await self._client.close()


def completion_from(data: Mapping[str, Any], headers: Mapping[str, str]) -> Completion:
    """The first choice of a Chat Completions reply (compatible servers omit some fields)."""
    choices = data.get("choices")
    if not choices:
        raise BadResponse("the answer has no choices")
    choice = choices[0]
    message = choice["message"]
    return Completion(
        content=message.get("content") or message.get("refusal") or "",
        usage=usage_from(data.get("usage")),
        finish_reason=choice.get("finish_reason"),
        request_id=headers.get("x-request-id"),
        response_model=data.get("model"),
        service_tier=data.get("service_tier"),
    )


def usage_from(usage: Mapping[str, Any] | None) -> Usage:
    """Normalise OpenAI usage: prompt_tokens includes cached, completion includes reasoning."""
    if usage is None:
        return Usage()
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cached_input_tokens=prompt.get("cached_tokens"),
        cache_write_tokens=prompt.get("cache_write_tokens"),
        reasoning_tokens=completion.get("reasoning_tokens"),
        input_audio_tokens=prompt.get("audio_tokens"),
        output_audio_tokens=completion.get("audio_tokens"),
    )


async def _whole(response: httpx2.Response, on_text: Callable[[str], None]) -> Completion:
    """The answer of a compatible server that ignored ``"stream": true``: one piece."""
    await response.aread()
    data = json_object(response)
    with shaped("the answer"):
        completion = completion_from(data, response.headers)
    if completion.content:
        on_text(completion.content)
    return completion


class _Answer(sse.Pieces):
    """One streamed Chat Completions answer (the first choice), put together."""

    signal = "[DONE]"

    def event(self, name: bytes, data: bytes) -> None:
        if data == b"[DONE]":
            self.finished = True
            return
        chunk = sse.parse(data)
        if chunk.get("error"):  # the server failed after the stream began
            message = error_message(chunk, "no message")
            raise StreamBroken("server_error", f"the stream carried an error: {message}")
        try:
            self.model = chunk.get("model") or self.model
            self.service_tier = chunk.get("service_tier") or self.service_tier
            self.usage = chunk.get("usage") or self.usage
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) == 0:
                    self._choice(choice)
        except sse.SHAPE_ERRORS as exc:
            raise sse.misshapen("a chunk", exc) from None

    def _choice(self, choice: Mapping[str, Any]) -> None:
        delta = choice.get("delta") or {}
        text = delta.get("content") or delta.get("refusal")
        if text:
            self.text(text)
        self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def completion(self, headers: Mapping[str, str]) -> Completion:
        try:
            usage = usage_from(self.usage)
        except sse.SHAPE_ERRORS as exc:
            raise sse.misshapen("the usage", exc) from None
        return Completion(
            content="".join(self.pieces),
            usage=usage,
            finish_reason=self.finish_reason,
            request_id=headers.get("x-request-id"),
            response_model=self.model,
            service_tier=self.service_tier,
        )
