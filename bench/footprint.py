"""Footprint: import time, a fresh kernel's first run, and memory per row.

Three figures, each from fresh processes so nothing is warm that a user's
would not be:

* **import**: ``import orbit_nb`` against ``import pandas`` (the library every
  notebook already pays for), each in a new interpreter, alternating, medians
  of ``--rounds`` (with min-max). Target: orbit_nb <= pandas.
* **first run in a fresh kernel**: a new ipykernel loads the extension
  (``%load_ext orbit_nb``) and runs a ``%%orbit`` cell of 3 calls against
  LLMock at ``--latency-ms``, at once or 3 s later (as a person runs the next
  cell); the cell's round trip is timed, then the same cell again (warm). The
  difference is what the first cell still waits for: the SDK imports start on a
  worker thread when the extension loads.
* **memory**: one process runs a 3000-call comparison (1000 prompts x 3
  providers) at 50 ms latency and reports its resident set before and after
  (peak, from ``ru_maxrss``), the growth per row, and the DataFrame's own bytes
  per row (``memory_usage(deep=True)``).

    .venv/bin/python bench/footprint.py [--rounds 7] [--latency-ms 200] [--write]
    .venv/bin/python bench/footprint.py --smoke     # 1 round, 2 kernels, 30 calls; writes nothing
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time

from common import (
    SMOKE_LATENCY_MS,
    isolated_cache,
    llmock_server,
    machine,
    parse_args,
    point_env_at,
    wants_write,
    write_section,
)

MODELS = "anthropic:claude-haiku-4-5,openai:gpt-4o-mini,gemini:gemini-2.5-flash"

PAUSE = 3.0  # seconds between %load_ext and the first cell, as a person takes
KERNELS = 3  # fresh kernels of each kind (first cell at once, first cell after PAUSE)
MEMORY_PROMPTS = 1000  # x 3 providers
SMOKE_PROMPTS = 10

IMPORT = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"

MEMORY = textwrap.dedent(
    """
    import json, resource, sys
    import orbit_nb

    models = {models!r}.split(",")
    orbit_nb.compare(["warm-up"], models, max_tokens=32)  # imports, clients, connections
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    prompts = [f"Question {{i}}: explain idea {{i}} in one sentence." for i in range({n})]
    df = orbit_nb.compare(prompts, models, max_tokens=32, concurrency=1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({{
        "rows": len(df), "ok": int((df["status"] == "ok").sum()),
        "before": before, "peak": peak,
        "frame": int(df.memory_usage(deep=True).sum()),
    }}))
    """
)


def _spread(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    med, lo, hi = statistics.median(values), min(values), max(values)
    return f"{med * scale:.0f} {unit} ({lo * scale:.0f}-{hi * scale:.0f})"


def import_times(rounds: int) -> dict[str, list[float]]:
    """Seconds to import each module in a fresh interpreter, alternating."""
    times: dict[str, list[float]] = {"orbit_nb": [], "pandas": []}
    for rnd in range(rounds):
        for name in sorted(times, reverse=rnd % 2 == 1):
            out = subprocess.run(
                [sys.executable, "-c", IMPORT.format(name)],
                capture_output=True,
                text=True,
                check=True,
            )
            times[name].append(float(out.stdout.strip()))
    return times


def first_run(rounds: int) -> dict[str, list[float]]:
    """Round trips of a fresh kernel's first %%orbit cell, and of the same cell again."""
    from kernel_responsiveness import kernel

    cell = f"%%orbit -m {MODELS} --max-tokens 32 --no-cache -o _fp\nSay hi in three words."
    times: dict[str, list[float]] = {"first": [], "paused": [], "warm": []}
    for rnd in range(2 * rounds):
        pause = rnd % 2 == 1  # odd rounds: the first cell comes PAUSE s after the load
        with kernel() as driver:
            driver.run("%load_ext orbit_nb")
            if pause:
                time.sleep(PAUSE)
            for label in ("paused" if pause else "first", "warm"):
                _, seconds = driver.run(cell)
                times[label].append(seconds)
    return times


def memory(n_prompts: int) -> dict[str, int]:
    code = MEMORY.format(models=MODELS, n=n_prompts)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="import rounds (kernels: 3)")
    parser.add_argument("--latency-ms", type=int, default=200, help="LLMock latency per call")
    parser.add_argument("--write", action="store_true", help="update bench/results.md")
    parser.set_defaults(kernels=KERNELS, prompts=MEMORY_PROMPTS)
    smoke = f"1 round, 1 kernel of each kind, a {SMOKE_PROMPTS * 3}-call run, {SMOKE_LATENCY_MS} ms"
    args = parse_args(parser, argv, smoke, kernels=1, prompts=SMOKE_PROMPTS)
    rounds, kernels, prompts = args.rounds, args.kernels, args.prompts

    imports = import_times(rounds)
    with isolated_cache():
        with llmock_server(args.latency_ms) as base:
            point_env_at(base)
            runs = first_run(kernels)
        with llmock_server(50) as base:
            point_env_at(base)
            mem = memory(prompts)

    ratio = statistics.median(imports["orbit_nb"]) / statistics.median(imports["pandas"])
    first, paused, warm = (statistics.median(runs[k]) for k in ("first", "paused", "warm"))
    rows = mem["rows"]
    grown = mem["peak"] - mem["before"]
    lines = [
        f"{machine()}; medians with min-max.",
        "",
        "| figure | orbit_nb | reference | ratio |",
        "|---|---:|---:|---:|",
        f"| import (fresh interpreter, {rounds} rounds) | {_spread(imports['orbit_nb'])} "
        f"| pandas {_spread(imports['pandas'])} | {ratio:.2f} |",
        f"| fresh kernel: first %%orbit cell right after %load_ext (3 calls, "
        f"{args.latency_ms} ms latency, {kernels} kernels) | {_spread(runs['first'])} "
        f"| same cell again {_spread(runs['warm'])} | {first / warm:.2f} |",
        f"| fresh kernel: first %%orbit cell {PAUSE:g} s after %load_ext "
        f"| {_spread(runs['paused'])} | same cell again {_spread(runs['warm'])} "
        f"| {paused / warm:.2f} |",
        f"| {rows:,}-call run: peak RSS | {mem['peak'] / 2**20:.0f} MB | "
        f"before the run {mem['before'] / 2**20:.0f} MB | |",
        f"| {rows:,}-call run: RSS growth per row | {grown / max(rows, 1) / 1024:.1f} KB | | |",
        f"| {rows:,}-call run: DataFrame bytes per row | {mem['frame'] / max(rows, 1):,.0f} B "
        f"| | |",
        "",
        f"ok rows: {mem['ok']}/{rows}. Targets: import orbit_nb <= import pandas "
        f"({'met' if ratio <= 1 else 'MISSED'}).",
    ]
    print("\n".join(lines))
    if wants_write(args):
        write_section("footprint.py", lines)


if __name__ == "__main__":
    main()
