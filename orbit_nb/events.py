"""What a run publishes while it goes: a row started, is retrying, received part
of a streamed answer, finished; the run finished.

A run's :class:`Events` calls its listeners on the engine loop, in the order
things happen, with the row concerned (the same object the run holds, final
once :class:`RowFinished` arrives). A listener must return at once: it runs on
the loop every call shares. A display that draws (a widget, a progress bar)
records what changed and draws on its own schedule, throttled. A listener that
raises is logged and dropped, never the run's problem.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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

    The pieces of one attempt, joined, are the answer so far. A stream that fails
    before any text arrived is retried (a :class:`RowRetrying` comes first);
    once text has arrived it is not, so the pieces never start over.
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
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns an unsubscribe."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every listener (engine loop only)."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("an orbit_nb event listener failed; it is unsubscribed")
                with self._lock:
                    self._listeners = tuple(x for x in self._listeners if x is not listener)
