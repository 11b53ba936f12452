"""The engine's contract: private loop thread, cancel keeps rows, no leftovers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from llmock.journal import RequestRecord
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.api import start
from orbit_nb.engine import get_engine
from orbit_nb.errors import EngineError
from orbit_nb.types import Options

from conftest import engine_tasks

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]


def test_cancel_keeps_finished_rows_and_leaves_no_task(llmock: LLMock) -> None:
    llmock.delay(30, times=None, provider="anthropic")
    job = start(["a", "b"], MODELS)
    deadline = time.monotonic() + 60  # the first run imports the SDKs: slow on a busy machine
    while sum(r.status == "ok" for r in job.rows) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    cancelled_at = time.monotonic()
    job.cancel()
    assert job.future is not None
    job.future.result(timeout=10)
    ended_in = job.ended - cancelled_at if job.ended else None
    print(f"\ncancel -> run ended in {ended_in} s")
    assert time.monotonic() - cancelled_at < 5  # ~0.05 s quiet; wide for a busy machine
    df = job.frame()
    assert len(df) == 6
    assert df.groupby("provider")["status"].agg(set).to_dict() == {
        "anthropic": {"cancelled"},
        "gemini": {"ok"},
        "openai": {"ok"},
    }
    assert engine_tasks() == []
    llmock.reset()
    again = orbit_nb.compare("after", MODELS)
    assert (again["status"] == "ok").all()


def test_blocking_call_from_the_engine_thread_is_refused(llmock: LLMock) -> None:
    async def inside() -> str:
        try:
            orbit_nb.compare("hello", MODELS[:1])
        except EngineError as exc:
            return str(exc)
        return "no error"

    message = asyncio.run_coroutine_threadsafe(inside(), get_engine().loop).result(timeout=10)
    assert "would deadlock" in message and "acompare" in message


@pytest.mark.anyio
async def test_cancelling_acompare_cancels_the_job(llmock: LLMock) -> None:
    llmock.delay(30, times=None, provider="openai")
    task = asyncio.ensure_future(orbit_nb.acompare("hello", MODELS))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    job = orbit_nb.jobs()[-1]
    assert job.future is not None
    await asyncio.wrap_future(job.future)
    statuses = job.frame().set_index("provider")["status"].to_dict()
    assert statuses == {"anthropic": "ok", "openai": "cancelled", "gemini": "ok"}
    assert engine_tasks() == []


def test_hundreds_of_calls_take_about_one_latency(llmock: LLMock) -> None:
    """300 calls at 0.5 s latency end in a few latencies, not 300 of them."""
    llmock.delay(0.5, times=None)
    start_at = time.monotonic()
    df = orbit_nb.compare([f"prompt {i}" for i in range(100)], MODELS, concurrency=100)
    elapsed = time.monotonic() - start_at
    assert len(df) == 300 and (df["status"] == "ok").all()
    assert elapsed < 0.5 * 80  # generous (a busy machine): a sequential run takes 150 s


def test_import_is_light() -> None:
    code = (
        "import sys, orbit_nb; "
        "print(sorted(m for m in ('anthropic', 'openai', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_call_waiting_on_an_identical_one_keeps_its_own_timeout(llmock: LLMock) -> None:
    """A second run's call that joins the same request in flight gives up at its own
    deadline, as an error (not a cached answer)."""
    llmock.delay(10, times=None, provider="openai")
    leader = start("joined", MODELS[1:2], Options(timeout=60))
    time.sleep(0.5)  # the leader's request is in flight
    began = time.monotonic()
    df = orbit_nb.compare("joined", MODELS[1:2], timeout=1)
    waited = time.monotonic() - began
    assert df["status"].tolist() == ["error"] and df["error_type"].tolist() == ["timeout"]
    assert not df["cached"].any()
    assert waited < 8  # its own 1 s, with a wide margin; the leader takes 10 s
    leader.cancel()  # and wait for it: a run left going would reach the next test's server
    assert leader.future is not None
    leader.future.result(timeout=30)
    assert leader.frame()["status"].tolist() == ["cancelled"]


def most_in_flight(records: list[RequestRecord]) -> int:
    """The most requests the server was answering at once. A record ends when the
    server has logged it, just after the client got the answer and may already have
    sent its next request: 20 ms of that is not counted as overlap."""
    events = sorted(
        [(r.started_at, 1) for r in records] + [(r.ended_at - 0.02, -1) for r in records]
    )
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_runs_share_one_limit_per_endpoint(llmock: LLMock) -> None:
    """Two runs at concurrency=5 against one endpoint: at most 5 requests in flight."""
    llmock.delay(0.3, times=None)
    runs = [
        start([f"shared limit {tag} {i}" for i in range(20)], MODELS[1:2], Options(concurrency=5))
        for tag in ("a", "b")
    ]
    for job in runs:
        assert job.future is not None
        job.future.result(timeout=60)
    assert all(r.status == "ok" for job in runs for r in job.rows)
    peak = most_in_flight(llmock.requests)
    print(f"\nat most {peak} requests in flight at the server (limit 5, two runs)")
    assert 3 <= peak <= 5


def test_a_client_replaced_by_a_new_key_is_closed(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new key (or URL) for an endpoint builds a new client; the old one is closed
    once no run uses it, so keys changed in a long session leave no open pools."""
    orbit_nb.compare("with the first key", MODELS[1:2], cache=False)
    engine = get_engine()
    (old,) = [a for k, a in engine._providers.items() if k[:2] == ("openai", "openai")]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-FAKE-openai-another-key-0123456789")
    df = orbit_nb.compare("with the second key", MODELS[1:2], cache=False)
    assert df["status"].tolist() == ["ok"]
    assert old._client.is_closed()  # type: ignore[attr-defined]
    (new,) = [a for k, a in engine._providers.items() if k[:2] == ("openai", "openai")]
    assert new is not old and not new._client.is_closed()  # type: ignore[attr-defined]
