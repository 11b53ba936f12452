"""OpenAI's Chat Completions API through the official SDK's ``AsyncOpenAI``.

Also serves every OpenAI-compatible server registered with
:func:`orbit_nb.register_endpoint` (Ollama, vLLM, LM Studio, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2
import openai

from ..specs import Target
from ..types import Completion, Request, Usage
from .base import BadResponse, Failure, classify_sdk_error, json_object, pool_limits, shaped

__all__ = ["OpenAIProvider", "completion_from", "usage_from"]

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

    async def complete(self, request: Request) -> Completion:
        messages: list[dict[str, str]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        kwargs: dict[str, Any] = {"model": request.model.model, "messages": messages}
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs[self._max_tokens_field] = request.max_tokens
        # The client's own post(): its auth, headers, errors and transport, without
        # create()'s parameter transform and response models (about a third of the
        # client CPU per call; bench/results.md). The body is the documented one.
        response = await self._client.post(
            "/chat/completions",
            body=kwargs,
            cast_to=httpx2.Response,
            options={"security": {"bearer_auth": True}},
        )
        data = json_object(response)
        with shaped("the answer"):
            return completion_from(data, response.headers)

    async def count_tokens(self, request: Request) -> int | None:
        """None: Chat Completions has no free endpoint that counts a prompt's tokens."""
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
    )
