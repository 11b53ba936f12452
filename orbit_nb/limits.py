"""Calls in flight per endpoint, shared by every run on the engine.

Two runs against one endpoint share its limit: two runs at ``concurrency=5``
have at most 5 requests in flight there, not 10. A run's ``concurrency=`` (or
the provider's default) sets the endpoint's limit while the run goes on; with
several runs, the one started last decides. Waiting calls are let through in
the order they asked.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Limiter"]


class Limiter:
    """A semaphore whose size can change while calls wait on it (engine loop only)."""

    def __init__(self) -> None:
        self._busy = 0
        self._asks: list[int] = []  # the limits of the runs using it, oldest first
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def limit(self) -> int:
        return self._asks[-1] if self._asks else 1

    @property
    def in_flight(self) -> int:
        return self._busy

    def join(self, limit: int) -> None:
        """A run starts using this endpoint with ``limit`` calls in flight at most."""
        self._asks.append(limit)
        self._wake()

    def leave(self, limit: int) -> None:
        """That run has ended."""
        self._asks.remove(limit)
        self._wake()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the endpoint's slots for the duration of the block."""
        await self._acquire()
        try:
            yield
        finally:
            self._busy -= 1
            self._wake()

    async def _acquire(self) -> None:
        if self._busy < self.limit and not self._waiters:
            self._busy += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._busy -= 1  # granted as it was cancelled: pass the slot on
                self._wake()
            else:
                self._waiters.remove(granted)
            raise

    def _wake(self) -> None:
        while self._waiters and self._busy < self.limit:
            granted = self._waiters.popleft()
            if not granted.done():
                self._busy += 1
                granted.set_result(None)
