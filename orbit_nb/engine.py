"""The engine: one private event loop in a daemon thread runs every call.

``compare()`` submits a :class:`~orbit_nb.run.Run` to the loop and waits on it
from its own thread; ``acompare()`` awaits it from the caller's loop. The user's
event loop is never patched, so the same code runs in a script, in a kernel
(which already runs a loop) and in a web server. Nothing here may block the
engine loop: no SDK import, no file I/O, no sleeping other than ``asyncio.sleep``.

The engine owns what runs share: the HTTP adapters (one per endpoint and key),
one calls-in-flight limit per endpoint, and the table of requests in flight (so
identical requests of concurrent runs are sent once). What a run does is the
:class:`~orbit_nb.runner.Runner`'s; how one call is retried is :mod:`orbit_nb.retry`'s.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .config import use_uvloop
from .errors import EngineError
from .limits import Limiter
from .providers import build
from .providers.base import Provider
from .runner import Runner
from .specs import Target

if TYPE_CHECKING:
    from .cache import Entry
    from .run import Run

__all__ = ["Engine", "block", "get_engine", "new_loop"]

T = TypeVar("T")
_POLL = 0.1  # seconds between checks while a caller waits: keeps interrupts prompt


def new_loop() -> asyncio.AbstractEventLoop:
    """The engine's own loop: uvloop's where it is installed (the ``fast`` extra;
    less CPU per call), else asyncio's. ``ORBIT_UVLOOP=0`` turns uvloop off."""
    if use_uvloop():
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


class Engine:
    """Owns the private loop thread and the HTTP clients, one per endpoint and key."""

    def __init__(self) -> None:
        self.loop = new_loop()
        self._providers: dict[tuple[object, ...], Provider] = {}
        #: Requests in flight by cache key, shared by every run (engine loop only).
        self.inflight: dict[str, asyncio.Future[Entry | None]] = {}
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

    def submit(self, run: Run) -> concurrent.futures.Future[None]:
        """Start ``run`` on the engine loop; the caller's context goes with it."""
        runner = Runner(run, self)
        future = asyncio.run_coroutine_threadsafe(runner(), self.loop)
        run.attach(future, self.loop, runner.cancel)
        return future

    def refuse_engine_thread(self) -> None:
        """Raise before anything is sent if a blocking call comes from the engine thread."""
        if self.on_engine_thread:
            raise EngineError(
                "compare() was called from orbit's engine thread, where waiting would "
                "deadlock; use 'await acompare(...)' there instead"
            )

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the engine loop and block for its result."""
        try:
            self.refuse_engine_thread()
        except EngineError:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        block(future, future.cancel)
        return future.result()


def block(
    future: concurrent.futures.Future[Any],
    cancel: Callable[[], object],
    on_tick: Callable[[], object] | None = None,
) -> None:
    """Wait for ``future`` in short slices, so an interrupt lands at once; on any
    interrupt call ``cancel`` and re-raise. Raises what ``future`` raised.

    Not ``except TimeoutError`` around a long wait: on Python 3.11 that is
    also the error a timed-out call raises, and the loop would spin.
    """
    get_engine().refuse_engine_thread()
    try:
        while not future.done():
            concurrent.futures.wait([future], timeout=_POLL)
            if on_tick is not None:
                on_tick()
    except BaseException:
        cancel()
        concurrent.futures.wait([future], timeout=2.0)
        raise
    future.result()


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process's engine, started on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine
