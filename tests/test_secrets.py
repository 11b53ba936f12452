"""API keys never appear in a DataFrame, repr, error text, log record or URL."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb

from canned import CannedServer, Reply
from conftest import KEYS

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]


def leaks(text: str) -> list[str]:
    return [name for name, key in KEYS.items() if key in text or key[-12:] in text]


def frame_text(df: pd.DataFrame) -> str:
    return df.to_csv() + repr(df) + df.to_html()


def test_no_key_in_any_output_of_a_mixed_run(
    llmock: LLMock, caplog: pytest.LogCaptureFixture
) -> None:
    llmock.fail(401, times=1, provider="openai")
    llmock.fail(500, times=None, provider="anthropic")
    caplog.set_level(logging.DEBUG)
    with pytest.warns(UserWarning) as warned:
        df = orbit_nb.compare(["ok prompt", "other prompt"], MODELS, timeout=2)
        df = pd.concat([df, orbit_nb.compare("x", ["openai:gpt-unpriced"])])
    assert set(df["status"]) == {"ok", "error"}
    job = orbit_nb.jobs()[-2]
    texts = [
        frame_text(df),
        repr(job),
        repr(job.rows),
        caplog.text,
        " ".join(str(w.message) for w in warned),
    ]
    assert leaks("\n".join(texts)) == []


def test_echoed_key_in_an_error_body_is_redacted(canned: CannedServer) -> None:
    key = KEYS["OPENAI_API_KEY"]
    message = f"Incorrect API key provided: {key[:7]}***{key[-4:]}. Full: {key}."
    canned.queue(Reply(401, {"error": {"message": message, "code": "invalid_api_key"}}))
    df = orbit_nb.compare("hello", ["openai:gpt-4o-mini"])
    text = df["error_message"].iloc[0]
    assert text.startswith("401 Incorrect API key provided: [redacted]")
    assert key not in text and "***" not in text and key[-4:] + "." not in text


def test_gemini_key_travels_in_a_header_only(canned: CannedServer) -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}]}
    canned.queue(Reply(200, body))
    orbit_nb.compare("hello", ["gemini:gemini-2.5-flash"])
    (request,) = canned.seen
    assert request.target == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == KEYS["GEMINI_API_KEY"]
    assert leaks(request.target + str(request.body)) == []
