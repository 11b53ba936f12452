"""What a run publishes while it goes: a row started, is retrying, received part
of a streamed answer, finished; the run finished.

A run's :class:`Events` calls its listeners on the engine loop, in the order
things happen, with the row concerned (the same object the run holds, final
once :class:`RowFinished` arrives). A listener must return at once: it runs on
the loop every call shares. A display that draws (a widget, a progress bar)
records what changed and draws on its own schedule, throttled. A listener that
raises is logged and dropped, never the run's problem.

A listener that displays streamed text as it arrives (the panel, a streamed
run's live cards) subscribes with ``shows_text=True`` (and ``rows=``, when it
draws only some rows): once a piece of an answer has been published while one
that draws its row is subscribed, that text was shown, and a stream that
breaks afterwards is not retried (see :mod:`orbit_nb.retry`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .providers.base import Failure
    from .types import Row

__all__ = [
    "Event",
    "Events",
    "Listener",
    "RowDelta",
    "RowFinished",
    "RowRetrying",
    "RowStarted",
    "RunFinished",
    "RunStarted",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunStarted:
    """The run began: ``pending`` calls will be sent (the others came from the cache)."""

    total: int


@dataclass(frozen=True, slots=True)
class RowStarted:
    """Row ``index`` took its place in its endpoint's limit and sends its first attempt."""

    index: int
    row: Row


@dataclass(frozen=True, slots=True)
class RowRetrying:
    """Attempt ``attempt`` of row ``index`` failed with ``failure``; the next is
    sent after ``wait_s`` seconds."""

    index: int
    row: Row
    attempt: int
    failure: Failure
    wait_s: float


@dataclass(frozen=True, slots=True)
class RowDelta:
    """Row ``index``, streamed, received ``text``: the next piece of its answer.

    The pieces of one attempt, joined, are the answer so far. A stream that
    breaks is retried (a :class:`RowRetrying` comes first, and the next
    attempt's pieces start over) unless part of it was shown: once a piece was
    published while a listener that shows this row's text was subscribed
    (:meth:`Events.shows`), the stream is not retried, so shown text never
    starts over.
    """

    index: int
    row: Row
    text: str


@dataclass(frozen=True, slots=True)
class RowFinished:
    """Row ``index`` is final (ok, error, cancelled, skipped, or served from the cache)."""

    index: int
    row: Row


@dataclass(frozen=True, slots=True)
class RunFinished:
    """Every row is final; ``state`` is how the run ended (see ``Run.state``)."""

    state: str


Event = RunStarted | RowStarted | RowRetrying | RowDelta | RowFinished | RunFinished
Listener = Callable[[Event], object]


class Events:
    """One run's listeners. Subscribe from any thread; events are delivered on the engine loop."""

    def __init__(self) -> None:
        self._listeners: tuple[Listener, ...] = ()
        self._hearing: tuple[Listener, ...] = ()  # those that take RowDelta events too
        # The listeners that display streamed text, each with the rows it draws (None: all).
        self._showing: tuple[tuple[Listener, frozenset[int] | None], ...] = ()
        self._lock = threading.Lock()

    def subscribe(
        self,
        listener: Listener,
        *,
        shows_text: bool = False,
        rows: Collection[int] | None = None,
        deltas: bool = True,
    ) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns an unsubscribe.

        ``shows_text=True`` says the listener displays streamed text as it arrives
        (a live display): the run then never retries a stream that broke after
        part of it was shown. ``rows``: the indexes of the rows whose text it
        shows, when it draws only some (None: every row); a stream in a row it
        does not draw is retried as if no display were there. ``deltas=False``:
        every event but :class:`RowDelta` (a run with no listener of deltas
        makes none).
        """
        shown = None if rows is None else frozenset(rows)
        with self._lock:
            self._listeners = (*self._listeners, listener)
            if deltas:
                self._hearing = (*self._hearing, listener)
            if shows_text:
                self._showing = (*self._showing, (listener, shown))
        return lambda: self._drop(listener)

    @property
    def shows_text(self) -> bool:
        """Whether a listener that displays streamed text is subscribed now."""
        return bool(self._showing)

    @property
    def hears_deltas(self) -> bool:
        """Whether a listener of :class:`RowDelta` events is subscribed now."""
        return bool(self._hearing)

    def shows(self, index: int) -> bool:
        """Whether a listener subscribed now displays row ``index``'s streamed text."""
        return any(rows is None or index in rows for _, rows in self._showing)

    def _drop(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)
            self._hearing = tuple(x for x in self._hearing if x is not listener)
            self._showing = tuple(x for x in self._showing if x[0] is not listener)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every listener of it (engine loop only)."""
        listeners = self._hearing if type(event) is RowDelta else self._listeners
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("an orbit_nb event listener failed; it is unsubscribed")
                self._drop(listener)
