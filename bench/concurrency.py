"""Fan-out benchmark: orbit_nb.compare() against hand-written asyncio.gather on the SDKs.

300 calls (100 distinct prompts x 3 providers, max_tokens=64) go to LLMock, a
real local server speaking the Anthropic, OpenAI and Gemini wire formats, run
as a subprocess so its CPU does not share this process's GIL. Each call waits
``--latency-ms`` (default 1000) on the server, so wall time above that is
client overhead: CPU spent building requests and parsing answers.

* raw: ``asyncio.gather`` of the 300 calls with ``AsyncAnthropic``,
  ``AsyncOpenAI`` and an ``httpx2.AsyncClient`` for Gemini, the clients built
  once outside the timed region, as a careful engineer would write it.
* orbit: ``orbit_nb.compare(prompts, models, max_tokens=64, concurrency=100)``.

Both sides get a warm-up run, then alternate for ``--rounds`` rounds; the
medians of wall time and process CPU time (``time.process_time``: every thread
of this process, not the server) are printed and written to a dated section of
``bench/results.md`` (not with ``--no-write`` or ``--smoke``). Every run uses
fresh prompt texts, so no cache can help. The figures are measurements, not
assertions; the target is orbit/raw wall time <= 1.15.

    .venv/bin/python bench/concurrency.py [--rounds 3] [--latency-ms 1000] [--no-write]
    .venv/bin/python bench/concurrency.py --smoke   # 3 prompts, 1 round, 50 ms; writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from common import (
    FAKE_KEYS,
    RESULTS,
    SMOKE_LATENCY_MS,
    isolated_cache,
    llmock_server,
    machine,
    parse_args,
    point_env_at,
    raw_anthropic,
    raw_openai,
    wants_write,
    write_section,
)

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
N_PROMPTS = 100
SMOKE_PROMPTS = 3
MAX_TOKENS = 64
CONCURRENCY = 100
TARGET_RATIO = 1.15


# ---------------------------------------------------------------- workload


def make_prompts(tag: str, n: int = N_PROMPTS) -> list[str]:
    """``n`` distinct prompts; ``tag`` makes every run's texts new."""
    return [f"[{tag}] Question {i}: explain idea number {i} in one sentence." for i in range(n)]


class RawSide:
    """The hand-written baseline: official async SDKs and one gather, on its own loop."""

    def __init__(self, base: str) -> None:
        import anthropic
        import httpx2
        import openai

        self.loop = asyncio.new_event_loop()
        self.anthropic = anthropic.AsyncAnthropic(
            base_url=f"{base}/anthropic", api_key=FAKE_KEYS["ANTHROPIC_API_KEY"], max_retries=0
        )
        self.openai = openai.AsyncOpenAI(
            base_url=f"{base}/v1", api_key=FAKE_KEYS["OPENAI_API_KEY"], max_retries=0
        )
        self.gemini = httpx2.AsyncClient(
            base_url=f"{base}/gemini",
            headers={"x-goog-api-key": FAKE_KEYS["GEMINI_API_KEY"]},
            limits=httpx2.Limits(max_connections=200, max_keepalive_connections=200),
            timeout=httpx2.Timeout(60.0, pool=None),
        )

    async def _anthropic(self, prompt: str) -> str:
        return await raw_anthropic(self.anthropic, prompt, MAX_TOKENS)

    async def _openai(self, prompt: str) -> str:
        return await raw_openai(self.openai, prompt, MAX_TOKENS)

    async def _gemini(self, prompt: str) -> str:
        response = await self.gemini.post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            json={
                "contents": [{"role": "user", "parts": [{"text": prompt}]}],
                "generationConfig": {"maxOutputTokens": MAX_TOKENS},
            },
        )
        response.raise_for_status()
        data = response.json()
        return "".join(p.get("text", "") for p in data["candidates"][0]["content"]["parts"])

    async def _gather(self, prompts: list[str]) -> int:
        calls = [f(p) for p in prompts for f in (self._anthropic, self._openai, self._gemini)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return sum(isinstance(r, str) for r in results)

    def run(self, prompts: list[str]) -> int:
        """Make every call; return how many succeeded."""
        return self.loop.run_until_complete(self._gather(prompts))

    def close(self) -> None:
        async def _close() -> None:
            await self.anthropic.close()
            await self.openai.close()
            await self.gemini.aclose()

        self.loop.run_until_complete(_close())
        self.loop.close()


def orbit_run(prompts: list[str]) -> int:
    """One compare() call; return how many rows came back with status ok."""
    import orbit_nb

    df = orbit_nb.compare(prompts, MODELS, max_tokens=MAX_TOKENS, concurrency=CONCURRENCY)
    if len(df) != len(prompts) * len(MODELS):
        print(f"  ! orbit returned {len(df)} rows, expected {len(prompts) * len(MODELS)}")
    return int((df["status"] == "ok").sum())


# ---------------------------------------------------------------- measurement


@dataclass
class Sample:
    side: str
    round: int
    wall_s: float
    cpu_s: float
    ok: int


def measure(side: str, rnd: int, fn: Callable[[list[str]], int], prompts: list[str]) -> Sample:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ok = fn(prompts)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return Sample(side, rnd, wall, cpu, ok)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--latency-ms", type=int, default=1000, help="LLMock latency per call")
    parser.add_argument("--warmup-prompts", type=int, default=10, help="prompts in the warm-up")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.md")
    parser.set_defaults(prompts=N_PROMPTS)
    smoke = f"{SMOKE_PROMPTS} prompts, 1 round after a 1-prompt warm-up, {SMOKE_LATENCY_MS} ms"
    args = parse_args(parser, argv, smoke, prompts=SMOKE_PROMPTS, warmup_prompts=1)

    calls = args.prompts * len(MODELS)
    samples: list[Sample] = []
    with llmock_server(args.latency_ms) as base, isolated_cache():
        point_env_at(base)
        raw = RawSide(base)
        try:
            sides: dict[str, Callable[[list[str]], int]] = {"raw": raw.run, "orbit": orbit_run}
            for name, fn in sides.items():  # imports, clients, first connections
                fn(make_prompts(f"warm-{name}", args.warmup_prompts))
            print(
                f"{calls} calls ({args.prompts} prompts x {len(MODELS)} providers), "
                f"LLMock latency {args.latency_ms} ms, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}"
            )
            for rnd in range(args.rounds):
                order = ["raw", "orbit"] if rnd % 2 == 0 else ["orbit", "raw"]
                for name in order:
                    prompts = make_prompts(f"r{rnd}-{name}", args.prompts)
                    s = measure(name, rnd, sides[name], prompts)
                    samples.append(s)
                    print(
                        f"  round {rnd + 1} {name:<5} wall {s.wall_s:6.3f} s  "
                        f"cpu {s.cpu_s:6.3f} s  ok {s.ok}/{calls}"
                    )
        finally:
            raw.close()

    table, ratio, all_ok = summarise(samples, calls)
    print()
    print(table)
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"\norbit/raw wall ratio {ratio:.3f} ({verdict} the <= {TARGET_RATIO} target)")
    print(f"orbit rows with status ok: {all_ok} (every round must show {calls}/{calls})")
    if wants_write(args):
        write_results(table, ratio, args)
        print(f"figures written to {RESULTS.name}")


def summarise(samples: list[Sample], calls: int) -> tuple[str, float, str]:
    med: dict[str, dict[str, float]] = {}
    for side in ("raw", "orbit"):
        mine = [s for s in samples if s.side == side]
        med[side] = {
            "wall": statistics.median(s.wall_s for s in mine),
            "cpu": statistics.median(s.cpu_s for s in mine),
            "ok_min": min(s.ok for s in mine),
        }
    ratio = med["orbit"]["wall"] / med["raw"]["wall"]
    header = "| side  | wall median (s) | CPU median (s) | CPU ms/call | ok (worst round) |"
    rule = "|-------|----------------:|---------------:|------------:|-----------------:|"
    lines = [header, rule]
    for side in ("raw", "orbit"):
        m = med[side]
        ok = f"{int(m['ok_min'])}/{calls}"
        lines.append(
            f"| {side:<5} | {m['wall']:15.3f} | {m['cpu']:14.3f} | "
            f"{1000 * m['cpu'] / calls:11.2f} | {ok:>16} |"
        )
    lines.append(
        f"| ratio | {ratio:15.3f} | {med['orbit']['cpu'] / med['raw']['cpu']:14.3f} | "
        f"{'orbit/raw':>11} | {'':>16} |"
    )
    orbit_ok = [s.ok for s in samples if s.side == "orbit"]
    return "\n".join(lines), ratio, ", ".join(f"{n}/{calls}" for n in orbit_ok)


def write_results(table: str, ratio: float, args: argparse.Namespace) -> None:
    """Replace today's section of bench/results.md (or append one)."""
    write_section(
        "concurrency.py",
        [
            f"{N_PROMPTS} prompts x {len(MODELS)} providers = {N_PROMPTS * len(MODELS)} calls, "
            f"max_tokens {MAX_TOKENS}, LLMock latency {args.latency_ms} ms (subprocess), "
            f"median of {args.rounds} alternating rounds; {machine()}.",
            "",
            table,
            "",
            f"orbit/raw wall ratio: **{ratio:.3f}** (target <= {TARGET_RATIO}).",
        ],
    )


if __name__ == "__main__":
    main()
