"""Chaos against LLMock: every call ends as exactly one row, retries are polite.

Each scenario breaks a real LLMock server in one way (random 429/500/503/529
answers, 4xx answers, a spent quota, per-key RPM/TPM quotas, random latency, a
server that holds answers past the timeout), then one 1000-call run mixes them
all. For every run the test checks, from LLMock's journal of what went over the
wire:

- every (prompt_id, model_spec, repeat) is exactly one row, ok or error;
- each row's ``attempts`` is the number of requests LLMock saw for it;
- a retry never comes sooner than the Retry-After of the answer before it, and
  without one it backs off (at least the engine's first backoff, doubling);
- a 4xx other than 408/409/429, and a spent quota, is never retried;
- LLMock's resilience verdict has no FAIL and no WARN.

Each test prints its figures; the module prints them as one table at the end
(``pytest -s tests/test_chaos.py`` shows it).

Then cancellation: after ``Job.cancel()``, a cancelled ``await acompare()`` or
an interrupted ``compare()``, no engine task is left and no connection to the
stalled server stays open, and a second run right after works.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import psutil
import pytest
from llmock.chaos import ChaosSettings
from llmock.journal import RequestRecord
from llmock.pytest_plugin import LLMock
from llmock.scenarios import Delay, Fail
from llmock.testing import LLMockServer
from llmock.verdict import Verdict, judge

import orbit_nb
from orbit_nb import api as api_module
from orbit_nb.api import start
from orbit_nb.engine import get_engine
from orbit_nb.errors import EngineError
from orbit_nb.retry import MAX_ATTEMPTS

from conftest import KEYS, engine_tasks, mock_env

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
PROVIDERS = ("anthropic", "openai", "gemini")
ROW_KEY = ["prompt_id", "model_spec", "repeat"]
#: Statuses no retry can fix (LLMock's verdict uses the same set).
NON_RETRYABLE = frozenset({400, 401, 403, 404, 422})
#: retry.backoff waits 0.5 s x 2^(n-1) after failed attempt n, jittered down to
#: 0.8x at most: the least a retry without Retry-After may wait.
FIRST_BACKOFF_FLOOR = 0.4
#: Clock reads on the server: forgive a millisecond or two.
SLACK = 0.005


# -- what one run did ----------------------------------------------------------------


@dataclass
class Outcome:
    """The figures of one scenario, for the table."""

    scenario: str
    faults: int  # attempts LLMock answered with an injected error
    calls: int  # distinct calls LLMock saw
    attempts: int  # requests LLMock saw
    rows: int
    lost: int
    verdict: Verdict
    extra: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        v = self.verdict
        extra = ", ".join(f"{k} {n}" for k, n in self.extra.items())
        return (
            f"{self.scenario:<28} {self.faults:>6} {self.calls:>6} {self.attempts:>8} "
            f"{self.rows:>6} {self.lost:>5} {len(v.errors):>4} {len(v.warnings):>4}  {extra}"
        )


HEADER = (
    f"{'scenario':<28} {'faults':>6} {'calls':>6} {'attempts':>8} "
    f"{'rows':>6} {'lost':>5} {'FAIL':>4} {'WARN':>4}  details"
)
TABLE: list[Outcome] = []


@pytest.fixture(scope="module", autouse=True)
def _print_table() -> Iterator[None]:
    yield
    if TABLE:
        print("\n\nchaos scenarios (faults injected, calls and attempts as LLMock saw them)")
        print(HEADER)
        print("\n".join(o.line() for o in TABLE))


def prompt_of(record: RequestRecord) -> str:
    """The user prompt a request carried, whatever the provider's wire format."""
    body = record.body
    if record.provider == "gemini":
        return str(body["contents"][-1]["parts"][0]["text"])
    return str(body["messages"][-1]["content"])


def by_call(records: Iterable[RequestRecord]) -> dict[tuple[str, str], list[RequestRecord]]:
    """Requests grouped by (provider, prompt), in arrival order: one group per call."""
    groups: dict[tuple[str, str], list[RequestRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.seq):
        groups[record.provider, prompt_of(record)].append(record)
    return groups


def least_wait(attempt: int, retry_after: float | None) -> float:
    """The shortest polite pause after failed attempt ``attempt`` (1-based)."""
    backoff = FIRST_BACKOFF_FLOOR * 2 ** (attempt - 1)
    return max(backoff, retry_after or 0.0) - SLACK


def check_rows(df: pd.DataFrame, expected: int) -> int:
    """Every call is exactly one finished row; returns how many rows are lost."""
    counts = df.groupby(ROW_KEY).size()
    assert counts.eq(1).all(), counts[counts != 1]
    assert set(df["status"]) <= {"ok", "error"}, df["status"].value_counts()
    assert df["attempts"].between(1, MAX_ATTEMPTS).all()
    lost = expected - len(counts)
    assert lost == 0
    return lost


def check_calls(df: pd.DataFrame, records: Sequence[RequestRecord]) -> None:
    """Rows against the journal: attempts match, retries wait, 4xx are tried once."""
    calls = by_call(records)
    rows = {(r.provider, r.prompt): r for r in df.itertuples()}
    assert set(calls) == set(rows), "a row without requests, or requests without a row"
    # orbit may count an attempt the server never logged: on a busy machine a request
    # sent on a keep-alive connection the server has just dropped fails before it
    # arrives, and is retried. The server never sees more attempts than orbit made.
    assert df["attempts"].sum() >= len(records)
    for key, attempts in calls.items():
        row = rows[key]
        assert row.attempts >= len(attempts), (key, [a.status for a in attempts])
        for n, (before, after) in enumerate(itertools.pairwise(attempts), 1):
            assert before.status >= 400, (key, "retried a success")
            assert before.status not in NON_RETRYABLE, (key, "retried", before.status)
            gap = after.started_at - before.ended_at
            wanted = least_wait(n, before.retry_after)
            assert gap >= wanted, (key, n, before.status, before.retry_after, gap)
        last = attempts[-1]
        if last.status in NON_RETRYABLE:
            assert row.status == "error"


def outcome(
    scenario: str,
    df: pd.DataFrame,
    records: Sequence[RequestRecord],
    expected: int,
    *,
    judged: Sequence[RequestRecord] | None = None,
    **extra: int,
) -> Outcome:
    """Check one run and keep its figures; ``judged`` narrows what the verdict sees."""
    lost = check_rows(df, expected)
    check_calls(df, records)
    verdict = judge(records if judged is None else judged)
    result = Outcome(
        scenario,
        faults=sum(1 for r in records if r.fault),
        calls=len(by_call(records)),
        attempts=len(records),
        rows=len(df),
        lost=lost,
        verdict=verdict,
        extra={
            **extra,
            "ok": int((df["status"] == "ok").sum()),
            "error": int((df["status"] == "error").sum()),
        },
    )
    TABLE.append(result)
    print(f"\n{HEADER}\n{result.line()}")
    # LLMock's no_backoff warning compares the intervals it saw between attempts,
    # which on a busy machine carry the client's own delays: two waits can look
    # equal. check_calls asserts the property from the journal instead (every wait
    # at least its exponential floor and its Retry-After); all else stays strict.
    if verdict.errors or any(f.code != "no_backoff" for f in verdict.warnings):
        verdict.assert_ok(strict=True)
    return result


def prompts(n: int, tag: str) -> list[str]:
    return [f"{tag} question number {i}: what is {i} squared?" for i in range(n)]


def set_chaos(server: LLMockServer, **settings: Any) -> None:
    """Random faults on the running server (the llmock fixture resets them)."""
    chaos = ChaosSettings(**settings).validated()
    server.state.chaos = chaos
    server.app.state.chaos_settings = chaos


# -- error-rate mixes ------------------------------------------------------------


def test_429_with_retry_after_is_waited_out(llmock: LLMock, llmock_server: LLMockServer) -> None:
    """Random 429s (Retry-After: 1 s) plus scripted ones asking 0.2 to 1.5 s."""
    set_chaos(llmock_server, error_rates={429: 0.15})
    rng = random.Random(429)
    llmock.add(*(Fail(429, retry_after=round(rng.uniform(0.2, 1.5), 3)) for _ in range(15)))
    df = orbit_nb.compare(prompts(30, "r429"), MODELS)
    records = llmock.requests
    asked = {r.retry_after for r in records if r.status == 429}
    assert len(asked) > 5  # many different waits were asked for, and honoured
    outcome("429 + Retry-After", df, records, 90, **{"429s": sum(r.status == 429 for r in records)})


def test_500_without_retry_after_backs_off(llmock: LLMock, llmock_server: LLMockServer) -> None:
    set_chaos(llmock_server, error_rates={500: 0.25})
    df = orbit_nb.compare(prompts(30, "r500"), MODELS)
    records = llmock.requests
    assert all(r.retry_after is None for r in records if r.status == 500)
    outcome("500 (no Retry-After)", df, records, 90)


def test_503_and_529_are_retried(llmock: LLMock, llmock_server: LLMockServer) -> None:
    set_chaos(llmock_server, error_rates={503: 0.12, 529: 0.12})
    df = orbit_nb.compare(prompts(30, "r5xx"), MODELS)
    records = llmock.requests
    statuses = Counter(r.status for r in records)
    assert statuses[503] and statuses[529]
    outcome("503 + 529", df, records, 90)


def test_client_errors_in_a_mix_are_tried_once(llmock: LLMock, llmock_server: LLMockServer) -> None:
    rates = {400: 0.05, 401: 0.04, 403: 0.04, 404: 0.04, 422: 0.03, 500: 0.1}
    set_chaos(llmock_server, error_rates=rates)
    df = orbit_nb.compare(prompts(30, "r4xx"), MODELS)
    records = llmock.requests
    refused = [r for r in records if r.status in NON_RETRYABLE]
    assert len(refused) >= 5
    result = outcome("4xx + 500 mix", df, records, 90, **{"4xx rows": len(refused)})
    errors = df[df["status"] == "error"]
    assert set(errors["error_type"]) <= {
        "bad_request",
        "authentication",
        "permission",
        "not_found",
        "unprocessable",
        "server_error",
    }
    assert result.extra["error"] >= len(refused)


def test_spent_quota_stops_rather_than_storms(llmock: LLMock, llmock_server: LLMockServer) -> None:
    """OpenAI's insufficient_quota on every call, among random 503s elsewhere.

    LLMock treats every 429 as retryable, so its verdict would WARN ``gave_up``
    on the spent-quota calls, which are right not to retry: the verdict judges
    the other providers, and the spent-quota calls are checked here directly.
    """
    set_chaos(llmock_server, error_rates={503: 0.12})
    llmock.fail(429, code="insufficient_quota", times=None, provider="openai")
    df = orbit_nb.compare(prompts(30, "quota"), MODELS)
    records = llmock.requests
    openai = df[df["provider"] == "openai"]
    assert (openai["error_type"] == "quota_exhausted").all()
    assert (openai["attempts"] == 1).all()
    spent = [r for r in records if r.provider == "openai"]
    assert len(spent) == 30 and all(r.status == 429 for r in spent)
    unjudged = judge(spent).findings
    assert {f.code for f in unjudged} == {"gave_up"} and len(unjudged) == 30
    others = [r for r in records if r.provider != "openai"]
    assert (df[df["provider"] != "openai"]["status"] == "ok").all()
    extra = {"quota rows": 30, "openai gave_up WARN (right, not judged)": len(unjudged)}
    outcome("spent quota (openai)", df, records, 90, judged=others, **extra)


# -- quotas, latency, stalls -----------------------------------------------------


# The quotas refill continuously, so they bite only if a provider's calls go out
# faster than they refill: sending 90 requests against rpm 74 bites unless sending
# takes over 60 * (90/74 - 1) = 13 s, and that is about how long the waits take.
# (For tokens, 78 calls of ~130 tokens against tpm 9000: a margin of ~8 s. More
# calls over the quota would compete for each refill, and some would give up.)
@pytest.mark.parametrize(
    ("kind", "limits", "calls", "max_tokens"),
    [("requests", {"rpm": 74}, 90, None), ("tokens", {"tpm": 9000}, 78, 100)],
)
def test_rpm_and_tpm_quotas_are_waited_out(
    llmock: LLMock, kind: str, limits: dict[str, int], calls: int, max_tokens: int | None
) -> None:
    """Per-key quotas that refill: LLMock's 429s carry the true wait, and every call
    gets through by waiting for it, with no call lost and no storm."""
    llmock.limits(**limits)
    df = orbit_nb.compare(prompts(calls, f"q{kind}"), MODELS, max_tokens=max_tokens)
    records = llmock.requests
    refused = [r for r in records if r.fault == f"ratelimit:{kind}"]
    assert refused, f"the {kind} quota never bit"
    assert all(r.retry_after is not None and r.retry_after < 5 for r in refused)
    assert (df["status"] == "ok").all(), df["error_message"].dropna().head()
    name = f"{kind}/min quota {next(iter(limits.values()))}"
    outcome(name, df, records, 3 * calls, **{"quota 429s": len(refused)})


def test_random_latency_changes_nothing_but_latency(llmock: LLMock) -> None:
    rng = random.Random(7)
    delays = [round(rng.uniform(0.0, 0.6), 3) for _ in range(90)]
    llmock.add(*(Delay(d) for d in delays))
    df = orbit_nb.compare(prompts(30, "slow"), MODELS)
    records = llmock.requests
    # attempts are checked against the journal by outcome(): on a busy machine a
    # dropped keep-alive connection can add a retry the server never saw.
    assert (df["status"] == "ok").all()
    held = {(r.provider, prompt_of(r)): r.duration for r in records}
    for row in df.itertuples():
        assert row.latency_s >= held[row.provider, row.prompt]
    assert max(held.values()) > 0.4
    outcome("random latency 0-0.6 s", df, records, 90, delayed=len(delays))


def test_a_server_stalling_past_the_timeout_gives_timeout_rows(llmock: LLMock) -> None:
    """Non-streaming: the server holds some answers 8 s, the timeout is 3 s (margins
    wide enough for a busy machine, where a first call can take a second)."""
    for provider in ("openai", "gemini"):
        llmock.delay(STALL, times=4, provider=provider)
    df = orbit_nb.compare(prompts(20, "stall"), MODELS, timeout=STALL_TIMEOUT)
    deadline = time.monotonic() + 30  # the held answers end STALL s after they began
    while True:
        records = llmock.requests
        stalled = [r for r in records if r.duration >= STALL - 0.5]  # others answer at once
        if len(stalled) >= 8 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(stalled) == 8
    late = df[df["status"] == "error"]
    assert len(late) == 8 and (late["error_type"] == "timeout").all()
    assert (late["attempts"] == 1).all()
    assert late["latency_s"].between(STALL_TIMEOUT - 0.1, STALL - 1).all()
    assert {(r.provider, r.prompt) for r in late.itertuples()} == {
        (r.provider, prompt_of(r)) for r in stalled
    }
    assert (df["latency_s"] < STALL - 1).all()  # nobody waited for the held answers
    outcome(
        f"stall {STALL:g} s > timeout {STALL_TIMEOUT:g} s", df, records, 60, stalled=len(stalled)
    )


STALL, STALL_TIMEOUT = 8.0, 3.0


# -- the 1000-call run ---------------------------------------------------------------


class ServedLLMock:
    """``llmock serve`` in a subprocess: its own interpreter, so the server's
    work does not share the client's GIL (1000 calls in one process distort the
    timings the verdict judges). Scripted through LLMock's /_llmock HTTP API."""

    def __init__(self, *flags: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        binary = Path(sys.executable).with_name("llmock")
        cmd = [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port)]
        self._proc = subprocess.Popen(
            [*cmd, "--log-level", "warning", *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self._call("GET", "/health")
                return
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"llmock serve did not start: {cmd}") from None
                time.sleep(0.1)

    def _call(self, method: str, path: str, payload: object = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def env(self) -> dict[str, str]:
        return {
            **KEYS,
            "ANTHROPIC_BASE_URL": f"{self.url}/anthropic",
            "OPENAI_BASE_URL": f"{self.url}/v1",
            "GEMINI_BASE_URL": f"{self.url}/gemini",
        }

    def script(self, behaviors: list[dict[str, Any]]) -> None:
        self._call("POST", "/_llmock/scenario", {"behaviors": behaviors})

    def records(self) -> list[RequestRecord]:
        data = self._call("GET", "/_llmock/requests")["requests"]
        return [RequestRecord(**{k: v for k, v in d.items() if k != "duration"}) for d in data]

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


MIX_RATES = {429: 0.08, 500: 0.05, 503: 0.04, 529: 0.04, 400: 0.01, 404: 0.01}
# Prompts alternate short and long (about 84 and 184 tokens a request as LLMock
# counts them), so either quota can be the one that runs out first.
MIX_RPM, MIX_TPM = 285, 38000
MIX_PROMPTS = 334  # x 3 providers = 1002 calls
# Calls in flight per provider. With all 1000 at once orbit's loop is CPU-bound
# (about 3 ms a call), its retry timers fire up to seconds late and the gaps
# LLMock measures flatten into what its verdict calls "no backoff". 30 keeps the
# loop's lag near 10 ms and the run around 20 s.
MIX_CONCURRENCY = 30
MIX_TIMEOUT, MIX_STALL = 15.0, 16.0


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedLLMock]:
    flags = [f"--error-rate={status}={rate}" for status, rate in MIX_RATES.items()]
    server = ServedLLMock(*flags, f"--rpm={MIX_RPM}", f"--tpm={MIX_TPM}")
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server
    finally:
        server.stop()


def test_a_thousand_calls_through_every_fault_at_once(served: ServedLLMock) -> None:
    """334 prompts x 3 providers: random 429/500/503/529/400/404 answers, per-key
    RPM and TPM quotas, random latency on every request, and two answers per
    provider held past the timeout. Nothing is lost, nothing storms."""
    rng = random.Random(1000)
    stalls = [
        {"type": "delay", "seconds": MIX_STALL, "times": 2, "match": {"provider": p}}
        for p in PROVIDERS
    ]
    latency = [{"type": "delay", "seconds": round(rng.uniform(0, 0.2), 3)} for _ in range(1000)]
    served.script(stalls + latency)
    began = time.monotonic()
    padding = " Please show your working step by step." * 10
    mixed = [p + padding * (i % 2) for i, p in enumerate(prompts(MIX_PROMPTS, "mix"))]
    df = orbit_nb.compare(
        mixed,
        MODELS,
        concurrency=MIX_CONCURRENCY,
        timeout=MIX_TIMEOUT,
        max_tokens=50,
    )
    wall = time.monotonic() - began
    # LLMock records a request when its answer is sent, so a fast run can end
    # before its held requests (held past our timeout) are on the record.
    deadline = time.monotonic() + MIX_STALL + 30
    while True:
        records = served.records()
        held = [r for r in records if r.duration >= MIX_STALL - 0.1]
        if len(held) >= 6 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(held) == 6, [r.duration for r in held]
    held_calls = {(r.provider, prompt_of(r)) for r in held}
    timed_out = {(r.provider, r.prompt): r for r in df[df["error_type"] == "timeout"].itertuples()}
    assert held_calls <= set(timed_out), sorted(held_calls - set(timed_out))
    assert all(timed_out[call].attempts == 1 for call in held_calls)
    # A busy machine can also make a few other calls outlive the timeout (waiting
    # for a slot, a quota's Retry-After): reported, judged as the held ones are.
    late = {call: row for call, row in timed_out.items() if call not in held_calls}
    assert len(late) <= 10, [(c, r.attempts, r.error_message) for c, r in late.items()]
    # LLMock answers a held request when its delay ends, long after the client
    # gave up, with whatever chaos draws then: a 503 there would read as
    # "gave up without a retry". The held calls are checked above instead.
    judged = [r for r in records if (r.provider, prompt_of(r)) not in timed_out]
    faults = Counter((r.fault or "").split(":")[0] for r in records if r.fault)
    quota = Counter(r.fault for r in records if (r.fault or "").startswith("ratelimit:"))
    result = outcome(
        "1000-call mix",
        df,
        records,
        3 * MIX_PROMPTS,
        judged=judged,
        **{
            "chaos": faults["chaos"],
            "rpm 429s": quota["ratelimit:requests"],
            "tpm 429s": quota["ratelimit:tokens"],
            "stalled": len(held),
            "late": len(late),
        },
    )
    assert faults["chaos"] > 100
    # Whether a quota runs out depends on how fast this machine sends: reported in
    # the table, not asserted (the quota tests above make each one bite).
    assert wall < 60
    errors = df[df["status"] == "error"]["error_type"].value_counts().to_dict()
    print(
        f"\n1000-call mix: calls={result.rows} attempts={result.attempts} "
        f"faults={result.faults} (chaos {faults['chaos']}, rpm {quota['ratelimit:requests']}, "
        f"tpm {quota['ratelimit:tokens']}, "
        f"stalled {len(held)}) rows={result.rows} lost={result.lost} "
        f"ok={result.extra['ok']} errors={errors} "
        f"verdict FAIL={len(result.verdict.errors)} WARN={len(result.verdict.warnings)} "
        f"wall={wall:.1f}s"
    )


# -- cancellation ----------------------------------------------------------------------


def open_connections(port: int) -> list[str]:
    """ESTABLISHED TCP connections of this process to or from ``port``, both ends."""
    ends = []
    for conn in psutil.Process().net_connections(kind="tcp"):
        if conn.status != psutil.CONN_ESTABLISHED:
            continue
        if conn.raddr and conn.raddr.port == port:
            ends.append("client")
        if conn.laddr and conn.laddr.port == port:
            ends.append("server")
    return ends


def settle(port: int, seconds: float = 2.0) -> list[str]:
    """The connections still open once closing ones had ``seconds`` to go."""
    deadline = time.monotonic() + seconds
    while (ends := open_connections(port)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return ends


@pytest.fixture(scope="module")
def stall_server() -> Iterator[LLMockServer]:
    """A second LLMock that only Anthropic talks to, so every connection to its
    port belongs to the requests these tests stall there."""
    with LLMockServer() as server:
        yield server


@pytest.fixture
def stalled(
    llmock: LLMock, stall_server: LLMockServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LLMock]:
    """Anthropic answers after 20 s (long enough that a busy machine still finds the
    run stalled); OpenAI and Gemini (on the main LLMock) at once."""
    handle = LLMock(stall_server).reset()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", mock_env(stall_server)["ANTHROPIC_BASE_URL"])
    handle.delay(20, times=None)
    yield handle
    handle.reset()


def wait_for_stall(stalled: LLMock, after: object = None) -> None:
    """Until the latest run (started after run ``after``) has its 4 fast rows and its
    2 Anthropic calls held. Says what it saw if the run ends or a minute passes first."""
    deadline = time.monotonic() + 60  # the first run imports the SDKs: slow on a busy machine
    while True:
        job = orbit_nb.jobs()[-1] if orbit_nb.jobs() else None
        job = None if job is after else job
        fast = job is not None and sum(r.status == "ok" for r in job.rows) == 4
        held = stalled._server.state.journal.in_flight  # type: ignore[union-attr]
        if fast and job is not None and not job.done and held == 2:
            return
        if time.monotonic() > deadline or (job is not None and job.done):
            rows = (
                [(r.request.model.provider, r.status, r.attempts) for r in job.rows] if job else []
            )
            raise AssertionError(f"the run never reached its stalled state: {held=} {rows=}")
        time.sleep(0.01)


def check_after_cancel(frame: pd.DataFrame, stalled: LLMock) -> None:
    """Finished rows kept, no task, no open connection, and the next run works."""
    port = stalled._server.port
    assert frame.groupby("provider")["status"].agg(set).to_dict() == {
        "anthropic": {"cancelled"},
        "gemini": {"ok"},
        "openai": {"ok"},
    }
    assert engine_tasks() == []
    assert settle(port) == []
    stalled.reset()
    again = orbit_nb.compare(["first", "second"], MODELS, cache=False)
    assert (again["status"] == "ok").all()
    assert len(stalled.requests) == 2
    print(f"\ncancel: 0 engine tasks, 0 connections open to :{port}, next run 6/6 ok")


def test_job_cancel_leaves_no_task_and_no_connection(stalled: LLMock) -> None:
    job = start(["first", "second"], MODELS)
    wait_for_stall(stalled)
    assert sorted(open_connections(stalled._server.port)) == ["client"] * 2 + ["server"] * 2
    job.cancel()
    assert job.future is not None
    job.future.result(timeout=1)
    check_after_cancel(job.frame(), stalled)


@pytest.mark.anyio
async def test_cancelled_await_leaves_no_task_and_no_connection(stalled: LLMock) -> None:
    previous = orbit_nb.jobs()[-1] if orbit_nb.jobs() else None
    task = asyncio.ensure_future(orbit_nb.acompare(["first", "second"], MODELS))
    await asyncio.to_thread(wait_for_stall, stalled, previous)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    job = orbit_nb.jobs()[-1]
    assert job.future is not None
    await asyncio.wait_for(asyncio.wrap_future(job.future), 1)
    await asyncio.to_thread(check_after_cancel, job.frame(), stalled)


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a terminal's Python or a kernel, also when
    the test run started with SIGINT ignored (a background job of a script: the shell
    starts those with SIGINT ignored, and Python then leaves it so)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("ctrl_c")
def test_interrupted_compare_leaves_no_task_and_no_connection(
    stalled: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed: list[BaseException] = []
    sent: list[float] = []  # when each interrupt went
    handlers: list[object] = []  # the SIGINT handler at each
    previous = orbit_nb.jobs()[-1] if orbit_nb.jobs() else None
    # What the main thread starts with: a run that never sees its interrupts says so.
    start = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))

    def interrupt_once_stalled() -> None:
        try:
            wait_for_stall(stalled, after=previous)
        except BaseException as exc:  # said by the test below, not lost in this thread
            failed.append(exc)
            return
        job = orbit_nb.jobs()[-1]
        # What Ctrl-C or a kernel's stop button does: a real SIGINT to the process.
        # Python drops a KeyboardInterrupt raised while the main thread runs a
        # finalizer, as it would a user's Ctrl-C: the user presses again, and so does
        # this thread if the run did not notice.
        while job.state == "running":
            sent.append(time.monotonic())
            handlers.append(signal.getsignal(signal.SIGINT))
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.monotonic() + 2
            while job.state == "running" and time.monotonic() < deadline:
                time.sleep(0.01)

    threading.Thread(target=interrupt_once_stalled, daemon=True).start()
    # compare()'s warning is recorded where it is made, not through the warnings
    # filters: those are one global state that other threads may change meanwhile
    # (LLMock's server wraps each response in `catch_warnings()`).
    said: list[str] = []
    monkeypatch.setattr(
        api_module, "warnings", SimpleNamespace(warn=lambda m, *a, **k: said.append(str(m)))
    )
    began = time.monotonic()
    df = orbit_nb.compare(["first", "second"], MODELS)
    ended = time.monotonic() - began
    time.sleep(0.05)  # the interrupting thread's next look
    job = orbit_nb.jobs()[-1]
    assert sent and job.state == "interrupted", (
        f"{job.state=} after {len(sent)} interrupts ({start=}, {set(map(repr, handlers))=}, "
        f"threads={[t.name for t in threading.enumerate()]}); the run took {ended:.2f} s: "
        f"{df[['provider', 'status', 'cached', 'attempts', 'latency_s']].values.tolist()} "
        f"{failed=} held={stalled._server.state.journal.in_flight}"  # type: ignore[union-attr]
    )
    assert said == ["interrupted: 4 of 6 calls finished; the rest are marked cancelled"], said
    assert time.monotonic() - sent[-1] < 3  # the held calls take 20 s
    print(f"\ninterrupts sent: {len(sent)}")
    check_after_cancel(df, stalled)


def test_compare_refused_on_the_engine_thread_sends_nothing(llmock: LLMock) -> None:
    """compare() from the engine's own thread must fail before any call, like any
    other refused call: no request, no history row, no job left running."""

    async def inside() -> str:
        try:
            orbit_nb.compare("refused prompt", MODELS)
        except EngineError as exc:
            return str(exc)
        return "no error"

    message = asyncio.run_coroutine_threadsafe(inside(), get_engine().loop).result(timeout=10)
    assert "would deadlock" in message
    time.sleep(0.5)  # time for any request that was sent anyway to arrive
    assert [r.path for r in llmock.requests] == []
    assert len(orbit_nb.history()) == 0
