"""Client-speed benchmark: orbit_nb.compare() against hand-written SDK clients and LiteLLM.

Two measurements, both against LLMock (a real local server speaking the Anthropic,
OpenAI and Gemini wire formats) with a fixed latency per call (default 1 s), so no
keys and no network are needed and wall time above the latency is client overhead:

1. **Fan-out.** N calls at once (N/3 distinct prompts x anthropic:claude-haiku-4-5,
   openai:gpt-4o-mini, gemini:gemini-2.5-flash, max_tokens 64), N = 300, 1000, 3000
   (a size that is no multiple of 3 runs as the nearest one: 1000 as 999), by four sides:

   * ``orbit``: ``orbit_nb.compare(prompts, MODELS, max_tokens=64, concurrency=N)``,
     with its default cache, like a user (fresh texts every run, so it never hits);
   * ``raw-httpx``: one ``asyncio.gather`` over ``AsyncAnthropic`` and ``AsyncOpenAI`` on
     their default httpx2 transport and an ``httpx2.AsyncClient`` posting Gemini's REST
     ``generateContent``; ``max_retries=0``, connection limits >= N, the SDKs' default
     timeouts (600 s, connect 5 s; ``--connect-timeout`` changes the latter);
   * ``raw-aiohttp``: the same gather with the SDKs' ``DefaultAioHttpClient`` and a bare
     ``aiohttp.ClientSession`` for Gemini, limits >= N;
   * ``litellm``: ``asyncio.gather`` of ``litellm.acompletion`` calls, ``api_base`` pointed
     at LLMock, telemetry off and the local cost map (nothing touches the internet); its
     aiohttp connector limits (``AIOHTTP_CONNECTOR_LIMIT[_PER_HOST]``) raised to >= N.

2. **Blocking one-at-a-time.** The pattern orbit replaces: the sync SDKs (``Anthropic``,
   ``OpenAI``, ``httpx2.Client`` for Gemini) called one after another, 5 prompts x 3
   providers, against orbit's ``compare`` of the same 15 calls.

How: three LLMock servers, one subprocess and port per provider (one server alone
drops connections under 3000 calls). Each side lives in its own long-lived worker
process (``clients.py --worker SIDE``, this interpreter) that imports its libraries
and makes a first 3-call run once (both timed: the start-up cost), then answers
``run N TAG`` lines on stdin with one JSON line: wall time, CPU time
(``time.process_time``: every thread of the worker), calls answered, and peak RSS so
far. Every worker blocks connections to anything but loopback (an audit hook) and
reports any attempt. The driver runs one untimed warm-up per side and N, then
``--rounds`` rounds with the sides' order rotated each round, each run after >= 6 s of
idleness (LLMock closes idle connections after 5 s: reusing one then races the close,
so every run opens new connections instead); after every run it reads
the servers' request journals: requests that arrived and the peak number in flight at
once (below N: a pool that caps, or a client too slow to issue N calls within one
latency). Medians are printed, and with ``--write`` replace today's "clients.py"
section of ``bench/results.md``.

    .venv/bin/python bench/clients.py [--sizes 300,1000,3000] [--rounds 5] [--write]
    .venv/bin/python bench/clients.py --smoke     # N = 9, 1 round, 50 ms: a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from common import (
    FAKE_KEYS,
    isolated_cache,
    llmock_servers,
    point_env_at,
    raw_anthropic,
    raw_openai,
    write_section,
)

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
MAX_TOKENS = 64
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
FANOUT_SIDES = ("orbit", "raw-httpx", "raw-aiohttp", "litellm")
BLOCKING = "blocking"
BLOCKING_CALLS = 15  # 5 prompts x 3 providers
DEFAULT_SIZES = (300, 1000, 3000)
VERSIONS = ("orbit-nb", "anthropic", "openai", "aiohttp", "httpx2", "litellm", "uvloop")
LIBRARIES = {
    "orbit": "`import orbit_nb`; its first compare imports the SDKs",
    "raw-httpx": "`import anthropic, openai, httpx2`",
    "raw-aiohttp": "`import anthropic, openai, aiohttp`",
    "litellm": "`import litellm`",
    BLOCKING: "`import anthropic, openai, httpx2`",
}
REPLY_TIMEOUT_S = 900.0  # one command; a broken side fails the run instead of hanging it
# LLMock (uvicorn) closes a connection idle for 5 s, the clients keep one 5 s: a run that
# starts ~5 s after the side's last one races the server's close and fails calls with
# "Server disconnected" / ReadError. So every run starts after >= 6 s of idleness: all
# its connections are new, whatever N and the order of the sides.
IDLE_GAP_S = 6.0


# ---------------------------------------------------------------- workload (both processes)


def make_prompts(tag: str, n_prompts: int) -> list[str]:
    """``n_prompts`` distinct prompts; ``tag`` makes every run's texts new."""
    return [
        f"[{tag}] Question {i}: explain idea number {i} in one sentence." for i in range(n_prompts)
    ]


def _bases() -> dict[str, str]:
    """The providers' base URLs, as the driver put them in the environment."""
    return {
        "anthropic": os.environ["ANTHROPIC_BASE_URL"],
        "openai": os.environ["OPENAI_BASE_URL"],
        "gemini": os.environ["GEMINI_BASE_URL"],
    }


def _gemini_body(prompt: str) -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"maxOutputTokens": MAX_TOKENS},
    }


def _gemini_text(data: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in data["candidates"][0]["content"]["parts"])


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _distinct(messages: list[str], keep: int = 3) -> list[str]:
    return list(dict.fromkeys(messages))[:keep]


# ---------------------------------------------------------------- sides (in the workers)


class Side:
    """One way of making the calls. Built once per worker (the constructor imports)."""

    how = ""

    def run(self, prompts: list[str]) -> tuple[int, list[str]]:
        """Make every prompt x provider call; return (calls answered, a few error messages)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release clients and loops."""


class OrbitSide(Side):
    def __init__(self, limit: int, connect_s: float) -> None:
        import orbit_nb

        self.orbit = orbit_nb
        loop = "asyncio"
        with contextlib.suppress(Exception):  # orbit's config, as the engine reads it
            from orbit_nb.config import use_uvloop

            if use_uvloop() and importlib.util.find_spec("uvloop"):
                loop = "uvloop"
        self.how = f"`orbit_nb.compare(..., concurrency=N)`, default cache; engine loop: {loop}"

    def run(self, prompts: list[str]) -> tuple[int, list[str]]:
        calls = len(prompts) * len(MODELS)
        df = self.orbit.compare(prompts, MODELS, max_tokens=MAX_TOKENS, concurrency=calls)
        bad = df[df["status"] != "ok"]
        errors = [
            f"{row.status} {row.error_type}: {str(row.error_message)[:200]}"
            for row in bad.itertuples()
        ]
        if len(df) != calls:
            errors.insert(0, f"{len(df)} rows for {calls} calls")
        return int((df["status"] == "ok").sum()), _distinct(errors)


class AsyncRawSide(Side):
    """The hand-written baseline: official async SDKs and one gather, on a private loop."""

    def __init__(self, transport: str, limit: int, connect_s: float) -> None:
        import anthropic
        import httpx2
        import openai

        self.transport = transport
        self.limit = limit
        self.timeout = httpx2.Timeout(600.0, connect=connect_s)  # the SDKs' default: connect 5 s
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._open(anthropic, openai, httpx2))
        gemini = (
            f"aiohttp.ClientSession(TCPConnector(limit={limit}))"
            if transport == "aiohttp"
            else f"httpx2.AsyncClient(limits {limit})"
        )
        sdk_http = (
            f"DefaultAioHttpClient(limits {limit})"
            if transport == "aiohttp"
            else f"DefaultAsyncHttpxClient(limits {limit})"
        )
        self.how = (
            f"`asyncio.gather` on asyncio's loop: AsyncAnthropic / AsyncOpenAI "
            f"(max_retries=0, connect timeout {connect_s:g} s) on {sdk_http}; Gemini REST on "
            f"{gemini}"
        )

    async def _open(self, anthropic: Any, openai: Any, httpx2: Any) -> None:
        bases = _bases()
        limits = httpx2.Limits(max_connections=self.limit, max_keepalive_connections=self.limit)
        self.session: Any = None
        self.gemini: Any = None
        if self.transport == "aiohttp":
            import aiohttp

            a_http = anthropic.DefaultAioHttpClient(limits=limits)
            o_http = openai.DefaultAioHttpClient(limits=limits)
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit),
                headers={"x-goog-api-key": FAKE_KEYS["GEMINI_API_KEY"]},
                timeout=aiohttp.ClientTimeout(total=600, sock_connect=self.timeout.connect),
            )
            self.gemini_url = bases["gemini"] + GEMINI_PATH
        else:
            a_http = anthropic.DefaultAsyncHttpxClient(limits=limits)
            o_http = openai.DefaultAsyncHttpxClient(limits=limits)
            self.gemini = httpx2.AsyncClient(
                base_url=bases["gemini"],
                headers={"x-goog-api-key": FAKE_KEYS["GEMINI_API_KEY"]},
                limits=limits,
                timeout=self.timeout,
            )
        self.anthropic = anthropic.AsyncAnthropic(
            base_url=bases["anthropic"],
            api_key=FAKE_KEYS["ANTHROPIC_API_KEY"],
            max_retries=0,
            timeout=self.timeout,
            http_client=a_http,
        )
        self.openai = openai.AsyncOpenAI(
            base_url=bases["openai"],
            api_key=FAKE_KEYS["OPENAI_API_KEY"],
            max_retries=0,
            timeout=self.timeout,
            http_client=o_http,
        )

    async def _anthropic(self, prompt: str) -> str:
        return await raw_anthropic(self.anthropic, prompt, MAX_TOKENS)

    async def _openai(self, prompt: str) -> str:
        return await raw_openai(self.openai, prompt, MAX_TOKENS)

    async def _gemini(self, prompt: str) -> str:
        if self.session is not None:
            async with self.session.post(self.gemini_url, json=_gemini_body(prompt)) as resp:
                resp.raise_for_status()
                return _gemini_text(await resp.json())
        response = await self.gemini.post(GEMINI_PATH, json=_gemini_body(prompt))
        response.raise_for_status()
        return _gemini_text(response.json())

    def run(self, prompts: list[str]) -> tuple[int, list[str]]:
        calls = [self._anthropic, self._openai, self._gemini]
        return self.loop.run_until_complete(_gather([f(p) for p in prompts for f in calls]))

    def close(self) -> None:
        async def _close() -> None:
            await self.anthropic.close()
            await self.openai.close()
            if self.session is not None:
                await self.session.close()
            if self.gemini is not None:
                await self.gemini.aclose()

        self.loop.run_until_complete(_close())
        self.loop.close()


class LiteLLMSide(Side):
    """``litellm.acompletion`` for each call, one gather, on a private loop."""

    def __init__(self, limit: int, connect_s: float) -> None:
        # Before the import: the local cost map (no fetch) and a connector that never caps.
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        os.environ["AIOHTTP_CONNECTOR_LIMIT"] = str(limit)
        os.environ["AIOHTTP_CONNECTOR_LIMIT_PER_HOST"] = str(limit)
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        self.litellm: Any = litellm
        self.loop = asyncio.new_event_loop()
        bases = _bases()
        # api_base forms found in litellm's source and checked against LLMock: Anthropic's
        # is the root before /v1/messages; Gemini's gets /models/{model}:generateContent
        # appended, so it must carry the /v1beta version; OpenAI's is the usual /v1 root.
        self.targets = [
            ("anthropic/claude-haiku-4-5", bases["anthropic"], FAKE_KEYS["ANTHROPIC_API_KEY"]),
            ("openai/gpt-4o-mini", bases["openai"], FAKE_KEYS["OPENAI_API_KEY"]),
            ("gemini/gemini-2.5-flash", bases["gemini"] + "/v1beta", FAKE_KEYS["GEMINI_API_KEY"]),
        ]
        transport = "httpx" if getattr(litellm, "disable_aiohttp_transport", False) else "aiohttp"
        self.how = (
            "`asyncio.gather` of `litellm.acompletion(model, messages, max_tokens=64, api_base, "
            f"api_key, max_retries=0)` on asyncio's loop; litellm's {transport} transport, "
            f"connector limits {limit}; api_base: anthropic `{{anthropic base}}`, openai "
            "`{openai base}`, gemini `{gemini base}/v1beta`"
        )

    async def _call(self, model: str, base: str, key: str, prompt: str) -> str:
        response = await self.litellm.acompletion(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=MAX_TOKENS,
            api_base=base,
            api_key=key,
            max_retries=0,
        )
        return str(response.choices[0].message.content or "")

    def run(self, prompts: list[str]) -> tuple[int, list[str]]:
        coros = [self._call(m, b, k, p) for p in prompts for m, b, k in self.targets]
        return self.loop.run_until_complete(_gather(coros))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.litellm.close_litellm_async_clients())
        self.loop.close()


class BlockingSide(Side):
    """The sync SDKs, one call after another: what a notebook loop does without orbit."""

    how = (
        "a `for` loop over prompts x providers: Anthropic / OpenAI (sync, max_retries=0) "
        "and `httpx2.Client` for Gemini, one call at a time"
    )

    def __init__(self, limit: int, connect_s: float) -> None:
        import anthropic
        import httpx2
        import openai

        bases = _bases()
        timeout = httpx2.Timeout(600.0, connect=connect_s)
        self.anthropic = anthropic.Anthropic(
            base_url=bases["anthropic"],
            api_key=FAKE_KEYS["ANTHROPIC_API_KEY"],
            max_retries=0,
            timeout=timeout,
        )
        self.openai = openai.OpenAI(
            base_url=bases["openai"],
            api_key=FAKE_KEYS["OPENAI_API_KEY"],
            max_retries=0,
            timeout=timeout,
        )
        self.gemini = httpx2.Client(
            base_url=bases["gemini"],
            headers={"x-goog-api-key": FAKE_KEYS["GEMINI_API_KEY"]},
            timeout=timeout,
        )

    def _anthropic(self, prompt: str) -> str:
        message = self.anthropic.messages.create(
            model="claude-haiku-4-5",
            max_tokens=MAX_TOKENS,
            messages=[{"role": "user", "content": prompt}],
        )
        return "".join(b.text for b in message.content if b.type == "text")

    def _openai(self, prompt: str) -> str:
        response = self.openai.chat.completions.create(
            model="gpt-4o-mini",
            max_completion_tokens=MAX_TOKENS,
            messages=[{"role": "user", "content": prompt}],
        )
        return response.choices[0].message.content or ""

    def _gemini(self, prompt: str) -> str:
        response = self.gemini.post(GEMINI_PATH, json=_gemini_body(prompt))
        response.raise_for_status()
        return _gemini_text(response.json())

    def run(self, prompts: list[str]) -> tuple[int, list[str]]:
        ok, errors = 0, []
        for prompt in prompts:
            for call in (self._anthropic, self._openai, self._gemini):
                try:
                    call(prompt)
                    ok += 1
                except Exception as exc:
                    errors.append(_describe(exc))
        return ok, _distinct(errors)

    def close(self) -> None:
        self.anthropic.close()
        self.openai.close()
        self.gemini.close()


async def _gather(coros: Sequence[Awaitable[str]]) -> tuple[int, list[str]]:
    results = await asyncio.gather(*coros, return_exceptions=True)
    errors = [_describe(r) for r in results if isinstance(r, BaseException)]
    return sum(isinstance(r, str) for r in results), _distinct(errors)


def make_side(name: str, limit: int, connect_s: float) -> Side:
    """Build one side: ``limit`` sizes its connection pools, ``connect_s`` is the raw
    clients' connect timeout (orbit and LiteLLM keep their own)."""
    makers: dict[str, Callable[[int, float], Side]] = {
        "orbit": OrbitSide,
        "raw-httpx": lambda n, c: AsyncRawSide("httpx", n, c),
        "raw-aiohttp": lambda n, c: AsyncRawSide("aiohttp", n, c),
        "litellm": LiteLLMSide,
        BLOCKING: BlockingSide,
    }
    return makers[name](limit, connect_s)


class LoopbackOnly:
    """An audit hook that refuses (and counts) DNS look-ups and connections that leave the
    machine: the benchmark must not touch the internet, whatever a library tries."""

    LOCAL = frozenset({"127.0.0.1", "::1", "localhost", None})

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.connect":
            address = args[1]
            host = address[0] if isinstance(address, tuple) else None
        elif event == "socket.getaddrinfo":
            host = args[0]
        else:
            return
        if isinstance(host, bytes):
            host = host.decode()
        if host not in self.LOCAL:
            self.refused.append(f"{event} {host}")
            raise PermissionError(f"bench/clients.py: no network beyond loopback ({host})")


def worker_main(side_name: str, limit: int, connect_s: float) -> None:
    """Serve one side: import and warm up once, then one JSON line per ``run N TAG``."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the protocol
    guard = LoopbackOnly()
    sys.addaudithook(guard)

    def send(message: dict[str, Any]) -> None:
        message["refused"] = len(guard.refused)
        message["refused_sample"] = _distinct(guard.refused)
        message["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        protocol.write(json.dumps(message) + "\n")

    start = time.perf_counter()
    side = make_side(side_name, limit, connect_s)
    import_s = time.perf_counter() - start
    first = _timed(side, make_prompts(f"first-{uuid.uuid4().hex[:8]}", 1))
    send({"ready": True, "import_s": import_s, "first": first, "how": side.how})
    try:
        for line in sys.stdin:
            command = line.split()
            if not command or command[0] == "quit":
                break
            if command[0] == "run":
                n, tag = int(command[1]), command[2]
                send(_timed(side, make_prompts(tag, n // len(MODELS))))
    finally:
        side.close()


def _timed(side: Side, prompts: list[str]) -> dict[str, Any]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ok, errors = side.run(prompts)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall_s": wall, "cpu_s": cpu, "ok": ok, "errors": errors}


# ---------------------------------------------------------------- driver


class Worker:
    """The driver's handle on one worker subprocess."""

    def __init__(self, side: str, limit: int, connect_s: float) -> None:
        self.side = side
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        # Workers may write .pyc files, as a normal install does (`pip --no-compile` leaves
        # them to the first import); without them every start recompiles LiteLLM from source.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                side,
                "--limit",
                str(limit),
                "--connect-timeout",
                str(connect_s),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        self.refused = 0
        self.ready: dict[str, Any] = {}
        self.idle_since = time.monotonic()

    def wait_ready(self) -> dict[str, Any]:
        """The worker's start-up report: import time, its first run, how it calls."""
        self.ready = self._reply()
        return self.ready

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        readable, _, _ = select.select([self.proc.stdout], [], [], REPLY_TIMEOUT_S)
        line = self.proc.stdout.readline() if readable else ""
        if not line:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"worker {self.side} gave no answer:\n{self.stderr_tail()}")
        reply: dict[str, Any] = json.loads(line)
        self.refused = int(reply["refused"])
        self.idle_since = time.monotonic()
        return reply

    def run(self, n: int, tag: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"run {n} {tag}\n")
        self.proc.stdin.flush()
        return self._reply()

    def stderr_tail(self, chars: int = 3000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:]

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@contextlib.contextmanager
def workers(
    sides: list[str], limit: int, connect_s: float, *, together: bool = False
) -> Iterator[dict[str, Worker]]:
    """Start the workers one after another, so their import times do not overlap (or all
    at once with ``together``, when start-up times do not matter); always stop them."""
    started: dict[str, Worker] = {}
    try:
        for side in sides:
            started[side] = Worker(side, limit, connect_s)
            if not together:
                _print_ready(side, started[side].wait_ready())
        if together:
            for side, worker in started.items():
                _print_ready(side, worker.wait_ready())
        yield started
    finally:
        for worker in started.values():
            worker.close()


def _print_ready(side: str, ready: dict[str, Any]) -> None:
    print(
        f"  {side:<11} ready: import {ready['import_s']:.2f} s, first 3 calls "
        f"{ready['first']['wall_s']:.2f} s ({ready['first']['ok']}/3 ok), "
        f"RSS {ready['rss_mb']:.0f} MB",
        flush=True,
    )


@dataclass
class Sample:
    side: str
    n: int
    round: int
    wall_s: float
    cpu_s: float
    ok: int
    rss_mb: float
    requests: int
    peak_in_flight: int
    errors: list[str] = field(default_factory=list)


class Journals:
    """LLMock's request journals: what reached the servers during one run."""

    def __init__(self, servers: list[str]) -> None:
        self.servers = servers

    def clear(self) -> None:
        for server in self.servers:
            request = urllib.request.Request(f"{server}/_llmock/requests", method="DELETE")
            with urllib.request.urlopen(request, timeout=60):
                pass

    def read(self) -> tuple[int, int]:
        """(requests served, the most in flight at one moment, across all servers)."""
        events: list[tuple[float, int]] = []
        for server in self.servers:
            with urllib.request.urlopen(f"{server}/_llmock/requests", timeout=120) as response:
                data = json.load(response)
            for record in data["requests"]:
                events += [(record["started_at"], 1), (record["ended_at"], -1)]
        events.sort()  # at equal times an end (-1) sorts before a start
        peak = level = 0
        for _, step in events:
            level += step
            peak = max(peak, level)
        return len(events) // 2, peak


def measure(worker: Worker, journals: Journals, n: int, rnd: int, nonce: str) -> Sample:
    journals.clear()
    time.sleep(max(0.0, worker.idle_since + IDLE_GAP_S - time.monotonic()))
    reply = worker.run(n, f"{nonce}-n{n}-r{rnd}-{worker.side}")  # rnd < 0: a warm-up
    requests, peak = journals.read()
    sample = Sample(
        worker.side,
        n,
        rnd,
        reply["wall_s"],
        reply["cpu_s"],
        reply["ok"],
        reply["rss_mb"],
        requests,
        peak,
        reply["errors"],
    )
    label = f"round {rnd + 1}" if rnd >= 0 else "warm-up"
    print(
        f"  N={n:<5} {label:<8} {worker.side:<11} wall {sample.wall_s:7.3f} s  "
        f"cpu {sample.cpu_s:7.3f} s ({1000 * sample.cpu_s / n:5.2f} ms/call)  "
        f"ok {sample.ok}/{n}  requests {requests}  peak in flight {peak}  "
        f"RSS {sample.rss_mb:.0f} MB",
        flush=True,
    )
    sample.errors = [f"{worker.side}, N={n}: {e}" for e in sample.errors]
    for error in reply["errors"]:
        print(f"      ! {error}", flush=True)
    if reply["refused"]:
        print(f"      ! refused outside connections: {reply['refused_sample']}", flush=True)
    return sample


def rotated(sides: list[str], rnd: int) -> list[str]:
    k = rnd % len(sides)
    return sides[k:] + sides[:k]


def available_sides(wanted: list[str]) -> tuple[list[str], list[str]]:
    """The sides whose libraries are installed, and notes on the ones that are not."""
    needs = {"raw-aiohttp": "aiohttp", "litellm": "litellm"}
    sides, skipped = [], []
    for side in wanted:
        module = needs.get(side)
        if module and importlib.util.find_spec(module) is None:
            skipped.append(
                f"{side} skipped: `{module}` is not installed (`pip install -e .[bench]`)"
            )
        else:
            sides.append(side)
    return sides, skipped


# ---------------------------------------------------------------- report


def versions() -> str:
    found = []
    for name in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def machine_line() -> str:
    mem_gib = 0.0
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024**2
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {mem_gib:.1f} GiB memory, Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()}); load average at start {load}; "
        f"{versions()}"
    )


def _range(values: list[float], fmt: str) -> str:
    return f"{min(values):{fmt}}-{max(values):{fmt}}"


def fanout_table(
    samples: list[Sample], sides: list[str], sizes: list[int], latency_s: float
) -> str:
    lines = [
        "| N | side | wall median (s) | wall min-max (s) | wall / latency | CPU ms/call "
        "median | CPU ms/call min-max | ok (worst round) | requests (worst) | peak in flight "
        "| peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        for side in sides:
            mine = [s for s in samples if s.side == side and s.n == n]
            walls = [s.wall_s for s in mine]
            cpus = [1000 * s.cpu_s / n for s in mine]
            flag = "" if min(s.ok for s in mine) == n else " (!)"
            lines.append(
                f"| {n} | {side}{flag} | {statistics.median(walls):.3f} | {_range(walls, '.3f')} | "
                f"{statistics.median(walls) / latency_s:.2f} | {statistics.median(cpus):.2f} | "
                f"{_range(cpus, '.2f')} | {min(s.ok for s in mine)}/{n} | "
                f"{min(s.requests for s in mine)} | {min(s.peak_in_flight for s in mine)} | "
                f"{max(s.rss_mb for s in mine):.0f} |"
            )
    return "\n".join(lines)


def ratio_table(samples: list[Sample], sides: list[str], sizes: list[int]) -> str:
    lines = [
        "| N | ratio | wall (medians) | CPU per call (medians) |",
        "|---:|---|---:|---:|",
    ]
    for n in sizes:
        med = {
            side: (
                statistics.median(s.wall_s for s in samples if s.side == side and s.n == n),
                statistics.median(s.cpu_s for s in samples if s.side == side and s.n == n),
            )
            for side in sides
        }
        failed = {s.side for s in samples if s.n == n and s.ok < n}
        for other in sides:
            if other == "orbit" or "orbit" not in med:
                continue
            wall = med["orbit"][0] / med[other][0]
            cpu = med["orbit"][1] / med[other][1]
            flag = " (!)" if failed & {"orbit", other} else ""
            lines.append(f"| {n} | orbit / {other}{flag} | {wall:.2f} | {cpu:.2f} |")
    return "\n".join(lines)


def startup_table(ready: dict[str, dict[str, Any]], latency_s: float) -> str:
    lines = [
        "| side | what is imported | import (s) | first run, 3 calls (s) | "
        "import + first run - latency (s) | RSS when ready (MB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for side, r in ready.items():
        first = r["first"]["wall_s"]
        lines.append(
            f"| {side} | {LIBRARIES[side]} | {r['import_s']:.2f} | {first:.2f} | "
            f"{r['import_s'] + first - latency_s:.2f} | {r['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def blocking_table(samples: list[Sample]) -> tuple[str, float]:
    rounds = sorted({s.round for s in samples})
    by = {(s.side, s.round): s for s in samples}
    speedups = [by[(BLOCKING, r)].wall_s / by[("orbit", r)].wall_s for r in rounds]
    lines = [
        "| pattern | calls | wall median (s) | wall min-max (s) | ok (worst round) |",
        "|---|---:|---:|---:|---:|",
    ]
    for side, label in ((BLOCKING, "sync SDKs, one call at a time"), ("orbit", "orbit compare")):
        walls = [by[(side, r)].wall_s for r in rounds]
        worst = min(by[(side, r)].ok for r in rounds)
        lines.append(
            f"| {label} | {BLOCKING_CALLS} | {statistics.median(walls):.3f} | "
            f"{_range(walls, '.3f')} | {worst}/{BLOCKING_CALLS} |"
        )
    return "\n".join(lines), statistics.median(speedups)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="calls per run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per size (default 5)")
    parser.add_argument("--latency-ms", type=int, default=1000, help="LLMock latency per call")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds per size first")
    parser.add_argument("--sides", default=",".join(FANOUT_SIDES), help="fan-out sides to run")
    parser.add_argument("--write", action="store_true", help="replace today's results.md section")
    parser.add_argument("--smoke", action="store_true", help="N=9, 1 round, 50 ms; writes nothing")
    parser.add_argument("--worker", choices=[*FANOUT_SIDES, BLOCKING], help=argparse.SUPPRESS)
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        help="connect timeout (s) of the raw and blocking clients (default 5: the SDKs' own)",
    )
    parser.add_argument("--limit", type=int, default=max(DEFAULT_SIZES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker_main(args.worker, args.limit, args.connect_timeout)
        return 0
    if args.smoke:
        args.sizes, args.rounds, args.latency_ms, args.warmup, args.write = "9", 1, 50, 0, False
    asked = [int(x) for x in args.sizes.split(",")]
    if any(n < len(MODELS) for n in asked):
        parser.error(f"every size must be at least {len(MODELS)}")
    # N/3 prompts x 3 providers: a size that is no multiple of 3 runs as the nearest one.
    sizes = [len(MODELS) * round(n / len(MODELS)) for n in asked]
    sides, skipped = available_sides([s for s in args.sides.split(",") if s])
    everyone = [*sides, BLOCKING] if "orbit" in sides else sides  # blocking is vs orbit
    limit = max([*sizes, BLOCKING_CALLS])
    nonce = uuid.uuid4().hex[:8]  # texts no earlier run has sent
    machine = machine_line()

    print(f"clients.py: {machine}")
    for n, calls in zip(asked, sizes, strict=True):
        if n != calls:
            print(f"  N={n} runs as {calls // len(MODELS)} prompts x {len(MODELS)} = {calls} calls")
    for note in skipped:
        print(f"  {note}")
    fanout: list[Sample] = []
    blocking: list[Sample] = []
    with llmock_servers(args.latency_ms, 3) as servers, isolated_cache():
        point_env_at(servers)
        journals = Journals(servers)
        print(f"3 LLMock servers (anthropic, openai, gemini), {args.latency_ms} ms latency")
        if not args.smoke:
            print("throwaway start of every worker (compiles .pyc files, warms the file cache):")
            with workers(everyone, limit, args.connect_timeout, together=True):
                pass
        print(
            "workers:" if not args.smoke else "workers (started together: start-up times overlap):"
        )
        with workers(everyone, limit, args.connect_timeout, together=args.smoke) as running:
            for n in sizes:
                for warm in range(args.warmup):
                    for side in sides:
                        measure(running[side], journals, n, -1 - warm, nonce)
                for rnd in range(args.rounds):
                    for side in rotated(sides, rnd):
                        fanout.append(measure(running[side], journals, n, rnd, nonce))
            if BLOCKING in running:
                for rnd in range(args.rounds):
                    for side in rotated([BLOCKING, "orbit"], rnd):
                        sample = measure(running[side], journals, BLOCKING_CALLS, rnd, nonce)
                        blocking.append(sample)
            ready = {side: w.ready for side, w in running.items()}
            hows = {side: w.ready["how"] for side, w in running.items()}
            refused = sum(w.refused for w in running.values())

    lines = report(args, machine, sides, skipped, sizes, fanout, blocking, ready, hows, refused)
    print()
    print("\n".join(lines))
    if args.write:
        write_section("clients.py", lines)
        print("\nfigures written to bench/results.md")
    return 0


def report(
    args: argparse.Namespace,
    machine: str,
    sides: list[str],
    skipped: list[str],
    sizes: list[int],
    fanout: list[Sample],
    blocking: list[Sample],
    ready: dict[str, dict[str, Any]],
    hows: dict[str, str],
    refused: int,
) -> list[str]:
    latency_s = args.latency_ms / 1000
    lines = [
        f"Machine: {machine}.",
        "",
        f"Fan-out: N calls = N/3 fresh prompts x {', '.join(MODELS)}, max_tokens {MAX_TOKENS} "
        "(a size that is no multiple of 3 runs as the nearest one: 1000 as 999), "
        f"against 3 LLMock servers (one subprocess per provider) at {args.latency_ms} ms "
        f"latency; each side in its own worker process, {args.warmup} untimed warm-up and "
        f"{args.rounds} timed round(s) per N, sides' order rotated every round; every run "
        f"starts after >= {IDLE_GAP_S:g} s idle, so it opens new connections (LLMock drops idle "
        "ones after 5 s: reusing them then races its close). CPU is "
        "`time.process_time` of the worker (all its threads); peak in flight is read from the "
        "servers' request journals; peak RSS is the worker's `ru_maxrss` so far.",
        "",
        *[f"- **{side}**: {hows[side]}" for side in [*sides, BLOCKING] if side in hows],
        *[f"- {note}" for note in skipped],
        "",
        fanout_table(fanout, sides, sizes, latency_s),
        "",
        ratio_table(fanout, sides, sizes),
        "",
        "(!): some calls failed in at least one round (see the errors below), so that "
        "side's wall and CPU per call are not comparable with a side that answered them all."
        if any(s.ok < s.n for s in fanout)
        else "Every call of every round was answered.",
        "",
        "Start-up of each worker (once, after a throwaway start that compiled the .pyc files; "
        "the first run waits one LLMock latency):"
        if not args.smoke
        else "Start-up of each worker (smoke: all started at once, so these overlap):",
        "",
        startup_table(ready, latency_s),
    ]
    if blocking:
        table, speedup = blocking_table(blocking)
        lines += [
            "",
            f"Blocking one-at-a-time: 5 prompts x 3 providers = {BLOCKING_CALLS} calls at "
            f"{args.latency_ms} ms latency, {args.rounds} round(s):",
            "",
            table,
            "",
            f"orbit is **{speedup:.1f}x** faster than the blocking loop (median of the rounds' "
            "ratios).",
        ]
    errors = sorted({e for s in fanout + blocking for e in s.errors})
    lines += ["", f"Connections refused beyond loopback (audit hook, all workers): {refused}."]
    if errors:
        lines += ["", "Errors seen:", *[f"- `{e}`" for e in errors[:10]]]
    return lines


if __name__ == "__main__":
    sys.exit(main())
