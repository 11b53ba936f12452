"""Usage normalisation and cost on the providers' documented response shapes.

A canned server replays the shapes the real APIs document, including the
prompt-cache and reasoning fields LLMock does not emit, over real HTTP.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import orbit_nb

from canned import CannedServer, Reply

ANTHROPIC_CACHED_THINKING = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [
        {"type": "thinking", "thinking": "Let me think.", "signature": "c2ln"},
        {"type": "text", "text": "Paris."},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 50,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600},
        "output_tokens": 300,
        "output_tokens_details": {"thinking_tokens": 120},
        "service_tier": "standard",
    },
}

OPENAI_CACHED_REASONING = {
    "id": "chatcmpl-01",
    "object": "chat.completion",
    "created": 1764000000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2000,
        "completion_tokens": 500,
        "total_tokens": 2500,
        "prompt_tokens_details": {"cached_tokens": 1500, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 200,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
}

GEMINI_CACHED_THINKING = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [{"text": "Thinking it over.", "thought": True}, {"text": "Paris."}],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 3000,
        "candidatesTokenCount": 400,
        "thoughtsTokenCount": 600,
        "cachedContentTokenCount": 2048,
        "totalTokenCount": 4000,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "resp-01",
}


def one_row(canned: CannedServer, body: Any, spec: str, **headers: str) -> pd.Series:
    canned.queue(Reply(200, body, headers))
    df = orbit_nb.compare("What is the capital of France?", [spec])
    assert len(df) == 1
    row = df.iloc[0]
    assert row["status"] == "ok", row["error_message"]
    return row


def counts(row: pd.Series) -> dict[str, object]:
    names = [
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "total_tokens",
    ]
    return {n: None if pd.isna(row[n]) else int(row[n]) for n in names}


def test_anthropic_cache_reads_writes_and_thinking(canned: CannedServer) -> None:
    row = one_row(
        canned, ANTHROPIC_CACHED_THINKING, "anthropic:claude-haiku-4-5", **{"request-id": "req_1"}
    )
    # Anthropic's input_tokens excludes cache reads and writes: 50 + 2000 + 1000.
    assert counts(row) == {
        "input_tokens": 3050,
        "cached_input_tokens": 2000,
        "cache_write_tokens": 1000,
        "output_tokens": 300,
        "reasoning_tokens": 120,
        "total_tokens": 3350,
    }
    assert row["content"] == "Paris."  # thinking blocks are not the answer
    assert row["request_id"] == "req_1"
    # Priced as the model asked for, not the dated snapshot the response names:
    # 50 x $1 + 2000 x $0.10 (read) + 400 x $1.25 (5m write) + 600 x $2 (1h write)
    # + 300 x $5 (output, thinking included), per million tokens.
    assert row["cost_usd"] == pytest.approx((50 + 200 + 500 + 1200 + 1500) / 1e6)


def test_openai_cached_and_reasoning(canned: CannedServer) -> None:
    row = one_row(canned, OPENAI_CACHED_REASONING, "openai:gpt-4o", **{"x-request-id": "req_2"})
    assert counts(row) == {
        "input_tokens": 2000,
        "cached_input_tokens": 1500,
        "cache_write_tokens": None,  # not reported by this API response at all
        "output_tokens": 500,
        "reasoning_tokens": 200,
        "total_tokens": 2500,
    }
    assert row["request_id"] == "req_2"
    # 500 x $2.50 + 1500 x $1.25 (cached) + 500 x $10 (reasoning billed as output)
    assert row["cost_usd"] == pytest.approx((1250 + 1875 + 5000) / 1e6)


def test_gemini_cached_and_thoughts(canned: CannedServer) -> None:
    row = one_row(canned, GEMINI_CACHED_THINKING, "gemini:gemini-2.5-flash")
    # candidatesTokenCount excludes thoughts: output = 400 + 600.
    assert counts(row) == {
        "input_tokens": 3000,
        "cached_input_tokens": 2048,
        "cache_write_tokens": None,
        "output_tokens": 1000,
        "reasoning_tokens": 600,
        "total_tokens": 4000,
    }
    assert row["content"] == "Paris."  # thought parts are not the answer
    assert row["request_id"] == "resp-01"
    # 952 x $0.30 + 2048 x $0.03 (cached) + 1000 x $2.50
    assert row["cost_usd"] == pytest.approx((952 * 0.30 + 2048 * 0.03 + 1000 * 2.50) / 1e6)


def test_gemini_omits_zero_counts(canned: CannedServer) -> None:
    body = {
        "candidates": [
            {"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10},
    }
    row = one_row(canned, body, "gemini:gemini-2.5-flash")
    assert counts(row)["cached_input_tokens"] == 0  # proto3 JSON drops zeros
    assert counts(row)["reasoning_tokens"] == 0


def test_openai_compatible_server_without_details_is_na(canned: CannedServer) -> None:
    body = {**OPENAI_CACHED_REASONING, "usage": {"prompt_tokens": 9, "completion_tokens": 3}}
    body["usage"]["total_tokens"] = 12
    row = one_row(canned, body, "openai:gpt-4o")
    assert counts(row) == {
        "input_tokens": 9,
        "cached_input_tokens": None,  # the server does not report it: NA, not a made-up 0
        "cache_write_tokens": None,
        "output_tokens": 3,
        "reasoning_tokens": None,
        "total_tokens": 12,
    }


def test_gemini_long_context_tier(canned: CannedServer) -> None:
    body = {
        **GEMINI_CACHED_THINKING,
        "modelVersion": "gemini-2.5-pro",  # the model that answered is the one priced
        "usageMetadata": {"promptTokenCount": 250_000, "candidatesTokenCount": 1000},
    }
    row = one_row(canned, body, "gemini:gemini-2.5-pro")
    # Above 200k prompt tokens the whole call is priced at the long-context rates.
    assert row["cost_usd"] == pytest.approx((250_000 * 2.50 + 1000 * 15.0) / 1e6)


def test_gemini_blocked_prompt_is_an_ok_row_with_reason(canned: CannedServer) -> None:
    body = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7},
    }
    row = one_row(canned, body, "gemini:gemini-2.5-flash")
    assert row["content"] == ""
    assert row["finish_reason"] == "blocked:SAFETY"
