"""Streaming benchmark: time to first token, total time and client CPU per call,
streamed against unstreamed, per provider, for orbit and for the raw clients.

Each provider has its own LLMock (a subprocess, so its CPU does not share this
process's GIL) answering every call with the same scripted text of
``--words`` words after ``--latency-ms``; a streamed answer comes one word a
chunk, ``--chunk-delay-ms`` apart (LLMock's chunk delay). Per provider, four
sides take turns for ``--rounds`` rounds after a warm-up of each, their order
rotated every round, each run with fresh prompts, no cache, and a full garbage
collection just before it (so a run pays for its own garbage, not the last one's):

* orbit unstreamed: ``orbit_nb.compare(prompts, [model], cache=False, concurrency=N)``;
* orbit streamed: the same with ``stream=True``;
* raw unstreamed and raw streamed, the reference: the same calls by hand, one
  ``asyncio.gather`` on a loop of the engine's kind (uvloop where orbit uses it),
  with the official clients on the transport orbit uses: ``AsyncOpenAI`` and
  ``AsyncAnthropic`` with ``http_client=DefaultAioHttpClient()`` (``max_retries=0``),
  streamed as ``chat.completions.create(..., stream=True, stream_options=
  {"include_usage": True})`` and ``messages.create(..., stream=True)`` iterated to
  their end; Gemini with a bare ``aiohttp.ClientSession`` posting
  ``:generateContent``, or ``:streamGenerateContent?alt=sse`` read line by line,
  each ``data:`` line parsed as JSON.

Reported per provider, client and side, as medians over the rounds: the median
``ttft_s`` (streamed only) and latency of the run's calls, the run's wall time,
and client CPU per call (``time.process_time``: every thread of this process).
Then, per provider, orbit's and the raw clients' streamed/unstreamed CPU-per-call
ratios (goal for orbit: <= 1.3), the extra CPU a streamed word (one chunk) costs
each, and orbit's excess over the raw clients. The figures are measurements, not
assertions; ``--write`` adds them to a dated section of ``bench/results.md``
(never with ``--smoke``).

    .venv/bin/python bench/streaming.py [--prompts 60] [--rounds 5] [--write]
    .venv/bin/python bench/streaming.py --smoke   # 3 prompts, 1 round, 50 ms; writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import statistics
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from common import (
    FAKE_KEYS,
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
CLIENTS = ("orbit", "raw")
SIDES = ("unstreamed", "streamed")
N_PROMPTS = 60
SMOKE_PROMPTS = 3
GOAL = 1.3
#: The Messages API requires max_tokens; LLMock's scripted answer ignores it.
RAW_MAX_TOKENS = 1024
#: Seconds the raw clients keep an idle connection: less than the 5 s after which
#: LLMock (uvicorn) closes one, so no call goes out on a connection the server is
#: closing just then (they do not retry; orbit does, and counts that CPU).
RAW_KEEPALIVE_S = 4.0


def answer_text(words: int) -> str:
    """The scripted answer: ``words`` words, one a streamed chunk."""
    return " ".join(f"word{i}" for i in range(words))


def script_reply(server: str, words: int) -> None:
    """Make ``server`` answer every call with the same ``words``-word text."""
    payload = {"behaviors": [{"type": "reply", "text": answer_text(words), "times": None}]}
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
    client: str  # "orbit" or "raw"
    side: str
    wall_s: float
    cpu_s: float
    calls: int
    ok: int
    ttft_s: float  # the median of the run's answered calls (NaN unstreamed)
    latency_s: float  # likewise


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def run_orbit(provider: str, side: str, prompts: list[str]) -> Sample:
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
        "orbit",
        side,
        wall,
        cpu,
        len(df),
        len(ok),
        float(ok["ttft_s"].median()),
        float(ok["latency_s"].median()),
    )


# ---------------------------------------------------------------- the raw clients


#: One call: its answer's text, and the seconds to its first text (None unstreamed).
Answer = tuple[str, float | None]


class RawClients:
    """The reference: the official SDK clients on their aiohttp transport, and bare
    aiohttp for Gemini, called by hand on a private loop of the engine's kind.
    Built after :func:`~common.point_env_at`: the SDKs read their base URLs and
    keys from the environment."""

    def __init__(self) -> None:
        import anthropic
        import httpx2
        import openai

        from orbit_nb.engine import new_loop

        # The engine's kind of loop (uvloop where orbit uses it): the loop's own
        # work per chunk is then the same on both sides.
        self.loop = new_loop()
        self.how = type(self.loop).__module__.split(".")[0]
        # The SDKs' default pool, but idle connections kept RAW_KEEPALIVE_S.
        limits = httpx2.Limits(
            max_connections=1000, max_keepalive_connections=100, keepalive_expiry=RAW_KEEPALIVE_S
        )
        self.openai = openai.AsyncOpenAI(
            max_retries=0, http_client=openai.DefaultAioHttpClient(limits=limits)
        )
        self.anthropic = anthropic.AsyncAnthropic(
            max_retries=0, http_client=anthropic.DefaultAioHttpClient(limits=limits)
        )
        self.gemini_base = os.environ["GEMINI_BASE_URL"]
        self.gemini_headers = {"x-goog-api-key": FAKE_KEYS["GEMINI_API_KEY"]}
        self._gemini: Any = None  # an aiohttp.ClientSession, made on the loop
        self._latencies: list[float] = []  # of the calls of the current run
        self.calls: dict[tuple[str, bool], Callable[[str], Awaitable[Answer]]] = {
            ("openai", False): self._openai,
            ("openai", True): self._openai_streamed,
            ("anthropic", False): self._anthropic,
            ("anthropic", True): self._anthropic_streamed,
            ("gemini", False): self._gemini_call,
            ("gemini", True): self._gemini_streamed,
        }

    async def _openai(self, prompt: str) -> Answer:
        response = await self.openai.chat.completions.create(
            model=_model("openai"), messages=[{"role": "user", "content": prompt}]
        )
        return response.choices[0].message.content or "", None

    async def _openai_streamed(self, prompt: str) -> Answer:
        start, first, pieces, usage = time.perf_counter(), None, [], None
        stream = await self.openai.chat.completions.create(
            model=_model("openai"),
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            usage = chunk.usage or usage
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.perf_counter()
                pieces.append(chunk.choices[0].delta.content)
        assert usage is not None, "no usage in the stream"
        return "".join(pieces), _since(start, first)

    async def _anthropic(self, prompt: str) -> Answer:
        message = await self.anthropic.messages.create(
            model=_model("anthropic"),
            max_tokens=RAW_MAX_TOKENS,
            messages=[{"role": "user", "content": prompt}],
        )
        return "".join(b.text for b in message.content if b.type == "text"), None

    async def _anthropic_streamed(self, prompt: str) -> Answer:
        start, first, pieces, usage = time.perf_counter(), None, [], None
        stream = await self.anthropic.messages.create(
            model=_model("anthropic"),
            max_tokens=RAW_MAX_TOKENS,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
        )
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                first = first or time.perf_counter()
                pieces.append(event.delta.text)
            elif event.type == "message_delta":
                usage = event.usage
        assert usage is not None, "no message_delta usage in the stream"
        return "".join(pieces), _since(start, first)

    def _gemini_session(self) -> Any:
        import aiohttp

        if self._gemini is None:
            self._gemini = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1000, keepalive_timeout=RAW_KEEPALIVE_S)
            )
        return self._gemini

    def _gemini_url(self, method: str) -> str:
        return f"{self.gemini_base}/v1beta/models/{_model('gemini')}:{method}"

    async def _gemini_call(self, prompt: str) -> Answer:
        async with self._gemini_session().post(
            self._gemini_url("generateContent"),
            json=_gemini_body(prompt),
            headers=self.gemini_headers,
        ) as response:
            response.raise_for_status()
            data = await response.json()
        return _gemini_text(data), None

    async def _gemini_streamed(self, prompt: str) -> Answer:
        start, first, pieces, usage = time.perf_counter(), None, [], None
        async with self._gemini_session().post(
            self._gemini_url("streamGenerateContent?alt=sse"),
            json=_gemini_body(prompt),
            headers=self.gemini_headers,
        ) as response:
            response.raise_for_status()
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue
                chunk = json.loads(line[5:])
                usage = chunk.get("usageMetadata") or usage
                text = _gemini_text(chunk)
                if text:
                    first = first or time.perf_counter()
                    pieces.append(text)
        assert usage is not None, "no usageMetadata in the stream"
        return "".join(pieces), _since(start, first)

    async def _timed(self, call: Callable[[str], Awaitable[Answer]], prompt: str) -> Answer:
        start = time.perf_counter()
        text, ttft = await call(prompt)
        self._latencies.append(time.perf_counter() - start)
        return text, ttft

    def run(self, provider: str, side: str, prompts: list[str], expected: str) -> Sample:
        """One gather of ``prompts`` to ``provider``; an answer is ok if its text is
        ``expected``."""
        call = self.calls[provider, side == "streamed"]
        self._latencies = []

        async def gather() -> list[Answer | BaseException]:
            calls = [self._timed(call, prompt) for prompt in prompts]
            return await asyncio.gather(*calls, return_exceptions=True)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = self.loop.run_until_complete(gather())
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        answered = [r for r in results if not isinstance(r, BaseException) and r[0] == expected]
        errors = {f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException)}
        for error in sorted(errors)[:3]:
            print(f"  ! raw {provider} {side}: {error}")
        ttfts = [t for _, t in answered if t is not None]
        return Sample(
            provider,
            "raw",
            side,
            wall,
            cpu,
            len(prompts),
            len(answered),
            median(ttfts),
            median(self._latencies),
        )

    def close(self) -> None:
        async def close() -> None:
            await self.openai.close()
            await self.anthropic.close()
            if self._gemini is not None:
                await self._gemini.close()

        self.loop.run_until_complete(close())
        self.loop.close()


def _model(provider: str) -> str:
    return MODELS[provider].split(":", 1)[1]


def _since(start: float, first: float | None) -> float | None:
    return None if first is None else first - start


def _gemini_body(prompt: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}


def _gemini_text(data: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in data["candidates"][0]["content"]["parts"])


# ---------------------------------------------------------------- the driver


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
    expected = answer_text(args.words)
    samples: list[Sample] = []
    load = os.getloadavg()[0]
    with llmock_servers(args.latency_ms, len(PROVIDERS)) as servers, isolated_cache():
        point_env_at(servers)
        for server in servers:
            script_reply(server, args.words)
        raw = RawClients()
        try:
            sides = [(client, side) for client in CLIENTS for side in SIDES]

            def run(provider: str, client: str, side: str, prompts: list[str]) -> Sample:
                if client == "orbit":
                    return run_orbit(provider, side, prompts)
                return raw.run(provider, side, prompts, expected)

            print(
                f"{args.prompts} calls a run, {args.words}-word answers, LLMock latency "
                f"{args.latency_ms} ms, chunks {args.chunk_delay_ms} ms apart; raw clients on "
                f"a {raw.how} loop; {machine()}"
            )
            for provider in PROVIDERS:  # imports, clients, first connections
                for client, side in sides:
                    run(provider, client, side, [f"warm-up {client} {side} {i}" for i in range(3)])
            for rnd in range(args.rounds):
                for provider in PROVIDERS:
                    for client, side in sides[rnd % 4 :] + sides[: rnd % 4]:
                        prompts = [
                            f"[{rnd} {client} {side}] question {i}" for i in range(args.prompts)
                        ]
                        # A full collection now, not in the middle of some run: each run
                        # pays for its own garbage, not for what the one before it left.
                        gc.collect()
                        s = run(provider, client, side, prompts)
                        samples.append(s)
                        print(
                            f"  round {rnd + 1} {provider:<9} {client:<5} {side:<10} "
                            f"wall {s.wall_s:6.3f} s  cpu {1000 * s.cpu_s / s.calls:6.2f} ms/call  "
                            f"ttft {s.ttft_s:6.3f} s  latency {s.latency_s:6.3f} s  "
                            f"ok {s.ok}/{s.calls}"
                        )
        finally:
            raw.close()

    table, cpu = summarise(samples)
    costs = cost_table(cpu, args.words)
    line = ratio_line(cpu, args.words)
    failed = failures(samples)
    print()
    print(table)
    print()
    print(costs)
    print(f"\n{line}")
    if failed:
        print(failed)
    if wants_write(args):
        write_section(
            "streaming.py",
            [
                f"{args.prompts} calls a run per provider, {args.words}-word answers, LLMock "
                f"latency {args.latency_ms} ms and {args.chunk_delay_ms} ms between streamed "
                f"chunks (subprocesses, one per provider), median of {args.rounds} rounds, the "
                f"sides' order rotated every round; raw clients on a {raw.how} loop; "
                f"{machine()}, load average {load:.1f} at the start.",
                "",
                table,
                "",
                costs,
                "",
                line,
                *(["", failed] if failed else []),
            ],
        )
        print("figures written to results.md")


def summarise(samples: list[Sample]) -> tuple[str, dict[str, dict[str, float]]]:
    """The table, and the median CPU ms per call of each (provider, client) by side."""
    lines = [
        "| provider | client | side | ttft median (s) | latency median (s) | wall median (s) "
        "| CPU ms/call | ok (worst round) |",
        "|----------|--------|------|----------------:|-------------------:|----------------:"
        "|------------:|-----------------:|",
    ]
    cpu_ms: dict[str, dict[str, float]] = {}
    for provider in PROVIDERS:
        for client in CLIENTS:
            cpu = cpu_ms[f"{provider} {client}"] = {}
            for side in SIDES:
                mine = [
                    s for s in samples if (s.provider, s.client, s.side) == (provider, client, side)
                ]
                cpu[side] = statistics.median(1000 * s.cpu_s / s.calls for s in mine)
                ttft = median([s.ttft_s for s in mine])
                ttft_cell = f"{ttft:15.3f}" if side == "streamed" else f"{'-':>15}"
                worst = min(mine, key=lambda s: s.ok)
                lines.append(
                    f"| {provider} | {client} | {side} | {ttft_cell} "
                    f"| {median([s.latency_s for s in mine]):18.3f} "
                    f"| {statistics.median(s.wall_s for s in mine):15.3f} "
                    f"| {cpu[side]:11.2f} | {f'{worst.ok}/{worst.calls}':>16} |"
                )
    return "\n".join(lines), cpu_ms


def failures(samples: list[Sample]) -> str:
    """A note naming the sides where calls failed ("" if none did): fewer calls
    answered, so their CPU per call is not comparable."""
    failed = sorted({f"{s.provider} {s.client} {s.side}" for s in samples if s.ok < s.calls})
    if not failed:
        return ""
    return (
        f"(!) calls failed in some round of: {', '.join(failed)}; "
        "their CPU per call is not comparable."
    )


def _ratio(cpu: dict[str, float]) -> float:
    return cpu["streamed"] / cpu["unstreamed"]


def _per_word(cpu: dict[str, float], words: int) -> float:
    """Extra CPU µs a streamed word (one chunk) costs, over the unstreamed call."""
    return 1000 * (cpu["streamed"] - cpu["unstreamed"]) / words


def cost_table(cpu_ms: dict[str, dict[str, float]], words: int) -> str:
    """Per provider: each client's streamed/unstreamed CPU ratio and extra CPU per
    streamed word, and what orbit adds per word beyond the raw clients."""
    lines = [
        "| provider | orbit streamed/unstreamed | raw streamed/unstreamed "
        "| orbit µs a word | raw µs a word | orbit - raw µs a word |",
        "|----------|--------------------------:|------------------------:"
        "|----------------:|--------------:|----------------------:|",
    ]
    for provider in PROVIDERS:
        orbit, raw = cpu_ms[f"{provider} orbit"], cpu_ms[f"{provider} raw"]
        mine, theirs = _per_word(orbit, words), _per_word(raw, words)
        lines.append(
            f"| {provider} | {_ratio(orbit):25.2f} | {_ratio(raw):23.2f} "
            f"| {mine:15.0f} | {theirs:13.0f} | {mine - theirs:+21.0f} |"
        )
    return "\n".join(lines)


def ratio_line(cpu_ms: dict[str, dict[str, float]], words: int) -> str:
    """Orbit's streamed/unstreamed CPU ratio per provider (the raw clients' beside it),
    and the extra CPU per streamed word."""
    figures = ", ".join(
        f"{p} **{_ratio(cpu_ms[f'{p} orbit']):.2f}** "
        f"(+{_per_word(cpu_ms[f'{p} orbit'], words):.0f} µs a word; raw clients "
        f"{_ratio(cpu_ms[f'{p} raw']):.2f}, +{_per_word(cpu_ms[f'{p} raw'], words):.0f} µs)"
        for p in PROVIDERS
    )
    ratios = [_ratio(cpu_ms[f"{p} orbit"]) for p in PROVIDERS]
    verdict = "meets" if all(r <= GOAL for r in ratios) else "MISSES"
    return f"CPU per call streamed/unstreamed: {figures} ({verdict} the <= {GOAL} goal)."


if __name__ == "__main__":
    main()
