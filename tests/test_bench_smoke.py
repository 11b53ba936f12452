"""Every benchmark still runs: ``bench/<script>.py --smoke`` end to end, one test each.

Each runs as a subprocess of this interpreter from the repository root, at tiny
sizes, one round and a short LLMock latency, and prints its usual tables and
lines; nothing is written to ``bench/results.md``. Only that it exits 0, leaves
results.md as it was and prints what a reader looks for is checked: no timing
assertions, nothing about the figures' values.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.md"
SIDES = ["orbit", "raw-httpx", "blocking"]
OPTIONAL = {"raw-aiohttp": "aiohttp", "litellm": "litellm"}
# Generous: the machine running the suite may be busy. A smoke run takes seconds
# (result_view.py, which starts JupyterLab and chromium, the longest: tens of seconds).
RUN_LIMIT = 270
TEST_LIMIT = RUN_LIMIT + 30


def run_smoke(script: str, *shows: str) -> str:
    """Run ``bench/<script> --smoke``; check that it exits 0, leaves bench/results.md as
    it was and prints each of ``shows``; its stdout. On a timeout the run is interrupted
    (so it stops its servers and kernels), then its process group killed."""
    before = RESULTS.read_bytes() if RESULTS.exists() else None
    with subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / script), "--smoke"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=RUN_LIMIT)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            pytest.fail(f"{script} --smoke ran over {RUN_LIMIT} s:\n{out[-3000:]}{err[-3000:]}")
    assert proc.returncode == 0, f"{script} --smoke exited {proc.returncode}:\n" + (
        out[-3000:] + err[-3000:]
    )
    after = RESULTS.read_bytes() if RESULTS.exists() else None
    assert after == before, f"{script} --smoke changed {RESULTS}"
    missing = [line for line in shows if line not in out]
    assert not missing, f"{script} --smoke did not print {missing}:\n{out[-3000:]}"
    return out


@pytest.mark.timeout(TEST_LIMIT)
def test_clients_bench_smoke() -> None:
    """Three LLMock servers, one worker process per side, 9 calls a side at 50 ms."""
    installed = SIDES + [s for s, module in OPTIONAL.items() if importlib.util.find_spec(module)]
    run_smoke(
        "clients.py",
        "| N | side | wall median (s) |",
        *(
            "| sync SDKs, one call at a time | 15 |" if side == "blocking" else f"| 9 | {side} |"
            for side in installed
        ),
    )


@pytest.mark.timeout(TEST_LIMIT)
def test_concurrency_bench_smoke() -> None:
    """raw gather and orbit.compare, 3 prompts x 3 providers, one round each."""
    run_smoke(
        "concurrency.py",
        "9 calls (3 prompts x 3 providers)",
        "  round 1 raw   wall",
        "  round 1 orbit wall",
        "| side  | wall median (s) | CPU median (s) | CPU ms/call | ok (worst round) |",
        "| raw   |",
        "| orbit |",
        "| ratio |",
        "orbit/raw wall ratio",
        "orbit rows with status ok:",
    )


@pytest.mark.timeout(TEST_LIMIT)
def test_cache_bench_smoke() -> None:
    """A 9-call comparison run twice with an empty cache, one round."""
    run_smoke(
        "cache.py",
        "  round 1: first",
        "| run | wall median (ms) | requests sent (all rounds) |",
        "| first  |",
        "| second |",
        "second/first wall ratio",
    )


@pytest.mark.timeout(TEST_LIMIT)
def test_kernel_responsiveness_bench_smoke() -> None:
    """A real kernel: idle cells, then trivial cells beside a 9-call background run and a
    foreground one."""
    run_smoke(
        "kernel_responsiveness.py",
        "| trivial cells    | count | p50 (ms) | p95 (ms) | max (ms) |",
        "| kernel idle      |",
        "| --background run |",
        "| foreground run   |",
        "p95 round trip: background",
        "--background cell returned in",
        "The foreground cell took",
    )


@pytest.mark.timeout(TEST_LIMIT)
def test_result_view_bench_smoke() -> None:
    """JupyterLab in headless chromium runs a 9-call %%orbit cell; the view is measured."""
    run_smoke(
        "result_view.py",
        "- machine:",
        "- calls: 9 ",
        "- text/html:",
        "; text/plain fallback:",
        "- rendered height:",
        "prompt rows drawn",
        "- view built in the kernel in",
    )


@pytest.mark.timeout(TEST_LIMIT)
def test_footprint_bench_smoke() -> None:
    """Imports in fresh interpreters, one fresh kernel of each kind, a 30-call run."""
    run_smoke(
        "footprint.py",
        "| figure | orbit_nb | reference | ratio |",
        "| import (fresh interpreter, 1 rounds) |",
        "| fresh kernel: first %%orbit cell right after %load_ext",
        "| fresh kernel: first %%orbit cell 3 s after %load_ext",
        "| 30-call run: peak RSS |",
        "| 30-call run: RSS growth per row |",
        "| 30-call run: DataFrame bytes per row |",
        "ok rows:",
    )


@pytest.mark.timeout(TEST_LIMIT)
def test_streaming_bench_smoke() -> None:
    """Streamed and unstreamed calls per provider, by compare() and by the raw clients,
    3 calls a run, one round."""
    providers = ("anthropic", "openai", "gemini")
    run_smoke(
        "streaming.py",
        "| provider | client | side | ttft median (s) |",
        *(
            f"| {provider} | {client} | {side} |"
            for provider in providers
            for client in ("orbit", "raw")
            for side in ("unstreamed", "streamed")
        ),
        "| provider | orbit streamed/unstreamed | raw streamed/unstreamed |",
        *(f"| {provider} | " for provider in providers),
        "CPU per call streamed/unstreamed:",
    )
