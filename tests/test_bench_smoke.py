"""The client-speed benchmark still runs: ``bench/clients.py --smoke`` end to end.

It starts three LLMock servers and one worker process per side, makes 9 calls a
side at 50 ms latency, and prints its tables; nothing is written. Only that it
finishes and reports every installed side is checked: no timing assertions.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIDES = ["orbit", "raw-httpx", "blocking"]
OPTIONAL = {"raw-aiohttp": "aiohttp", "litellm": "litellm"}


@pytest.mark.timeout(300)
def test_clients_bench_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "clients.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "| N | side | wall median (s) |" in out, out[-3000:]
    installed = SIDES + [s for s, module in OPTIONAL.items() if importlib.util.find_spec(module)]
    for side in installed:
        if side == "blocking":
            assert "| sync SDKs, one call at a time | 15 |" in out, out[-3000:]
        else:
            assert f"| 9 | {side} |" in out, out[-3000:]
