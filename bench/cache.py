"""Cache benchmark: the same 60-call comparison twice; the second run is served from cache.

20 prompts x 3 providers go to LLMock (a subprocess, 500 ms latency per call).
The first run calls every model; the second, identical run must send zero
requests (counted by LLMock's own request journal) and take a small fraction
of the first run's wall time. Several rounds, each with fresh prompt texts and
an empty cache directory, report the median. Target: second/first <= 0.05.
The figures go to a dated section of ``bench/results.md`` (not with
``--no-write`` or ``--smoke``).

    .venv/bin/python bench/cache.py [--rounds 5] [--latency-ms 500] [--no-write]
    .venv/bin/python bench/cache.py --smoke     # 3 prompts, 1 round, 50 ms; writes nothing
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request

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

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
N_PROMPTS = 20
SMOKE_PROMPTS = 3
TARGET = 0.05


def requests_seen(base: str) -> int:
    with urllib.request.urlopen(f"{base}/_llmock/requests", timeout=10) as response:
        data = json.load(response)
    return len(data["requests"] if isinstance(data, dict) else data)


def timed_run(prompts: list[str]) -> tuple[float, int, int]:
    import orbit_nb

    start = time.perf_counter()
    df = orbit_nb.compare(prompts, MODELS, max_tokens=64)
    wall = time.perf_counter() - start
    return wall, int(df["cached"].sum()), len(df)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.md")
    parser.set_defaults(prompts=N_PROMPTS)
    smoke = f"{SMOKE_PROMPTS} prompts x 3 providers, 1 round, {SMOKE_LATENCY_MS} ms"
    args = parse_args(parser, argv, smoke, prompts=SMOKE_PROMPTS)

    rows = []
    with llmock_server(args.latency_ms) as base:
        point_env_at(base)
        with isolated_cache():
            timed_run([f"warm-up {i}" for i in range(3)])  # imports and connections
        for rnd in range(args.rounds):
            prompts = [
                f"[round {rnd}] question {i}: why is the sky blue?" for i in range(args.prompts)
            ]
            with isolated_cache():
                before = requests_seen(base)
                first, _, n = timed_run(prompts)
                middle = requests_seen(base)
                second, hits, _ = timed_run(prompts)
                sent = requests_seen(base) - middle
            rows.append((first, second, middle - before, sent, hits, n))
            print(
                f"  round {rnd + 1}: first {first * 1000:7.1f} ms ({middle - before} requests)  "
                f"second {second * 1000:6.1f} ms ({sent} requests, {hits}/{n} from cache)  "
                f"ratio {second / first:.4f}"
            )
    first_med = statistics.median(r[0] for r in rows)
    second_med = statistics.median(r[1] for r in rows)
    ratio = second_med / first_med
    sent_total = sum(r[3] for r in rows)
    table = "\n".join(
        [
            "| run | wall median (ms) | requests sent (all rounds) |",
            "|-----|-----------------:|---------------------------:|",
            f"| first  | {first_med * 1000:16.1f} | {sum(r[2] for r in rows):26d} |",
            f"| second | {second_med * 1000:16.1f} | {sent_total:26d} |",
        ]
    )
    print()
    print(table)
    verdict = "meets" if ratio <= TARGET and sent_total == 0 else "MISSES"
    print(f"\nsecond/first wall ratio {ratio:.4f} ({verdict} the <= {TARGET} target, 0 requests)")
    if wants_write(args):
        write_section(
            "cache.py",
            [
                f"{N_PROMPTS} prompts x {len(MODELS)} providers = {N_PROMPTS * len(MODELS)} calls, "
                f"LLMock latency {args.latency_ms} ms (subprocess), run twice with an empty "
                f"diskcache; median of {args.rounds} rounds; {machine()}.",
                "",
                table,
                "",
                f"second/first wall ratio: **{ratio:.4f}** (target <= {TARGET}); "
                f"requests sent by second runs: **{sent_total}**.",
            ],
        )


if __name__ == "__main__":
    main()
