"""The public handle of one run: its rows so far, its events, cancel, and the frame.

A :class:`Run` exists before any call starts and holds one row per call, so an
interrupt or a cancel keeps every finished row. The engine's runner fills the
rows in (see :mod:`orbit_nb.runner`) and publishes what happens on
:attr:`Run.events`; the run keeps its own counts from those events. Wait for it
with :meth:`Run.wait` (blocking, interruptible) or ``await run``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import events as ev
from .errors import BudgetError

if TYPE_CHECKING:
    import pandas as pd

    from .plan import Plan
    from .types import Row

__all__ = ["Run", "RunState"]

#: What a run is doing, or how it ended: running (or cancelling), done, cancelled
#: (by ``cancel()``), interrupted (the waiting caller was interrupted), refused
#: (over budget before any call), failed (an internal error).
RunState = Literal["running", "cancelling", "done", "cancelled", "interrupted", "refused", "failed"]
_POLL = 0.1  # seconds between checks while a caller waits: keeps interrupts prompt
_CANCEL_WAIT = 0.25  # seconds an interrupted await blocks for the cancel to land


class Run:
    """One run: its rows (filled in as calls finish), progress, events, and cancel.

    Calls that did not finish when the run was cancelled or interrupted end as
    ``status="cancelled"``. ``run.frame()`` is the DataFrame at any time
    (unfinished calls show ``status="pending"``); ``run.events.subscribe(f)``
    follows the run as it goes.
    """

    def __init__(self, run_id: str, rows: Sequence[Row], plan: Plan) -> None:
        self.run_id = run_id
        self.rows = list(rows)
        self.plan = plan
        self.events = ev.Events()
        #: Problems that did not stop the run (cache or history unavailable).
        self.notes: list[str] = []
        self.future: concurrent.futures.Future[None] | None = None
        self.finished = 0  # rows final so far
        self.spent_usd = 0.0  # dollars spent on answers so far (cache hits are free)
        self.started = time.monotonic()  # reset when the engine starts the run
        self.ended: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancel_calls: Callable[[], object] | None = None
        self._cancelling = False
        self._stopped_by: Literal["cancelled", "interrupted"] | None = None
        self.events.subscribe(self._count, deltas=False)

    def __repr__(self) -> str:
        return f"<Run {self.run_id} {self.finished}/{self.total} {self.state}>"

    def _count(self, event: ev.Event) -> None:
        if isinstance(event, ev.RowFinished):
            self.finished += 1
            row = event.row
            if row.status == "ok" and not row.cached and row.cost_usd is not None:
                self.spent_usd += row.cost_usd
        elif isinstance(event, ev.RunStarted):
            self.started = time.monotonic()
        elif isinstance(event, ev.RunFinished):
            self.ended = time.monotonic()

    def attach(
        self,
        future: concurrent.futures.Future[None],
        loop: asyncio.AbstractEventLoop,
        cancel_calls: Callable[[], object],
    ) -> None:
        """The engine started the run on ``loop``; ``cancel_calls`` stops it there."""
        self._loop, self._cancel_calls, self.future = loop, cancel_calls, future

    @property
    def state(self) -> RunState:
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

    @property
    def stopped_by(self) -> Literal["cancelled", "interrupted"] | None:
        """Why the run was stopped early, if it was."""
        return self._stopped_by

    def cancel(self) -> None:
        """Cancel every call still running; finished rows stay. Safe from any thread."""
        self._stop("cancelled")

    def interrupt(self) -> None:
        """Cancel because the waiting caller was interrupted (Ctrl-C, the kernel's stop)."""
        self._stop("interrupted")

    def _stop(self, why: Literal["cancelled", "interrupted"]) -> None:
        if self._loop is not None and self._cancel_calls is not None and not self.done:
            self._stopped_by = self._stopped_by or why
            self._cancelling = True
            self._loop.call_soon_threadsafe(self._cancel_calls)

    def problems(self) -> list[str]:
        """What went amiss without stopping the run: cache or history trouble,
        models without a price."""
        from .price_data import unpriced_notes

        unpriced = unpriced_notes(
            r.price_source for r in self.rows if r.status == "ok" and r.cost_usd is None
        )
        return [*self.notes, *unpriced]

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (unfinished calls show ``status="pending"``)."""
        from .frame import to_frame

        df = to_frame(self.rows)
        df.attrs["wall_s"] = self.wall_s
        return df

    def wait(self, on_tick: Callable[[], object] | None = None) -> pd.DataFrame:
        """Block until the run ends and return its frame, calling ``on_tick`` about
        ten times a second (e.g. to draw progress). An interrupt (Ctrl-C, the
        kernel's stop) cancels the calls still running and re-raises; the
        finished rows stay on the run. Raises what stopped the run (e.g. a
        :class:`~orbit_nb.errors.BudgetError`)."""
        from .engine import block

        assert self.future is not None, "the run was never started"
        block(self.future, self.interrupt, on_tick)
        return self.frame()

    async def wait_async(self, on_tick: Callable[[], object] | None = None) -> pd.DataFrame:
        """The awaitable form of :meth:`wait`, from any event loop: cancelling the
        awaiting task cancels the run's calls.

        Waits in short slices: a bare await of the engine's future is not
        interruptible in a Jupyter kernel (ipykernel#881).
        """
        future = self.future
        assert future is not None, "the run was never started"
        waiter = asyncio.wrap_future(future)
        try:
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=_POLL)
                if on_tick is not None:
                    on_tick()
        except BaseException:
            self.interrupt()
            # Let the cancel land (milliseconds) so the rows are final. A short
            # blocking wait: after an interrupt a kernel's loop wakes for timers only
            # at its next I/O event, so an awaited wait here lags by half a second.
            concurrent.futures.wait([future], timeout=_CANCEL_WAIT)
            if not future.done():
                await asyncio.wait({waiter}, timeout=1.0)
            raise
        waiter.result()  # re-raise what stopped the run (e.g. a BudgetError)
        return self.frame()

    def __await__(self) -> Generator[Any, None, pd.DataFrame]:
        return self.wait_async().__await__()
