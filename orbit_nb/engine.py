"""The engine: one private event loop in a daemon thread runs every call.

``compare()`` submits a :class:`Job` to the loop and waits on it from its own
thread; ``acompare()`` awaits it from the caller's loop. The user's event loop
is never patched, so the same code runs in a script, in a kernel (which already
runs a loop) and in a web server. Nothing here may block the engine loop: no
SDK import, no file I/O, no sleeping other than ``asyncio.sleep``.

Retries are the engine's own (the SDKs' are off): retryable failures wait with
jittered exponential backoff, at least as long as the server's Retry-After.
Every call ends as exactly one :class:`~orbit_nb.types.Row`.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import cache, pricing
from .errors import BudgetError, EngineError
from .estimate import bound_requests
from .formats import usd
from .limits import Limiter
from .providers import build
from .providers.base import Failure, Provider
from .saver import Saver
from .specs import Target
from .types import Completion, Request, Row

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ATTEMPTS",
    "Engine",
    "Job",
    "JobState",
    "RunPlan",
    "backoff",
    "get_engine",
]

#: Seconds a call may take in all, retries included, unless ``timeout=`` says otherwise.
DEFAULT_TIMEOUT = 600.0
#: HTTP attempts per call at most (the first one and its retries).
MAX_ATTEMPTS = 6
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0
T = TypeVar("T")
#: What a run is doing, or how it ended: running, done, cancelled (by ``cancel()``),
#: interrupted (the waiting caller was interrupted), refused (over budget before
#: any call), failed (an internal error).
JobState = Literal["running", "cancelling", "done", "cancelled", "interrupted", "refused", "failed"]
_POLL = 0.1  # seconds between checks while a caller waits: keeps interrupts prompt
_CANCEL_WAIT = 0.25  # seconds an interrupted await blocks for the cancel to land


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential with jitter (each wait at least 1.6x the previous), and never
    shorter than what the server asked for in Retry-After.
    """
    wait: float = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (attempt - 1)) * random.uniform(0.8, 1.0)
    if retry_after is not None:
        wait = max(wait, retry_after * random.uniform(1.0, 1.1))
    return wait


@dataclass(frozen=True)
class RunPlan:
    """Everything a Job needs besides its rows, resolved before it starts."""

    targets: Mapping[str, Target]  # by provider name, resolved from the environment
    limits: Mapping[str, int]  # calls in flight per provider name
    keys: Sequence[str]  # the cache key of each row's request
    timeout: float = DEFAULT_TIMEOUT
    read_cache: bool = True
    budget: float | None = None
    # Seconds to hold the first request back: a kernel cell that starts a
    # background run can send its reply before the burst of requests takes
    # the GIL.
    start_delay: float = 0.0


class Job:
    """One run: its rows (filled in as calls finish), progress, and cancel.

    Created before any call starts, so an interrupt or a cancel keeps every
    finished row; calls that did not finish end as ``status="cancelled"``.
    Rows already in the cache are served from it; identical requests in flight
    at the same time are sent once. Fresh answers are cached and every row is
    recorded in the history when the run ends.
    """

    def __init__(self, run_id: str, rows: Sequence[Row], plan: RunPlan) -> None:
        self.run_id = run_id
        self.rows = list(rows)
        self.plan = plan
        self.finished = 0
        self.spent_usd = 0.0
        #: Problems that did not stop the run (cache or history unavailable).
        self.notes: list[str] = []
        self.future: concurrent.futures.Future[None] | None = None
        self._engine: Engine | None = None  # set by Engine.submit
        self._providers: dict[str, Provider] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # Shared by every job on the engine (set by Engine.submit), so identical
        # requests of concurrent runs are sent once too.
        self._inflight: dict[str, asyncio.Future[cache.Entry | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._saver = Saver(None, self.notes)  # replaced once the cache is open
        self._cancelling = False
        self._stopped_by: Literal["cancelled", "interrupted"] | None = None
        self.started = time.monotonic()  # reset when the engine starts the run
        self.ended: float | None = None

    def __repr__(self) -> str:
        return f"<Job {self.run_id} {self.finished}/{self.total} {self.state}>"

    @property
    def state(self) -> JobState:
        """``running`` (or ``cancelling``) until the run ends; then ``done``,
        ``cancelled``, ``interrupted``, ``refused`` (over budget, nothing sent)
        or ``failed``."""
        future = self.future
        if future is None or not future.done():
            return "cancelling" if self._cancelling else "running"
        error = None if future.cancelled() else future.exception()
        if isinstance(error, BudgetError):
            return "refused"
        if error is not None:
            return "failed"
        return self._stopped_by or "done"

    @property
    def wall_s(self) -> float:
        """Seconds since the run started, up to its end."""
        return (self.ended or time.monotonic()) - self.started

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()

    def cancel(self) -> None:
        """Cancel every call still running; finished rows stay. Safe from any thread."""
        self._stop("cancelled")

    def interrupt(self) -> None:
        """Cancel because the waiting caller was interrupted (Ctrl-C, the kernel's stop)."""
        self._stop("interrupted")

    def _stop(self, why: Literal["cancelled", "interrupted"]) -> None:
        if self._loop is not None and not self.done:
            self._stopped_by = self._stopped_by or why
            self._loop.call_soon_threadsafe(self._cancel_tasks)

    def problems(self) -> list[str]:
        """What went amiss without stopping the run: cache or history trouble,
        models without a price."""
        unpriced = pricing.unknown_note(
            {r.request.model.model for r in self.rows if r.status == "ok" and r.cost_usd is None}
        )
        return [*self.notes, *([unpriced] if unpriced else [])]

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (unfinished calls show ``status="pending"``)."""
        from .frame import to_frame

        df = to_frame(self.rows)
        df.attrs["wall_s"] = self.wall_s
        return df

    def _cancel_tasks(self) -> None:
        self._cancelling = True
        for task in self._tasks:
            task.cancel()

    async def run(self) -> None:
        self.started = time.monotonic()
        try:
            await self._run()
        finally:
            if self._engine is not None and self._providers:
                await self._engine.release(self._providers.values())
            self.ended = time.monotonic()

    async def _run(self) -> None:
        if self.plan.start_delay:
            await asyncio.sleep(self.plan.start_delay)
        # Building an adapter imports its SDK (seconds, the first time): a worker
        # thread does it, so neither the caller nor the engine loop waits on it.
        self._providers = await asyncio.to_thread(self._build_providers)
        store = await self._open_store()
        self._saver = Saver(store, self.notes)
        if store is not None and self.plan.read_cache:
            await self._serve_hits(store)
        pending = [i for i, row in enumerate(self.rows) if row.status == "pending"]
        if self.plan.budget is not None:
            await self._check_budget([self.rows[i].request for i in pending])
        writer = asyncio.create_task(self._saver.run())  # saves rows as they finish
        try:
            await self._calls(pending)
        finally:
            self._saver.close()
            await asyncio.shield(writer)

    async def _calls(self, pending: Sequence[int]) -> None:
        """Run the calls of rows ``pending``; every row is final when this returns."""
        assert self._engine is not None
        limits = {n: self._engine.limiter(t) for n, t in self.plan.targets.items()}
        for name, limiter in limits.items():
            limiter.join(self.plan.limits[name])
        try:
            self._tasks = [asyncio.create_task(self._call(i, limits)) for i in pending]
            if self._cancelling:
                self._cancel_tasks()
            if self._tasks:
                await asyncio.wait(self._tasks)
        finally:
            for name, limiter in limits.items():
                limiter.leave(self.plan.limits[name])
        for row, key in zip(self.rows, self.plan.keys, strict=True):
            if row.status == "pending":  # tasks cancelled before their first step never ran
                row.status = "cancelled"
                row.error_message = "cancelled before it started"
                self._saver.finished(row, key)
        self.finished = self.total

    def _build_providers(self) -> dict[str, Provider]:
        assert self._engine is not None
        plan = self.plan
        built = {n: self._engine.provider(t, plan.limits[n]) for n, t in plan.targets.items()}
        self._engine.hold(built.values())
        return built

    async def _open_store(self) -> cache.Store | None:
        try:
            return await asyncio.to_thread(cache.open_store)
        except Exception as exc:
            self.notes.append(f"cache unavailable ({cache.describe(exc)}); this run is not cached")
            return None

    async def _serve_hits(self, store: cache.Store) -> None:
        try:
            found = await asyncio.to_thread(store.get_many, set(self.plan.keys))
        except Exception as exc:
            self.notes.append(f"cache read failed ({cache.describe(exc)}); calling every model")
            return
        now = datetime.now(UTC)
        for row, key in zip(self.rows, self.plan.keys, strict=True):
            entry = cache.safe_loads(found[key]) if key in found else None
            if entry is None:
                cache.counters.misses += 1
                continue
            cache.counters.hits += 1
            entry.fill(row)
            row.started_at = now
            self._saver.finished(row, key)
            self.finished += 1

    async def _check_budget(self, requests: Sequence[Request]) -> None:
        bounds = await bound_requests(requests, self._providers)
        unpriced = sorted({b.request.model.spec for b in bounds if b.max_cost_usd is None})
        if unpriced:
            raise BudgetError(
                f"budget={self.plan.budget!r} cannot be enforced: no price known for "
                f"{', '.join(unpriced)}; add one with orbit_nb.set_price(...)"
            )
        estimate = sum(b.max_cost_usd or 0.0 for b in bounds)
        if estimate > (self.plan.budget or 0.0):
            raise BudgetError(
                f"estimated cost {usd(estimate)} (every answer at max_tokens) exceeds "
                f"budget={usd(self.plan.budget)}; nothing was sent. Lower max_tokens, "
                "use fewer prompts or models, or raise the budget"
            )

    async def _call(self, index: int, limits: Mapping[str, Limiter]) -> None:
        row, key = self.rows[index], self.plan.keys[index]
        name = row.request.model.provider
        try:
            if not await self._follow(row, key):
                await self._lead(row, key, self._providers[name], limits[name])
        except asyncio.CancelledError:
            row.status = "cancelled"
            row.error_message = "cancelled before it finished"
            raise
        finally:
            self._saver.finished(row, key)
            self.finished += 1

    async def _follow(self, row: Row, key: str) -> bool:
        """Reuse the answer of an identical request already in flight, if any."""
        leader = self._inflight.get(key) if self.plan.read_cache else None
        if leader is None:
            return False
        row.started_at = datetime.now(UTC)
        try:  # this call's own deadline, whatever the leader's is
            async with asyncio.timeout(self.plan.timeout):
                entry = await asyncio.shield(leader)
        except TimeoutError:
            message = f"no answer within the {self.plan.timeout:g} s timeout"
            _finish_error(
                row, Failure("timeout", message + " (an identical call was in flight)", False)
            )
            return True
        if entry is None:
            return False
        entry.fill(row)
        return True

    async def _lead(self, row: Row, key: str, provider: Provider, limit: Limiter) -> None:
        done: asyncio.Future[cache.Entry | None] = asyncio.get_running_loop().create_future()
        if self.plan.read_cache:
            self._inflight[key] = done
        try:
            async with limit.slot():
                budget = self.plan.budget
                if budget is not None and self.spent_usd >= budget:
                    row.status = "skipped"
                    row.error_message = f"budget {usd(budget)} reached; call not sent"
                    return
                await self._attempts(row, provider)
                self.spent_usd += row.cost_usd or 0.0
        finally:
            if self._inflight.get(key) is done:
                del self._inflight[key]
            done.set_result(cache.Entry.of(row) if row.status == "ok" else None)

    async def _attempts(self, row: Row, provider: Provider) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.plan.timeout
        row.started_at = datetime.now(UTC)
        while True:
            row.attempts += 1
            start = loop.time()
            try:
                async with asyncio.timeout_at(deadline) as scope:
                    completion = await provider.complete(row.request)
            except Exception as exc:
                failure = (
                    Failure(
                        "timeout", f"no answer within the {self.plan.timeout:g} s timeout", False
                    )
                    if scope.expired()
                    else provider.classify(exc)
                )
            else:
                row.latency_s = loop.time() - start
                _finish_ok(row, completion)
                return
            row.latency_s = loop.time() - start
            wait = backoff(row.attempts, failure.retry_after)
            if not failure.retryable or row.attempts >= MAX_ATTEMPTS:
                _finish_error(row, failure)
                return
            if loop.time() + wait > deadline:
                _finish_error(
                    row, failure, f"; no time left for a retry within {self.plan.timeout:g} s"
                )
                return
            await asyncio.sleep(wait)


def _finish_ok(row: Row, completion: Completion) -> None:
    row.content = completion.content
    row.usage = completion.usage
    row.finish_reason = completion.finish_reason
    row.request_id = completion.request_id
    row.cost_usd = pricing.cost(row.request.model.model, completion.usage)
    row.status = "ok"


def _finish_error(row: Row, failure: Failure, note: str = "") -> None:
    row.error_type = failure.error_type
    row.error_message = failure.message + note
    row.status = "error"


class Engine:
    """Owns the private loop thread and the HTTP clients, one per endpoint and key."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._providers: dict[tuple[object, ...], Provider] = {}
        self._inflight: dict[str, asyncio.Future[cache.Entry | None]] = {}
        self._limiters: dict[tuple[object, ...], Limiter] = {}
        self._users: collections.Counter[Provider] = collections.Counter()  # runs using each
        self._retired: set[Provider] = set()  # replaced by a new URL or key; closed when unused
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="orbit-engine", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def on_engine_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def provider(self, target: Target, concurrency: int) -> Provider:
        """The adapter for ``target``, built on first use (by a run in a worker thread:
        building one imports its SDK)."""
        key = (
            target.kind,
            target.endpoint,
            target.base_url,
            target.api_key,
            max(1000, concurrency),
        )
        with self._lock:
            adapter = self._providers.get(key)
            if adapter is None:
                # A new URL or key for this endpoint: the old client is closed once no
                # running run uses it (see release()).
                for old in [k for k in self._providers if k[:2] == key[:2]]:
                    self._retired.add(self._providers.pop(old))
                adapter = self._providers[key] = build(target, concurrency)
        return adapter

    def hold(self, adapters: Iterable[Provider]) -> None:
        """A run starts using ``adapters`` (any thread)."""
        with self._lock:
            self._users.update(adapters)

    async def release(self, adapters: Iterable[Provider]) -> None:
        """A run is done with ``adapters``: close those replaced meanwhile and unused."""
        with self._lock:
            self._users.subtract(adapters)
            unused = [a for a in self._retired if self._users[a] <= 0]
            self._retired.difference_update(unused)
        for adapter in unused:
            with contextlib.suppress(Exception):  # a client that fails to close is gone anyway
                await adapter.aclose()

    def limiter(self, target: Target) -> Limiter:
        """The calls-in-flight limit of ``target``'s endpoint, shared by every run
        (engine loop only)."""
        key = (target.kind, target.endpoint, target.base_url)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = Limiter()
        return limiter

    def submit(self, job: Job) -> concurrent.futures.Future[None]:
        """Start ``job`` on the engine loop; the caller's context goes with it."""
        job._loop = self.loop
        job._engine = self
        job._inflight = self._inflight
        job.future = asyncio.run_coroutine_threadsafe(job.run(), self.loop)
        return job.future

    def refuse_engine_thread(self) -> None:
        """Raise before anything is sent if a blocking call comes from the engine thread."""
        if self.on_engine_thread:
            raise EngineError(
                "compare() was called from orbit's engine thread, where waiting would "
                "deadlock; use 'await acompare(...)' there instead"
            )

    def wait(self, job: Job, on_tick: Callable[[], object] | None = None) -> None:
        """Block until ``job`` ends, calling ``on_tick`` about ten times a second
        (e.g. to draw progress). On any interrupt, cancel the job and re-raise."""
        assert job.future is not None
        self._block(job.future, job.interrupt, on_tick)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the engine loop and block for its result."""
        try:
            self.refuse_engine_thread()
        except EngineError:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._block(future, future.cancel)
        return future.result()

    def _block(
        self,
        future: concurrent.futures.Future[Any],
        cancel: Callable[[], object],
        on_tick: Callable[[], object] | None = None,
    ) -> None:
        """Wait for ``future`` in short slices, so an interrupt lands at once.

        Not ``except TimeoutError`` around a long wait: on Python 3.11 that is
        also the error a timed-out call raises, and the loop would spin.
        """
        self.refuse_engine_thread()
        try:
            while not future.done():
                concurrent.futures.wait([future], timeout=_POLL)
                if on_tick is not None:
                    on_tick()
        except BaseException:
            cancel()
            concurrent.futures.wait([future], timeout=2.0)
            raise
        future.result()  # re-raise what stopped the run (e.g. a BudgetError)

    async def await_job(self, job: Job, on_tick: Callable[[], object] | None = None) -> None:
        """Await ``job`` from any loop. A cancel of the awaiting task cancels the job.

        Waits in short slices: a bare await of the wrapped future is not
        interruptible in a Jupyter kernel (ipykernel#881).
        """
        assert job.future is not None
        waiter = asyncio.wrap_future(job.future)
        try:
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=_POLL)
                if on_tick is not None:
                    on_tick()
        except BaseException:
            job.interrupt()
            # Let the cancel land (milliseconds) so the job's rows are final. A short
            # blocking wait: after an interrupt a kernel's loop wakes for timers only
            # at its next I/O event, so an awaited wait here lags by half a second.
            concurrent.futures.wait([job.future], timeout=_CANCEL_WAIT)
            if not job.future.done():
                await asyncio.wait({waiter}, timeout=1.0)
            raise
        waiter.result()  # re-raise what stopped the run (e.g. a BudgetError)


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process's engine, started on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine
