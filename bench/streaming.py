"""Streaming benchmark: time to first token, total time and client CPU per call,
streamed against unstreamed, per provider.

Each provider has its own LLMock (a subprocess, so its CPU does not share this
process's GIL) answering every call with the same scripted text of
``--words`` words after ``--latency-ms``; a streamed answer comes one word a
chunk, ``--chunk-delay-ms`` apart (LLMock's chunk delay). Per provider, two
sides take turns for ``--rounds`` rounds after a warm-up of each, their order
swapped every round, each run with fresh prompts and no cache:

* unstreamed: ``orbit_nb.compare(prompts, [model], cache=False, concurrency=N)``;
* streamed: the same with ``stream=True``.

Reported per provider and side, as medians over the rounds: the rows' median
``ttft_s`` (streamed only) and ``latency_s``, the run's wall time, and client
CPU per call (``time.process_time``: every thread of this process). Then each
provider's streamed/unstreamed CPU-per-call ratio (goal: <= 1.3). The
figures are measurements, not assertions; ``--write`` adds them to a dated
section of ``bench/results.md`` (never with ``--smoke``).

    .venv/bin/python bench/streaming.py [--prompts 60] [--rounds 5] [--write]
    .venv/bin/python bench/streaming.py --smoke   # 3 prompts, 1 round, 50 ms; writes nothing
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import urllib.request
from dataclasses import dataclass

from common import (
    PROVIDERS,
    SMOKE_LATENCY_MS,
    isolated_cache,
    llmock_servers,
    machine,
    parse_args,
    point_env_at,
    wants_write,
    write_section,
)

MODELS = {
    "anthropic": "anthropic:claude-haiku-4-5",
    "openai": "openai:gpt-4o-mini",
    "gemini": "gemini:gemini-2.5-flash",
}
SIDES = ("unstreamed", "streamed")
N_PROMPTS = 60
SMOKE_PROMPTS = 3
GOAL = 1.3


def script_reply(server: str, words: int) -> None:
    """Make ``server`` answer every call with the same ``words``-word text."""
    text = " ".join(f"word{i}" for i in range(words))
    payload = {"behaviors": [{"type": "reply", "text": text, "times": None}]}
    request = urllib.request.Request(
        f"{server}/_llmock/scenario",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


@dataclass
class Sample:
    provider: str
    side: str
    wall_s: float
    cpu_s: float
    calls: int
    ok: int
    ttft_s: float  # the median of the run's rows (NaN unstreamed)
    latency_s: float  # likewise


def run(provider: str, side: str, prompts: list[str]) -> Sample:
    import orbit_nb

    cpu0, wall0 = time.process_time(), time.perf_counter()
    df = orbit_nb.compare(
        prompts,
        [MODELS[provider]],
        cache=False,
        concurrency=len(prompts),  # every call in flight at once, whatever the provider
        stream=side == "streamed",
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    ok = df[df["status"] == "ok"]
    return Sample(
        provider,
        side,
        wall,
        cpu,
        len(df),
        len(ok),
        float(ok["ttft_s"].median()),
        float(ok["latency_s"].median()),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=N_PROMPTS, help="calls per run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--latency-ms", type=int, default=200, help="LLMock latency per call")
    parser.add_argument("--chunk-delay-ms", type=int, default=20, help="between streamed chunks")
    parser.add_argument("--words", type=int, default=40, help="words per answer (one a chunk)")
    parser.add_argument("--write", action="store_true", help="update bench/results.md")
    smoke = f"{SMOKE_PROMPTS} prompts, 1 round, {SMOKE_LATENCY_MS} ms, 10 words 5 ms apart"
    args = parse_args(parser, argv, smoke, prompts=SMOKE_PROMPTS, words=10, chunk_delay_ms=5)

    # The servers read their chunk delay from the environment they start with.
    os.environ["LLMOCK_STREAM_CHUNK_DELAY_MS"] = str(args.chunk_delay_ms)
    samples: list[Sample] = []
    load = os.getloadavg()[0]
    with llmock_servers(args.latency_ms, len(PROVIDERS)) as servers, isolated_cache():
        point_env_at(servers)
        for server in servers:
            script_reply(server, args.words)
        print(
            f"{args.prompts} calls a run, {args.words}-word answers, LLMock latency "
            f"{args.latency_ms} ms, chunks {args.chunk_delay_ms} ms apart; {machine()}"
        )
        for provider in PROVIDERS:  # imports, clients, first connections
            for side in SIDES:
                run(provider, side, [f"warm-up {side} {i}" for i in range(3)])
        for rnd in range(args.rounds):
            for provider in PROVIDERS:
                for side in SIDES if rnd % 2 == 0 else SIDES[::-1]:
                    prompts = [f"[{rnd} {side}] question {i}" for i in range(args.prompts)]
                    s = run(provider, side, prompts)
                    samples.append(s)
                    print(
                        f"  round {rnd + 1} {provider:<9} {side:<10} wall {s.wall_s:6.3f} s  "
                        f"cpu {1000 * s.cpu_s / s.calls:6.2f} ms/call  ttft {s.ttft_s:6.3f} s  "
                        f"latency {s.latency_s:6.3f} s  ok {s.ok}/{s.calls}"
                    )

    table, cpu = summarise(samples)
    print()
    print(table)
    line = ratio_line(cpu, args.words)
    print(f"\n{line}")
    if wants_write(args):
        write_section(
            "streaming.py",
            [
                f"{args.prompts} calls a run per provider, {args.words}-word answers, LLMock "
                f"latency {args.latency_ms} ms and {args.chunk_delay_ms} ms between streamed "
                f"chunks (subprocesses, one per provider), median of {args.rounds} alternating "
                f"rounds; {machine()}, load average {load:.1f} at the start.",
                "",
                table,
                "",
                line,
            ],
        )
        print("figures written to results.md")


def summarise(samples: list[Sample]) -> tuple[str, dict[str, dict[str, float]]]:
    """The table, and each provider's median CPU ms per call by side."""
    lines = [
        "| provider | side | ttft median (s) | latency median (s) | wall median (s) "
        "| CPU ms/call | ok (worst round) |",
        "|----------|------|----------------:|-------------------:|----------------:"
        "|------------:|-----------------:|",
    ]
    cpu_ms: dict[str, dict[str, float]] = {}
    for provider in PROVIDERS:
        cpu = cpu_ms[provider] = {}
        for side in SIDES:
            mine = [s for s in samples if (s.provider, s.side) == (provider, side)]
            cpu[side] = statistics.median(1000 * s.cpu_s / s.calls for s in mine)
            ttft = statistics.median(s.ttft_s for s in mine)
            ttft_cell = f"{ttft:15.3f}" if side == "streamed" else f"{'-':>15}"
            worst = min(mine, key=lambda s: s.ok)
            lines.append(
                f"| {provider} | {side} | {ttft_cell} "
                f"| {statistics.median(s.latency_s for s in mine):18.3f} "
                f"| {statistics.median(s.wall_s for s in mine):15.3f} "
                f"| {cpu[side]:11.2f} | {f'{worst.ok}/{worst.calls}':>16} |"
            )
    return "\n".join(lines), cpu_ms


def ratio_line(cpu_ms: dict[str, dict[str, float]], words: int) -> str:
    """Each provider's streamed/unstreamed CPU ratio, and the extra CPU per streamed word."""
    ratios = {p: cpu["streamed"] / cpu["unstreamed"] for p, cpu in cpu_ms.items()}
    figures = ", ".join(
        f"{p} **{ratios[p]:.2f}** (+{1000 * (cpu['streamed'] - cpu['unstreamed']) / words:.0f} "
        "µs a word)"
        for p, cpu in cpu_ms.items()
    )
    verdict = "meets" if all(r <= GOAL for r in ratios.values()) else "MISSES"
    return f"CPU per call streamed/unstreamed: {figures} ({verdict} the <= {GOAL} goal)."


if __name__ == "__main__":
    main()
