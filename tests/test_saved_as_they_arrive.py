"""Answers are saved as they arrive: a process killed mid-run keeps what it was paid for.

A client process runs a 200-call comparison at 20 calls in flight against the
test's LLMock; it is killed with SIGKILL once more than 100 answers have come
back. Its cache and history then hold the answered rows (saved within about a
second of arriving), and a rerun asks only for the rest.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock
from llmock.testing import LLMockServer

import orbit_nb
from orbit_nb import saver
from orbit_nb.history_store import record
from orbit_nb.types import ModelSpec, Request, Row

CALLS, IN_FLIGHT = 200, 20
MODEL = "openai:gpt-4o-mini"
MINI = ModelSpec("openai", "gpt-4o-mini")
PROMPTS = [f"saved as it arrives: question {i}" for i in range(CALLS)]

CLIENT = textwrap.dedent(
    f"""
    import orbit_nb
    orbit_nb.compare({PROMPTS!r}, {MODEL!r}, concurrency={IN_FLIGHT}, timeout=120)
    """
)


def answered(server: LLMockServer) -> int:
    """Requests the server has answered so far (without waiting for those in flight)."""
    return sum(
        1
        for r in server.state.journal.records()
        if not r.path.lower().endswith(("count_tokens", ":counttokens", "/input_tokens"))
    )


@pytest.mark.timeout(180)
def test_a_killed_run_keeps_its_answers_and_a_rerun_sends_only_the_rest(
    llmock: LLMock, llmock_server: LLMockServer, tmp_path: Path
) -> None:
    llmock.delay(1.0, times=None)  # 200 calls at 20 in flight: about 10 s in all
    client = subprocess.Popen([sys.executable, "-c", CLIENT], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while answered(llmock_server) < CALLS // 2 + IN_FLIGHT and time.monotonic() < deadline:
            assert client.poll() is None, "the client ended before it was killed"
            time.sleep(0.02)
        time.sleep(1.5)  # longer than the saver's one-second batches
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
    sent_before = len(llmock.requests)  # waits for the requests still in flight
    assert sent_before < CALLS, "the run finished before it could be killed; slow LLMock down"

    log = orbit_nb.history()
    saved = int(log["status"].eq("ok").sum())
    print(f"\nkilled after {sent_before} requests; {saved} answers in the history")
    assert saved >= CALLS // 2, saved

    llmock.reset()
    again = orbit_nb.compare(PROMPTS, MODEL, concurrency=IN_FLIGHT, timeout=120)
    resent = answered(llmock_server)
    print(f"the rerun sent {resent} requests (bound: {CALLS - saved + IN_FLIGHT})")
    assert again["status"].eq("ok").all()
    assert int(again["cached"].sum()) >= saved
    assert resent <= CALLS - saved + IN_FLIGHT


def test_rows_that_finish_during_the_last_write_are_written_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's last rows can finish, and the run close, while a batch is being
    written (a slow disk, a busy machine): they are written after it, not dropped."""
    writing, release = threading.Event(), threading.Event()

    def slow_first_write(rows: Sequence[Row], path: Path | None = None) -> None:
        if not writing.is_set():
            writing.set()
            assert release.wait(30)
        record(rows, path)

    monkeypatch.setattr(saver, "record_history", slow_first_write)
    monkeypatch.setattr(saver, "SAVE_EVERY", 0.05)
    rows = [
        Row("run-slow", Request(f"p{i}", f"prompt {i}", MINI), status="ok", content="a")
        for i in range(3)
    ]
    notes: list[str] = []

    async def run() -> None:
        writer = saver.Saver(None, notes)
        writer.finished(rows[0], "k0")
        task = asyncio.create_task(writer.run())
        assert await asyncio.to_thread(writing.wait, 30)  # the first batch is being written
        writer.finished(rows[1], "k1")
        writer.finished(rows[2], "k2")
        writer.close()
        release.set()
        await task

    asyncio.run(run())
    assert notes == []
    assert sorted(orbit_nb.history()["prompt_id"]) == ["p0", "p1", "p2"]
