"""Kernel responsiveness: a trivial cell's round trip while a 300-call %%orbit run goes on.

A real ipykernel (the venv's python3 kernel, driven through jupyter_client as a
notebook front-end would) loads orbit_nb; LLMock runs as a subprocess with
``--latency-ms`` (default 2000) per call. 100 prompts fan out over three
providers (``{prompts}`` x ``-m`` three models, ``-c 100``, ``--no-cache``),
300 calls in all, twice:

* background: ``%%orbit --background``. While it runs, the trivial cell
  ``1 + 1`` is sent every ``--interval-ms`` (default 50) and each round trip,
  execute_request to execute_reply, is measured; each cell also asks (as a
  user expression) whether the run's variable exists yet, which dates its
  arrival. Target: p95 <= 50 ms.
* foreground: a plain ``%%orbit`` cell. The trivial cells sent meanwhile queue
  behind it (a kernel runs one cell at a time), so their round trip is most of
  the run: the figure the background mode exists to avoid.

An idle baseline comes first, and the first ``--background`` cell of the fresh
kernel is timed too (it imports the provider SDKs). The figures are printed
and written to a dated section of ``bench/results.md`` (not with ``--no-write``
or ``--smoke``); nothing is asserted.

    .venv/bin/python bench/kernel_responsiveness.py [--latency-ms 2000] [--interval-ms 50]
    .venv/bin/python bench/kernel_responsiveness.py --smoke  # 3 prompts, 500 ms; writes nothing
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from queue import Empty
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from common import (
    isolated_cache,
    llmock_server,
    machine,
    parse_args,
    point_env_at,
    wants_write,
    write_section,
)

MODELS = "anthropic:claude-haiku-4-5,openai:gpt-4o-mini,gemini:gemini-2.5-flash"
N_PROMPTS = 100
SMOKE_PROMPTS = 3
# --smoke: a 9-call run that still lasts long enough for trivial cells to run beside it.
SMOKE_RUN_LATENCY_MS = 500
SMOKE_IDLE_CELLS = 5
TARGET_P95_MS = 50.0
TRIVIAL = "1 + 1"
IDLE_CELLS = 40
RUN_LIMIT = 120.0  # seconds a run may take before the benchmark gives up on it


def prompts(tag: str, n: int) -> list[str]:
    """``n`` distinct prompts, new for each run, so no answer comes from a cache."""
    return [f"[{tag}] Question {i}: explain idea {i} in one sentence." for i in range(n)]


def orbit_cell(var: str, prompts_var: str, background: bool) -> str:
    flags = " --background" if background else ""
    options = f"-m {MODELS} -c 100 --max-tokens 64 --no-cache -o {var}{flags}"
    return f"%%orbit {options}\n{{{prompts_var}}}"


@dataclass
class Stats:
    """Round trips of the trivial cells in one phase, in seconds."""

    times: list[float]

    def pct(self, p: float) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def row(self, label: str) -> str:
        ms = (self.pct(50) * 1000, self.pct(95) * 1000, max(self.times) * 1000)
        cells = " | ".join(f"{v:8.1f}" for v in ms)
        return f"| {label:<16} | {len(self.times):5d} | {cells} |"


class Driver:
    """Sends cells to the kernel and times their replies."""

    def __init__(self, kc: BlockingKernelClient) -> None:
        self.kc = kc

    def send(self, code: str, **kwargs: Any) -> str:
        return str(self.kc.execute(code, **kwargs))

    def reply(self, msg_id: str, timeout: float = RUN_LIMIT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id:
                return dict(msg["content"])

    def run(self, code: str, **kwargs: Any) -> tuple[dict[str, Any], float]:
        """Run ``code``; its reply and the seconds from request to reply."""
        start = time.perf_counter()
        reply = self.reply(self.send(code, **kwargs))
        elapsed = time.perf_counter() - start
        if reply["status"] != "ok":
            raise RuntimeError(f"{code!r} failed: {reply.get('ename')}: {reply.get('evalue')}")
        return reply, elapsed

    def value(self, expr: str) -> str:
        reply, _ = self.run("", user_expressions={"v": expr})
        return str(reply["user_expressions"]["v"]["data"]["text/plain"])

    def drain_iopub(self) -> None:
        """Drop the display updates piling up on iopub (nothing here reads them)."""
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0)
            except Empty:
                return


@contextmanager
def kernel() -> Iterator[Driver]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=dict(os.environ))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield Driver(kc)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def tick(start: float, n: int, interval: float) -> None:
    """Sleep until the ``n``-th tick after ``start``."""
    time.sleep(max(0.0, start + n * interval - time.perf_counter()))


def idle(driver: Driver, interval: float, cells: int) -> Stats:
    times = []
    start = time.perf_counter()
    for n in range(cells):
        times.append(driver.run(TRIVIAL)[1])
        tick(start, n + 1, interval)
    return Stats(times)


def wait_for(driver: Driver, var: str) -> float:
    """Poll (every 50 ms) until ``var`` exists in the kernel; return when it appeared."""
    deadline = time.perf_counter() + RUN_LIMIT
    while driver.value(f"{var!r} in globals()") != "True":
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{var} did not appear within {RUN_LIMIT:g} s")
        time.sleep(0.05)
    return time.perf_counter()


def background(driver: Driver, interval: float) -> tuple[Stats, float, float]:
    """Trivial cells during a background run; (their stats, cell return s, variable s)."""
    sent = time.perf_counter()
    _, returned = driver.run(orbit_cell("bench_bg", "bg_prompts", background=True))
    times: list[float] = []
    start, n, ready = time.perf_counter(), 0, False
    while not ready:
        reply, rtt = driver.run(TRIVIAL, user_expressions={"ready": "'bench_bg' in globals()"})
        times.append(rtt)
        ready = reply["user_expressions"]["ready"]["data"]["text/plain"] == "True"
        n += 1
        tick(start, n, interval)
        if time.perf_counter() - sent > RUN_LIMIT:
            raise RuntimeError(f"the background run did not end within {RUN_LIMIT:g} s")
    appeared = time.perf_counter() - sent
    driver.drain_iopub()
    return Stats(times), returned, appeared


def foreground(driver: Driver, interval: float) -> tuple[Stats, float]:
    """Trivial cells sent during a foreground run (they queue); (their stats, run s)."""
    start = time.perf_counter()
    run_id = driver.send(orbit_cell("bench_fg", "fg_prompts", background=False))
    sent: dict[str, float] = {}
    replies: dict[str, float] = {}
    n = 0
    while run_id not in replies:
        sent[driver.send(TRIVIAL)] = time.perf_counter()
        n += 1
        while True:
            try:
                msg = driver.kc.get_shell_msg(timeout=0)
            except Empty:
                break
            replies[msg["parent_header"]["msg_id"]] = time.perf_counter()
        tick(start, n, interval)
        if time.perf_counter() - start > RUN_LIMIT:
            raise RuntimeError(f"the foreground run did not end within {RUN_LIMIT:g} s")
    run_s = replies[run_id] - start
    while not set(sent) <= set(replies):
        msg = driver.kc.get_shell_msg(timeout=RUN_LIMIT)
        replies[msg["parent_header"]["msg_id"]] = time.perf_counter()
    driver.drain_iopub()
    return Stats([replies[m] - t for m, t in sent.items()]), run_s


def oks(driver: Driver, var: str) -> str:
    return driver.value(f"f'{{({var}.status == \"ok\").sum()}}/{{len({var})}}'").strip("'")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=int, default=2000)
    parser.add_argument("--interval-ms", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.md")
    parser.set_defaults(prompts=N_PROMPTS, idle_cells=IDLE_CELLS)
    smoke = f"{SMOKE_PROMPTS} prompts, {SMOKE_RUN_LATENCY_MS} ms, {SMOKE_IDLE_CELLS} idle cells"
    args = parse_args(
        parser,
        argv,
        smoke,
        prompts=SMOKE_PROMPTS,
        latency_ms=SMOKE_RUN_LATENCY_MS,
        idle_cells=SMOKE_IDLE_CELLS,
    )
    interval = args.interval_ms / 1000

    with llmock_server(args.latency_ms) as base, isolated_cache():
        point_env_at(base)
        with kernel() as driver:
            driver.run("%load_ext orbit_nb")
            _, cold = driver.run(f"%%orbit -m {MODELS} --no-cache -o warm --background\nwarm-up")
            wait_for(driver, "warm")
            for side in ("bg", "fg"):
                driver.run(f"{side}_prompts = {prompts(side, args.prompts)!r}")
            base_stats = idle(driver, interval, args.idle_cells)
            bg_stats, returned, appeared = background(driver, interval)
            bg_ok = oks(driver, "bench_bg")
            fg_stats, fg_run = foreground(driver, interval)
            fg_ok = oks(driver, "bench_fg")

    table = [
        "| trivial cells    | count | p50 (ms) | p95 (ms) | max (ms) |",
        "|------------------|------:|---------:|---------:|---------:|",
        base_stats.row("kernel idle"),
        bg_stats.row("--background run"),
        fg_stats.row("foreground run"),
    ]
    bg_p95, fg_p95 = bg_stats.pct(95) * 1000, fg_stats.pct(95) * 1000
    verdict = "meets" if bg_p95 <= TARGET_P95_MS else "MISSES"
    notes = [
        f"p95 round trip: background **{bg_p95:.1f} ms** vs foreground **{fg_p95:.1f} ms** "
        f"({verdict} the background <= {TARGET_P95_MS:g} ms target).",
        f"--background cell returned in **{returned * 1000:.1f} ms** (the fresh kernel's "
        f"first --background cell, which imports the SDKs: {cold * 1000:.0f} ms); its "
        f"variable appeared {appeared:.2f} s after the cell was sent ({bg_ok} ok).",
        f"The foreground cell took {fg_run:.2f} s ({fg_ok} ok).",
    ]
    print("\n".join(["", *table, "", *notes]))
    if wants_write(args):
        write_section(
            "kernel_responsiveness.py",
            [
                f"{N_PROMPTS} prompts x 3 providers = 300 calls (`-c 100 --no-cache`), LLMock "
                f"latency {args.latency_ms} ms (subprocess), a real ipykernel; a trivial cell "
                f"(`{TRIVIAL}`) every {args.interval_ms} ms while each run goes on; {machine()}.",
                "",
                *table,
                *(line for note in notes for line in ("", note)),
            ],
        )


if __name__ == "__main__":
    main()
