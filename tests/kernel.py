"""Drive the venv's real Jupyter kernel from a test: start it, run cells, interrupt it.

The magics and the interrupt handling only show their true behaviour in a real
ipykernel (its SIGINT handling, its own event loop, its display protocol), so
the kernel tests talk to one through jupyter_client, the way a notebook
front-end does. Every message a cell produces is kept on its :class:`Cell`;
messages of earlier cells (a background run's display updates) go to
:attr:`Kernel.stray`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from llmock.testing import LLMockServer

from conftest import _PROVIDER_ENV, mock_env

VENV = Path(__file__).resolve().parents[1] / ".venv"
CELL_TIMEOUT = 30.0  # a cell that ignores an interrupt would hang on a 30 s LLMock delay

# Held and answered providers of the interrupt scenario (see Kernel.interrupt).
FAST, SLOW = "openai", "anthropic"
MODELS = "openai:gpt-4o-mini,anthropic:claude-haiku-4-5"

# Helpers left in the kernel's namespace for the interrupt checks.
REPORT_HELPERS = """
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


@dataclass
class Cell:
    """One executed cell: its execute_reply, its iopub messages, and how long the reply took."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return str(self.reply["status"])

    def stream(self, name: str) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == name
        )

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    def outputs(self, *types: str) -> list[dict[str, Any]]:
        """The contents of this cell's messages of the given types, in order."""
        return [m["content"] for m in self.messages if m["msg_type"] in types]

    @property
    def text(self) -> str:
        """Everything the cell showed, as text: streams, errors, and every text/plain."""
        parts = [self.stdout, self.stderr, "\n".join(self.reply.get("traceback", []))]
        for content in self.outputs("error"):
            parts.extend(content["traceback"])
        for content in self.outputs("display_data", "update_display_data", "execute_result"):
            parts.append(content["data"].get("text/plain", ""))
        return "\n".join(parts)


class Kernel:
    """A running kernel and a blocking client on its channels."""

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km = km
        self.kc = kc
        #: iopub messages that belong to a cell other than the one being run.
        self.stray: list[dict[str, Any]] = []
        self.interrupted_at = 0.0  # time.monotonic() of the last interrupt()

    def execute(self, code: str, timeout: float = CELL_TIMEOUT, **kwargs: Any) -> Cell:
        """Run ``code``; return its reply and messages once the kernel is idle again."""
        sent = time.monotonic()
        msg_id = self.kc.execute(code, **kwargs)
        reply = self.reply_to(msg_id, timeout)
        cell = Cell(reply, seconds=time.monotonic() - sent)
        cell.messages = self.drain(msg_id, timeout)
        return cell

    def run(self, code: str) -> str:
        """Run ``code`` and return its stdout; fail the test on an error reply."""
        cell = self.execute(code)
        assert cell.status == "ok", "\n".join(cell.reply.get("traceback", [])) or cell.reply
        return cell.stdout

    def evaluate(self, expr: str) -> Any:
        """The value of a JSON-able expression evaluated in the kernel."""
        return json.loads(self.run(f"import json as _json; print(_json.dumps({expr}))"))

    def reply_to(self, msg_id: str, timeout: float = CELL_TIMEOUT) -> dict[str, Any]:
        """The execute_reply to ``msg_id``, skipping replies to anything else."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id:
                return dict(msg["content"])

    def drain(self, msg_id: str, timeout: float = CELL_TIMEOUT) -> list[dict[str, Any]]:
        """iopub messages of ``msg_id`` up to the kernel's idle status; others go to stray."""
        mine: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self._next_iopub(deadline)
            if msg["parent_header"].get("msg_id") != msg_id:
                self.stray.append(msg)
                continue
            mine.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return mine

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first iopub message that ``match``-es, looking in :attr:`stray` first;
        the others read meanwhile are kept in :attr:`stray`."""
        for msg in self.stray:
            if match(msg):
                self.stray.remove(msg)
                return msg
        deadline = time.monotonic() + timeout
        while True:
            msg = self._next_iopub(deadline)
            if match(msg):
                return msg
            self.stray.append(msg)

    def _next_iopub(self, deadline: float) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = self.kc.get_iopub_msg(
                timeout=max(0.0, deadline - time.monotonic())
            )
        except Empty:
            pytest.fail("the kernel sent no awaited iopub message in time")
        return msg

    def interrupt(
        self, code: str, server: LLMockServer, answered: int, held: int
    ) -> tuple[Cell, float]:
        """Run ``code``; once ``answered`` FAST calls are done and ``held`` SLOW ones are
        held by the server, interrupt the kernel. Return the cell and the seconds from
        the interrupt to the cell's reply."""
        msg_id = self.kc.execute(code)
        wait_for_answers(server, answered, held)
        interrupted = time.monotonic()
        self.interrupted_at = interrupted  # CLOCK_MONOTONIC: the kernel's clock too
        self.km.interrupt_kernel()
        reply = self.reply_to(msg_id)
        latency = time.monotonic() - interrupted
        return Cell(reply, self.drain(msg_id), latency), latency

    def cancel_latency(self) -> float:
        """Seconds from the last interrupt to the end of the kernel's last orbit run
        (its calls cancelled, its rows final): what orbit owns of an interrupt."""
        # A cell can reply before the run's last rows are written (a busy machine).
        assert self.evaluate("_job_ended(30)"), "the interrupted run did not end"
        ended = self.evaluate("orbit_nb.jobs()[-1].ended")
        return float(ended) - self.interrupted_at


def wait_for_answers(server: LLMockServer, answered: int, held: int) -> None:
    """Block until ``answered`` FAST calls were answered and ``held`` calls are in flight.

    Then wait a little longer so the kernel has parsed the fast answers too.
    """
    deadline = time.monotonic() + 60  # a fresh kernel imports the SDKs first
    journal = server.state.journal
    while time.monotonic() < deadline:
        fast = [r for r in journal.records() if r.provider == FAST and r.completed]
        if len(fast) == answered and journal.in_flight == held:
            time.sleep(0.3)
            return
        time.sleep(0.05)
    pytest.fail(f"fast calls not answered in 60 s: {journal.records()}")


def kernel_env(server: LLMockServer, cache_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without real provider keys or URLs, pointed at
    ``server``, with a private ORBIT_CACHE_DIR so no row comes from an earlier run."""
    env = {k: v for k, v in os.environ.items() if k not in _PROVIDER_ENV}
    for name in ("ORBIT_CACHE_URL", "ORBIT_CACHE_TTL", "ORBIT_PRICES"):
        env.pop(name, None)
    return env | mock_env(server) | {"ORBIT_CACHE_DIR": str(cache_dir)} | extra


@contextlib.contextmanager
def start_kernel(env: Mapping[str, str]) -> Iterator[Kernel]:
    """Start the venv's python3 kernel with ``env``; always shut it down."""
    km = KernelManager(kernel_name="python3")
    python = Path(km.format_kernel_cmd()[0])
    assert python.parent == VENV / "bin" and python.samefile(VENV / "bin" / "python"), python
    km.start_kernel(env=dict(env))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kernel = Kernel(km, kc)
        assert Path(kernel.evaluate("__import__('sys').prefix")) == VENV
        yield kernel
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def prompts_for(tag: str, count: int = 3) -> list[str]:
    """Prompts unique to one test, so no row can come from an earlier run's cache."""
    return [f"{tag}: name prime number {i}." for i in range(count)]


def assert_rows(report: dict[str, Any], prompts: list[str], slow_status: str) -> None:
    """A ``_report`` (see REPORT_HELPERS): one row per (prompt, model), the FAST
    provider ok and the SLOW one ``slow_status``; the job and its tasks ended."""
    expected = sorted(
        [p, prov, "ok" if prov == FAST else slow_status] for p in prompts for prov in (FAST, SLOW)
    )
    assert report["rows"] == expected
    assert report["ended"], "the job's future was still running 1 s after the cell ended"
    assert report["tasks"] == 0, f"{report['tasks']} task(s) still running on the engine loop"


def assert_one_line_usage_error(cell: Cell, *needles: str) -> str:
    """The cell failed with a one-line ``UsageError: ...`` and no traceback; return the line."""
    assert cell.status == "error", cell.reply
    assert cell.reply["ename"] == "UsageError", cell.reply
    assert "Traceback" not in cell.text, cell.text
    assert not cell.outputs("error"), cell.outputs("error")
    line = cell.stderr.strip()
    assert line.startswith("UsageError: ") and "\n" not in line, cell.stderr
    for needle in needles:
        assert needle in line, line
    return line
