"""The engine's retry rules, judged by LLMock's resilience verdict."""

from __future__ import annotations

import email.utils
import itertools
import random
import time
from collections.abc import Iterator

import pytest
from llmock.chaos import ChaosSettings
from llmock.pytest_plugin import LLMock
from llmock.testing import LLMockServer

import orbit_nb
from orbit_nb.providers.base import parse_retry_after
from orbit_nb.retry import backoff

from canned import CannedServer, Reply

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]


def gaps(llmock: LLMock) -> list[float]:
    records = llmock.requests
    return [b.started_at - a.ended_at for a, b in itertools.pairwise(records)]


def test_retry_after_is_honoured(llmock: LLMock) -> None:
    llmock.rate_limit(times=2, retry_after=0.5, provider="openai")
    df = orbit_nb.compare("hello", ["openai:gpt-4o-mini"])
    row = df.iloc[0]
    assert (row["status"], row["attempts"]) == ("ok", 3)
    assert all(g >= 0.5 for g in gaps(llmock))
    llmock.assert_resilient(strict=True)


def test_backoff_leaves_the_notebooks_seeded_random_alone() -> None:
    random.seed(7)
    waits = [backoff(1, None), backoff(2, 0.5), backoff(3, None)]
    assert len(set(waits)) == 3
    assert random.random() == random.Random(7).random()


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
def test_retryable_statuses_back_off(llmock: LLMock, status: int) -> None:
    llmock.fail(status, times=3, provider="gemini")
    df = orbit_nb.compare("hello", ["gemini:gemini-2.5-flash"])
    assert (df["status"].iloc[0], df["attempts"].iloc[0]) == ("ok", 4)
    waits = gaps(llmock)
    assert waits[0] >= 0.35  # the verdict below checks that they grow
    llmock.assert_resilient(strict=True)


def test_overloaded_529_is_retried(llmock: LLMock) -> None:
    llmock.fail(529, times=1, provider="anthropic")
    df = orbit_nb.compare("hello", ["anthropic:claude-haiku-4-5"])
    assert (df["status"].iloc[0], df["attempts"].iloc[0]) == ("ok", 2)
    llmock.assert_resilient(strict=True)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "bad_request"), (401, "authentication"), (403, "permission"), (404, "not_found")],
)
def test_client_errors_are_tried_once(llmock: LLMock, status: int, error_type: str) -> None:
    llmock.fail(status, times=None)
    df = orbit_nb.compare("hello", MODELS)
    assert len(df) == 3
    assert (df["status"] == "error").all()
    assert (df["error_type"] == error_type).all()
    assert (df["attempts"] == 1).all()
    assert df["error_message"].str.startswith(str(status)).all()
    assert len(llmock.requests) == 3
    llmock.assert_resilient(strict=True)


def test_context_overflow_is_an_error_row(llmock: LLMock) -> None:
    llmock.context_overflow(times=None)
    df = orbit_nb.compare("hello", ["openai:gpt-4o-mini"])
    assert df["error_type"].iloc[0] == "bad_request"
    assert "maximum context length" in df["error_message"].iloc[0]


def test_spent_quota_stops_at_once(llmock: LLMock) -> None:
    llmock.fail(429, code="insufficient_quota", times=None, provider="openai")
    df = orbit_nb.compare("hello", ["openai:gpt-4o-mini"])
    assert (df["error_type"].iloc[0], df["attempts"].iloc[0]) == ("quota_exhausted", 1)


def test_timeout_bounds_a_call(llmock: LLMock) -> None:
    llmock.delay(10, times=None, provider="anthropic")
    start = time.monotonic()
    df = orbit_nb.compare("hello", MODELS, timeout=0.5)
    elapsed = time.monotonic() - start
    by_provider = df.set_index("provider")
    assert by_provider.loc["anthropic", "status"] == "error"
    assert by_provider.loc["anthropic", "error_type"] == "timeout"
    assert "0.5 s timeout" in by_provider.loc["anthropic", "error_message"]
    assert (by_provider.drop("anthropic")["status"] == "ok").all()
    assert elapsed < 5.0  # the delayed answer takes 10 s; a busy machine adds some time


def test_retries_stop_when_the_timeout_leaves_no_room(llmock: LLMock) -> None:
    llmock.outage(status=503, provider="openai")
    start = time.monotonic()
    df = orbit_nb.compare("hello", ["openai:gpt-4o-mini"], timeout=1.5)
    row = df.iloc[0]
    assert row["status"] == "error" and row["error_type"] == "server_error"
    assert 1 < row["attempts"] < 6
    assert "no time left for a retry" in row["error_message"]
    # Retries that ignored the timeout would wait 0.5 + 1 + 2 + 4 + 8 s; a busy
    # machine may add some time around the run, never that much.
    assert time.monotonic() - start < 1.5 + 3.0


@pytest.fixture
def chaos(llmock: LLMock, llmock_server: LLMockServer) -> Iterator[LLMock]:
    """LLMock answering 30% of requests 429 (with Retry-After) and 20% 503."""
    settings = ChaosSettings(error_rates={429: 0.3, 503: 0.2}).validated()
    llmock_server.state.chaos = settings
    llmock_server.app.state.chaos_settings = settings
    yield llmock
    llmock.reset()


def test_chaos_run_loses_no_row(chaos: LLMock) -> None:
    prompts = [f"question number {i}" for i in range(30)]
    df = orbit_nb.compare(prompts, MODELS)
    assert len(df) == 90
    assert set(df["status"]) <= {"ok", "error"}
    assert df.groupby(["prompt_id", "model_spec"]).size().eq(1).all()
    verdict = chaos.verdict()
    print(
        f"\nchaos: 90 calls, {verdict.attempts} attempts, {verdict.faults} faults injected, "
        f"{(df['status'] == 'ok').sum()} ok, {len(verdict.errors)} FAIL, "
        f"{len(verdict.warnings)} WARN"
    )
    assert verdict.faults > 20
    verdict.assert_ok(strict=True)


GEMINI_OK = {
    "candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1},
}


def gemini_429(*details: dict[str, object]) -> Reply:
    error = {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}
    return Reply(429, {"error": {**error, "details": list(details)}})


def test_gemini_retry_info_is_honoured(canned: CannedServer) -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.6s"}
    canned.queue(gemini_429(retry_info), Reply(200, GEMINI_OK))
    df = orbit_nb.compare("hello", ["gemini:gemini-2.5-flash"])
    assert (df["status"].iloc[0], df["attempts"].iloc[0]) == ("ok", 2)
    first, second = canned.seen
    assert second.at - first.at >= 0.6


def test_gemini_daily_quota_stops_at_once(canned: CannedServer) -> None:
    quota = {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
    }
    canned.queue(gemini_429(quota))
    df = orbit_nb.compare("hello", ["gemini:gemini-2.5-flash"])
    assert (df["error_type"].iloc[0], df["attempts"].iloc[0]) == ("quota_exhausted", 1)
    assert len(canned.seen) == 1


def test_backoff_grows_and_respects_retry_after() -> None:
    waits = [backoff(n, None) for n in range(1, 7)]
    assert all(later > earlier * 1.5 for earlier, later in itertools.pairwise(waits))
    assert waits[-1] <= 30
    assert all(backoff(1, 7.0) >= 7.0 for _ in range(50))


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (parse_retry_after({"retry-after": future}) or 0) <= 30
