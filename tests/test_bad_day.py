"""What a bad day on the wire turns into: one clear row per call, and never a key.

Keys pasted with a newline or read from a file, answers without content, an
Anthropic answer without usage, redirects (single, looping, pointing away with
a key in the URL), a captive portal's HTML page with status 200: each provider
meets each over real HTTP (the canned server), and each ends as one row with an
error type a user can act on, tried no more often than it is worth.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest

import orbit_nb
from orbit_nb.errors import ConfigError
from orbit_nb.providers import build
from orbit_nb.providers.base import redact
from orbit_nb.specs import Target
from orbit_nb.types import ModelSpec, Request

from canned import CannedServer, Reply
from conftest import KEYS

PROVIDERS = ("anthropic", "openai", "gemini")
SPEC = {
    "anthropic": "anthropic:claude-haiku-4-5",
    "openai": "openai:gpt-4o-mini",
    "gemini": "gemini:gemini-2.5-flash",
}
ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}
AUTH = {"anthropic": "authorization", "openai": "authorization", "gemini": "x-goog-api-key"}
GOOD: dict[str, dict[str, Any]] = {
    "anthropic": {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "Paris."}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 2},
    },
    "openai": {
        "id": "chatcmpl-01",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    },
    "gemini": {
        "candidates": [{"content": {"parts": [{"text": "Paris."}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2},
    },
}
PART = 8  # the shortest run of a key's characters that counts as a leak


def fragments(text: str, key: str) -> list[str]:
    """Every run of ``PART`` characters of ``key`` that shows up in ``text``."""
    return [key[i : i + PART] for i in range(len(key) - PART + 1) if key[i : i + PART] in text]


def one_row(provider: str, **options: Any) -> pd.Series:
    df = orbit_nb.compare("What is the capital of France?", [SPEC[provider]], **options)
    assert len(df) == 1
    return df.iloc[0]


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


# -- keys with whitespace -------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("dressed", ["{key}\n", "{key}\r\n", "  {key} \t\n"])
def test_whitespace_around_a_key_is_trimmed(
    canned: CannedServer, monkeypatch: pytest.MonkeyPatch, provider: str, dressed: str
) -> None:
    """A key read from a file keeps its newline; the call goes out with the bare key."""
    key = KEYS[ENV[provider]]
    monkeypatch.setenv(ENV[provider], dressed.format(key=key))
    canned.queue(Reply(200, GOOD[provider]))
    row = one_row(provider)
    assert row["status"] == "ok", row["error_message"]
    (seen,) = canned.seen
    header = {k.lower(): v for k, v in seen.headers.items()}[AUTH[provider]]
    assert header.removeprefix("Bearer ") == key


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("inside", ["\n", "\r\n", " ", "\t", "\x1b", "\x7f", "\u00a0", "\u2026"])
def test_a_key_with_whitespace_or_control_characters_inside_is_refused(
    canned: CannedServer, monkeypatch: pytest.MonkeyPatch, provider: str, inside: str
) -> None:
    key = KEYS[ENV[provider]]
    monkeypatch.setenv(ENV[provider], key[:12] + inside + key[12:])
    canned.queue(Reply(200, GOOD[provider]))
    with pytest.raises(ConfigError) as info:
        orbit_nb.compare("hello", [SPEC[provider]])
    message = str(info.value)
    assert ENV[provider] in message
    assert fragments(message, key) == [] and repr(inside) not in message
    assert canned.seen == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_blank_key_counts_as_not_set(
    canned: CannedServer, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    monkeypatch.setenv(ENV[provider], " \n")
    with pytest.raises(ConfigError, match=f"{ENV[provider]}.* is not set"):
        orbit_nb.compare("hello", [SPEC[provider]])
    assert canned.seen == []


def test_a_blank_gemini_key_falls_back_to_google_api_key(
    canned: CannedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "\n")
    monkeypatch.setenv("GOOGLE_API_KEY", KEYS["GEMINI_API_KEY"] + "\n")
    canned.queue(Reply(200, GOOD["gemini"]))
    assert one_row("gemini")["status"] == "ok"
    assert canned.seen[0].headers["x-goog-api-key"] == KEYS["GEMINI_API_KEY"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_key_the_http_layer_refuses_is_not_in_the_failure(
    canned: CannedServer, provider: str
) -> None:
    """Should a bad key ever get past the environment check, the HTTP client's
    refusal (which quotes the header escaped) still carries no part of it."""
    key = KEYS[ENV[provider]] + "\n"
    base = canned.url + ("/v1" if provider == "openai" else "")
    target = Target(provider, provider, base, key, 1)
    request = Request("p0", "hello", ModelSpec(provider, SPEC[provider].split(":")[1]))

    async def attempt() -> str:
        adapter = build(target, 1)
        try:
            await adapter.complete(request)
        except Exception as exc:
            failure = adapter.classify(exc)
            assert not failure.retryable  # the same request would be refused again
            return failure.message
        finally:
            await adapter.aclose()
        raise AssertionError("a key with a newline was sent")

    message = asyncio.run(attempt())
    assert fragments(message, key.strip()) == [], message


# -- redaction ------------------------------------------------------------------------

KEY = KEYS["OPENAI_API_KEY"]


@pytest.mark.parametrize(
    "text",
    [
        f"Illegal header value b'Bearer {KEY}\\n'",  # bytes repr of a key with a newline
        repr(f"Bearer {KEY}\r\n"),
        f'{{"key": "{KEY}\\n"}}',  # JSON-escaped
        f"key starts {KEY[:10]}... and ends ...{KEY[-10:]}",
        f"the middle of it: {KEY[9:21]}",
        f"https://example.test/login?key={KEY}&next=%2F",
    ],
)
def test_redact_catches_escaped_and_partial_forms(text: str) -> None:
    redacted = redact(text, KEY + "\n")
    assert fragments(redacted, KEY) == [], redacted
    assert "[redacted]" in redacted
    assert fragments(redact(text, KEY), KEY) == []


def test_redact_leaves_other_text_alone() -> None:
    text = "404 The model `gpt-4o-mini` does not exist or you do not have access to it."
    assert redact(text, KEY) == text
    assert redact(text, None) == text
    assert redact("short key abc in text", "abc") == "short key [redacted] in text"


# -- answers without content ----------------------------------------------------------

EMPTY = [
    ("openai", without(GOOD["openai"], "choices"), "no choices"),
    ("openai", {**GOOD["openai"], "choices": []}, "no choices"),
    ("gemini", without(GOOD["gemini"], "candidates"), "no candidates"),
    ("anthropic", without(GOOD["anthropic"], "content"), "no content"),
    ("openai", {}, "no choices"),
    ("gemini", {}, "no candidates"),
    ("anthropic", {}, "no content"),
    ("openai", [], "JSON that is not an object"),
    ("gemini", "ok", "JSON that is not an object"),
    ("anthropic", None, "JSON that is not an object"),
    ("openai", {**GOOD["openai"], "choices": "none"}, "documented shape"),
    ("gemini", {"candidates": [7]}, "documented shape"),
]


@pytest.mark.parametrize(("provider", "body", "says"), EMPTY)
def test_an_answer_without_content_is_a_bad_response_tried_once(
    canned: CannedServer, provider: str, body: Any, says: str
) -> None:
    canned.queue(Reply(200, body))
    row = one_row(provider)
    assert (row["status"], row["error_type"]) == ("error", "bad_response"), row["content"]
    assert says in row["error_message"]
    assert row["attempts"] == 1 and len(canned.seen) == 1
    again = one_row(provider)  # nothing was cached: the call is made again
    assert again["error_type"] == "bad_response" and not again["cached"]
    assert len(canned.seen) == 2


def test_a_blocked_gemini_prompt_is_still_an_answer(canned: CannedServer) -> None:
    canned.queue(Reply(200, {"promptFeedback": {"blockReason": "SAFETY"}}))
    row = one_row("gemini")
    assert row["status"] == "ok" and row["finish_reason"] == "blocked:SAFETY"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_without_usage_keeps_its_content(canned: CannedServer, provider: str) -> None:
    field = {"gemini": "usageMetadata"}.get(provider, "usage")
    canned.queue(Reply(200, without(GOOD[provider], field)))
    row = one_row(provider)
    assert row["status"] == "ok", row["error_message"]
    assert row["content"] == "Paris."
    assert pd.isna(row["input_tokens"]) and pd.isna(row["output_tokens"])


# -- redirects ------------------------------------------------------------------------


def path_of(provider: str) -> str:
    return {
        "anthropic": "/v1/messages",
        "openai": "/v1/chat/completions",
        "gemini": "/v1beta/models/gemini-2.5-flash:generateContent",
    }[provider]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_loop_is_one_attempt_naming_status_and_location(
    canned: CannedServer, provider: str, status: int
) -> None:
    location = canned.url + path_of(provider)  # points back at itself, for ever
    canned.queue(Reply(status, {}, {"location": location}))
    row = one_row(provider, timeout=5)
    assert (row["status"], row["error_type"]) == ("error", "redirect")
    assert row["attempts"] == 1 and len(canned.seen) == 1
    assert str(status) in row["error_message"] and location in row["error_message"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_redirect_away_is_not_followed_and_hides_the_key(
    canned: CannedServer, provider: str
) -> None:
    key = KEYS[ENV[provider]]
    location = f"http://127.0.0.1:9/portal/login?key={key}&then={key[-12:]}"
    canned.queue(Reply(302, {"detail": "moved"}, {"location": location}))
    row = one_row(provider, timeout=5)
    assert row["error_type"] == "redirect" and row["attempts"] == 1
    message = row["error_message"]
    assert "302" in message and "http://127.0.0.1:9/portal/login" in message
    assert fragments(message, key) == [], message
    assert len(canned.seen) == 1


# -- a captive portal -----------------------------------------------------------------

PORTAL = b"<!doctype html><html><body><h1>Sign in to the guest Wi-Fi</h1></body></html>"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_html_page_with_status_200_is_a_bad_response(
    canned: CannedServer, provider: str
) -> None:
    canned.queue(Reply(200, PORTAL, {"content-type": "text/html; charset=utf-8"}))
    row = one_row(provider)
    assert (row["status"], row["error_type"]) == ("error", "bad_response")
    assert row["error_message"] == (
        "the server answered 200 with text/html, not JSON (a proxy or captive portal?)"
    )
    assert row["attempts"] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_body_labelled_json_that_is_not_json_is_a_bad_response(
    canned: CannedServer, provider: str
) -> None:
    canned.queue(Reply(200, PORTAL))
    row = one_row(provider)
    assert (row["status"], row["error_type"]) == ("error", "bad_response")
    assert "200" in row["error_message"] and "not valid JSON" in row["error_message"]
    assert row["attempts"] == 1
