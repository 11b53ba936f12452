"""Anthropic's Messages API through the official SDK's ``AsyncAnthropic``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anthropic
import httpx2

from ..specs import Target
from ..types import Completion, Request, Usage
from .base import BadResponse, Failure, classify_sdk_error, json_object, pool_limits, shaped
from .facts import facts_of_kind

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicProvider", "completion_from", "usage_from"]

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

    async def complete(self, request: Request) -> Completion:
        body = _prompt(request)
        body["max_tokens"] = request.max_tokens or DEFAULT_MAX_TOKENS
        if request.temperature is not None:
            # The API takes temperature on the models that support it (newer ones
            # answer 400); anthropic>=1 dropped it from create()'s arguments.
            body["temperature"] = request.temperature
        # The client's own post(): its auth, headers, errors and transport, without
        # the response models (bench/results.md). The body is the documented one.
        response = await self._client.post("/v1/messages", body=body, cast_to=httpx2.Response)
        data = json_object(response)
        with shaped("the answer"):
            return completion_from(data, response.headers)

    async def count_tokens(self, request: Request) -> int | None:
        """Input tokens of ``request`` from the free ``messages/count_tokens`` endpoint."""
        counted = await self._client.messages.count_tokens(**_prompt(request))
        return int(counted.input_tokens)

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


def completion_from(data: Mapping[str, Any], headers: Mapping[str, str]) -> Completion:
    """The answer in a Messages API reply; thinking blocks are left out."""
    blocks = data.get("content")
    if blocks is None:
        raise BadResponse("the answer has no content")
    return Completion(
        content="".join(block["text"] for block in blocks if block.get("type") == "text"),
        usage=usage_from(data.get("usage")),
        finish_reason=data.get("stop_reason"),
        request_id=headers.get("request-id"),
        response_model=data.get("model"),
    )


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
