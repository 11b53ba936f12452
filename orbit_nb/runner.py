"""Carries out one run on the engine loop: cache hits, the budget gate, the fan-out
of calls under each endpoint's limit, and saving rows as they finish.

Identical requests in flight at the same time (in this run or another) are sent
once; the others wait for that answer, each within its own timeout. Every row
ends exactly once (see :mod:`orbit_nb.rows`) and each step is published on the
run's events. Nothing here blocks the loop: adapters are built, stores opened
and rows written in worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from . import cache, retry, rows
from . import events as ev
from .bounds import Cap, budget_bounds, budget_caps, cap_note
from .cost import cost
from .errors import BudgetError
from .formats import usd
from .price_data import priced
from .retry import call, timed_out
from .saver import Saver

if TYPE_CHECKING:
    from .engine import Engine
    from .limits import Limiter
    from .providers.base import Failure, Provider
    from .run import Run
    from .types import Request, Row

__all__ = ["Runner"]


class Runner:
    """The algorithm of one :class:`~orbit_nb.run.Run` (engine loop only)."""

    def __init__(self, run: Run, engine: Engine) -> None:
        self.run = run
        self.plan = run.plan
        self.engine = engine
        self.cancelling = False
        self._providers: dict[str, Provider] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._saver = Saver(None, run.notes)  # replaced once the cache is open

    def cancel(self) -> None:
        """Cancel every call still running (engine loop)."""
        self.cancelling = True
        for task in self._tasks:
            task.cancel()

    async def __call__(self) -> None:
        run = self.run
        run.events.publish(ev.RunStarted(run.total))
        ending = "failed"
        try:
            await self._run()
            ending = run.stopped_by or "done"
        except BudgetError:
            ending = "refused"
            raise
        except asyncio.CancelledError:
            ending = run.stopped_by or "cancelled"
            raise
        finally:
            if self._providers:
                await self.engine.release(self._providers.values())
            run.events.publish(ev.RunFinished(ending))

    async def _run(self) -> None:
        if self.plan.start_delay:
            await asyncio.sleep(self.plan.start_delay)
        # Building an adapter imports its SDK (seconds, the first time) and prices
        # may read a file: a worker thread does both, so neither the caller nor
        # the engine loop waits on it.
        await asyncio.to_thread(self._prepare)
        store = await self._open_store()
        self._saver = Saver(store, self.run.notes)
        if store is not None and self.plan.options.cache:
            await self._serve_hits(store)
        pending = [i for i, row in enumerate(self.run.rows) if row.status == "pending"]
        if self.plan.options.budget is not None:
            await self._check_budget([self.run.rows[i].request for i in pending])
        writer = asyncio.create_task(self._saver.run())  # saves rows as they finish
        try:
            await self._calls(pending)
        finally:
            self._saver.close()
            await asyncio.shield(writer)

    def _prepare(self) -> None:
        plan = self.plan
        built = {n: self.engine.provider(t, plan.limits[n]) for n, t in plan.targets.items()}
        self.engine.hold(built.values())
        self._providers = built

    def _finished(self, index: int) -> None:
        row = self.run.rows[index]
        self._saver.finished(row, self.plan.keys[index])
        self.run.events.publish(ev.RowFinished(index, row))

    async def _open_store(self) -> cache.Store | None:
        try:
            return await asyncio.to_thread(cache.open_store)
        except Exception as exc:
            self.run.notes.append(
                f"cache unavailable ({cache.describe(exc)}); this run is not cached"
            )
            return None

    async def _serve_hits(self, store: cache.Store) -> None:
        try:
            found = await asyncio.to_thread(store.get_many, set(self.plan.keys))
        except Exception as exc:
            self.run.notes.append(f"cache read failed ({cache.describe(exc)}); calling every model")
            return
        for index, (row, key) in enumerate(zip(self.run.rows, self.plan.keys, strict=True)):
            entry = cache.safe_loads(found[key]) if key in found else None
            if entry is None:
                cache.counters.misses += 1
                continue
            cache.counters.hits += 1
            rows.served(row, entry)
            self._finished(index)

    async def _check_budget(self, requests: Sequence[Request]) -> None:
        """Refuse the run unless its cost bound fits the budget. Without max_tokens,
        each pending call is first given the cap that bounds its output (see
        :func:`~orbit_nb.bounds.budget_caps`), and a note says which."""
        budget = self.plan.options.budget or 0.0
        pending = [row for row in self.run.rows if row.status == "pending"]
        caps: list[Cap] = []
        if self.plan.options.max_tokens is None:
            requests, caps = await budget_caps(requests, self._providers)
        bounds = await budget_bounds(requests, self._providers, budget)
        unpriced = sorted({b.request.model.spec for b in bounds if b.max_cost_usd is None})
        if unpriced:
            raise BudgetError(
                f"budget={budget!r} cannot be enforced: no price known for "
                f"{', '.join(unpriced)}; add one with orbit_nb.set_price(...)"
            )
        estimate = sum(b.max_cost_usd or 0.0 for b in bounds)
        if estimate > budget:
            raise BudgetError(
                f"estimated cost {usd(estimate)} (every answer at max_tokens) exceeds "
                f"budget={usd(budget)}; nothing was sent. Lower max_tokens, "
                "use fewer prompts or models, or raise the budget"
                + (f" ({cap_note(caps)})" if caps else "")
            )
        for row, sent in zip(pending, requests, strict=True):
            rows.capped(row, sent)
        if caps:
            self.run.notes.append(cap_note(caps))

    async def _calls(self, pending: Sequence[int]) -> None:
        """Run the calls of rows ``pending``; every row is final when this returns."""
        plan = self.plan
        limits = {n: self.engine.limiter(t) for n, t in plan.targets.items()}
        for name, limiter in limits.items():
            limiter.join(plan.limits[name])
        try:
            self._tasks = [asyncio.create_task(self._call(i, limits)) for i in pending]
            if self.cancelling:
                self.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks)
        finally:
            for name, limiter in limits.items():
                limiter.leave(plan.limits[name])
        for index, row in enumerate(self.run.rows):
            if row.status == "pending":  # tasks cancelled before their first step never ran
                rows.cancelled(row, "cancelled before it started")
                self._finished(index)

    async def _call(self, index: int, limits: Mapping[str, Limiter]) -> None:
        row, key = self.run.rows[index], self.plan.keys[index]
        name = row.request.model.provider
        try:
            if not await self._follow(row, key):
                await self._lead(index, key, self._providers[name], limits[name])
        except asyncio.CancelledError:
            rows.cancelled(row, "cancelled before it finished")
            raise
        finally:
            self._finished(index)

    async def _follow(self, row: Row, key: str) -> bool:
        """Reuse the answer of an identical request already in flight, if any."""
        leader = self.engine.inflight.get(key) if self.plan.options.cache else None
        if leader is None:
            return False
        rows.started(row)
        timeout = self.plan.timeout
        try:  # this call's own deadline, whatever the leader's is
            async with asyncio.timeout(timeout):
                entry = await asyncio.shield(leader)
        except TimeoutError:
            rows.failed(row, timed_out(timeout, " (an identical call was in flight)"))
            return True
        if entry is None:
            return False
        rows.served(row, entry)
        return True

    async def _lead(self, index: int, key: str, provider: Provider, limit: Limiter) -> None:
        row = self.run.rows[index]
        inflight = self.engine.inflight
        done: asyncio.Future[cache.Entry | None] = asyncio.get_running_loop().create_future()
        if self.plan.options.cache:
            inflight[key] = done
        try:
            async with limit.slot():
                budget = self.plan.options.budget
                if budget is not None and self.run.spent_usd >= budget:
                    rows.skipped(row, f"budget {usd(budget)} reached; call not sent")
                    return
                await self._attempts(index, provider)
        finally:
            if inflight.get(key) is done:
                del inflight[key]
            done.set_result(cache.Entry.of(row) if row.status == "ok" else None)

    async def _attempts(self, index: int, provider: Provider) -> None:
        row = self.run.rows[index]
        events = self.run.events
        rows.started(row)
        events.publish(ev.RowStarted(index, row))

        def retrying(attempt: int, failure: Failure, wait: float) -> None:
            events.publish(ev.RowRetrying(index, row, attempt, failure, wait))

        def delta(text: str) -> bool:
            if events.hears_deltas:
                events.publish(ev.RowDelta(index, row, text))
            return events.shows(index)  # a live display showed it: no retry may start over

        outcome = await call(
            self._sender(provider, row.request),
            provider.classify,
            timeout=self.plan.timeout,
            on_attempt=lambda n: rows.attempting(row, n),
            on_retry=retrying,
            on_text=delta,
        )
        if outcome.completion is not None:
            got = outcome.completion
            bill = priced(
                row.request.model.provider,
                row.request.model.model,
                got.response_model,
                row.started_at,
                got.service_tier or row.request.service_tier,
                got.inference_geo,
                got.speed,
            )
            cost_usd = cost(bill.price, got.usage)
            rows.answered(row, got, outcome.latency_s, cost_usd, outcome.ttft_s, bill.source)
        else:
            assert outcome.failure is not None
            rows.failed(
                row,
                outcome.failure,
                outcome.latency_s,
                outcome.note,
                partial=outcome.partial,
                ttft_s=outcome.ttft_s,
            )

    def _sender(self, provider: Provider, request: Request) -> retry.Send:
        """One attempt at ``request``: streamed when the run streams."""
        if not self.plan.options.stream:
            return lambda _: provider.complete(request)
        # Read at each call, so a test can shorten it.
        return lambda on_text: provider.stream(request, on_text, stall_s=retry.STALL_TIMEOUT)
