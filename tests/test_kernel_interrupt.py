"""Interrupting a run in a real Jupyter kernel keeps the finished rows.

DESIGN.md promises that the kernel's stop button cancels in-flight calls within
a second and keeps every finished row. Only a real ipykernel shows whether that
holds: its SIGINT handling and its own event loop (ipykernel#881) decide when an
interrupt reaches ``compare()`` or ``await acompare()``, so these tests drive
the venv's kernel through jupyter_client against the in-process LLMock server.
Anthropic is held for 30 s while OpenAI answers at once, so each interrupt
lands with some rows finished and some still in flight.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from llmock.pytest_plugin import LLMock
from llmock.testing import LLMockServer

from conftest import _PROVIDER_ENV, mock_env

VENV = Path(__file__).resolve().parents[1] / ".venv"
MODELS = "openai:gpt-4o-mini,anthropic:claude-haiku-4-5"
FAST, SLOW = "openai", "anthropic"
PROMPTS = 3
INTERRUPT_BUDGET = 1.0  # seconds from interrupt_kernel() to the cell's reply
CELL_TIMEOUT = 30.0  # a cell that ignores the interrupt would hang on the 30 s delay

Kernel = tuple[KernelManager, BlockingKernelClient]

# The kernel leaves these in its namespace for the checks below.
SETUP = """
import asyncio, concurrent.futures, json
import orbit_nb, orbit_nb.engine

def _engine_tasks():
    async def count():
        return len(asyncio.all_tasks()) - 1  # all but this one
    loop = orbit_nb.engine.get_engine().loop
    return asyncio.run_coroutine_threadsafe(count(), loop).result(5)

def _job_ended(seconds):
    fut = orbit_nb.jobs()[-1].future
    return not concurrent.futures.wait([fut], timeout=seconds).not_done

def _report(df):
    rows = sorted(zip(df["prompt"], df["provider"], df["status"], strict=True))
    print(json.dumps({"rows": rows, "ended": _job_ended(1.0), "tasks": _engine_tasks()}))
"""


@pytest.fixture(scope="module")
def kernel(
    llmock_server: LLMockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kernel]:
    """One venv kernel for the module: starting one costs seconds, each test uses fresh prompts.

    Real provider keys are dropped from the kernel's environment, so nothing
    can reach a real API; the cache dir is private so no row comes from disk.
    """
    km = KernelManager(kernel_name="python3")
    python = Path(km.format_kernel_cmd()[0])
    assert python.parent == VENV / "bin" and python.samefile(VENV / "bin" / "python"), python
    env = {k: v for k, v in os.environ.items() if k not in _PROVIDER_ENV}
    env |= mock_env(llmock_server)
    env["ORBIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("orbit-cache"))
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        assert Path(evaluate(kc, "__import__('sys').prefix")) == VENV
        run(kc, SETUP)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc: BlockingKernelClient, code: str) -> str:
    """Run ``code`` in the kernel and return its stdout; fail on an error reply."""
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, timeout=CELL_TIMEOUT, output_hook=hook)
    content = reply["content"]
    assert content["status"] == "ok", "\n".join(content.get("traceback", [])) or content
    return "".join(out)


def evaluate(kc: BlockingKernelClient, expr: str) -> object:
    """The value of a JSON-able expression evaluated in the kernel."""
    return json.loads(run(kc, f"import json as _json; print(_json.dumps({expr}))"))


def reply_to(kc: BlockingKernelClient, msg_id: str) -> dict:
    """The execute_reply to ``msg_id``, skipping replies to anything else."""
    deadline = time.monotonic() + CELL_TIMEOUT
    while True:
        msg = kc.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


def wait_until_idle(kc: BlockingKernelClient, msg_id: str) -> None:
    """Drain iopub up to the kernel's idle status for ``msg_id``, so the next cell starts clean."""
    deadline = time.monotonic() + CELL_TIMEOUT
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.0, deadline - time.monotonic()))
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return


def wait_for_fast_rows(server: LLMockServer) -> None:
    """Block until every fast call was answered and every slow one is held by the server.

    Then wait a little longer so the kernel has parsed the fast answers too.
    """
    deadline = time.monotonic() + 10
    journal = server.state.journal
    while time.monotonic() < deadline:
        fast = [r for r in journal.records() if r.provider == FAST and r.completed]
        if len(fast) == PROMPTS and journal.in_flight == PROMPTS:
            time.sleep(0.3)
            return
        time.sleep(0.05)
    pytest.fail(f"fast calls not answered in 10 s: {journal.records()}")


def interrupt_cell(kernel: Kernel, server: LLMockServer, code: str) -> tuple[dict, float]:
    """Run ``code`` with the slow provider held, interrupt it, and time the reply."""
    km, kc = kernel
    msg_id = kc.execute(code)
    wait_for_fast_rows(server)
    interrupted = time.monotonic()
    km.interrupt_kernel()
    reply = reply_to(kc, msg_id)
    latency = time.monotonic() - interrupted
    wait_until_idle(kc, msg_id)
    return reply, latency


def prompts_for(tag: str) -> list[str]:
    """Prompts unique to one test, so no row can come from an earlier run."""
    return [f"{tag}: name prime number {i}." for i in range(PROMPTS)]


def assert_rows(report: dict, prompts: list[str], slow_status: str) -> None:
    """One row per (prompt, model): the fast provider ok, the slow one ``slow_status``."""
    expected = sorted(
        [p, prov, "ok" if prov == FAST else slow_status] for p in prompts for prov in (FAST, SLOW)
    )
    assert report["rows"] == expected
    assert report["ended"], "the job's future was still running 1 s after the cell ended"
    assert report["tasks"] == 0, f"{report['tasks']} task(s) still running on the engine loop"


def test_interrupt_sync_compare_keeps_finished_rows(
    kernel: Kernel, llmock: LLMock, llmock_server: LLMockServer
) -> None:
    """The stop button during ``df = compare(...)`` returns ``df`` with the finished rows."""
    kc = kernel[1]
    prompts = prompts_for("sync")
    call = f"df = orbit_nb.compare({prompts!r}, {MODELS!r}, cache=False, timeout=60)"
    llmock.delay(30, times=None, provider=SLOW)

    reply, latency = interrupt_cell(kernel, llmock_server, call)
    print(f"\nsync compare(): interrupt -> execute_reply in {latency * 1000:.0f} ms")
    assert reply["status"] == "ok", reply
    assert latency < INTERRUPT_BUDGET
    assert_rows(json.loads(run(kc, "_report(df)")), prompts, "cancelled")

    llmock.reset()
    run(kc, call)
    assert_rows(json.loads(run(kc, "_report(df)")), prompts, "ok")


def test_interrupt_await_acompare_keeps_finished_rows(
    kernel: Kernel, llmock: LLMock, llmock_server: LLMockServer
) -> None:
    """The stop button during ``await acompare(...)`` ends the cell; the Job keeps the rows."""
    kc = kernel[1]
    prompts = prompts_for("await")
    call = f"df = await orbit_nb.acompare({prompts!r}, {MODELS!r}, cache=False, timeout=60)"
    llmock.delay(30, times=None, provider=SLOW)

    reply, latency = interrupt_cell(kernel, llmock_server, call)
    print(f"\nawait acompare(): interrupt -> execute_reply in {latency * 1000:.0f} ms")
    print(f"  cell ended with {reply['status']}: {reply.get('ename')}")
    assert latency < INTERRUPT_BUDGET
    assert_rows(json.loads(run(kc, "_report(orbit_nb.jobs()[-1].frame())")), prompts, "cancelled")

    llmock.reset()
    run(kc, call)
    assert_rows(json.loads(run(kc, "_report(df)")), prompts, "ok")
