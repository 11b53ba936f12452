"""Saving a run's rows as they finish: ok answers to the cache, every row to the history.

Rows are batched and written about once a second by a worker thread (never on
the engine loop), so a crash or a killed kernel loses at most the last second
of answers, and a rerun asks only for what was not answered. Trouble with a
store never stops the run: it becomes one note on the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from . import cache
from .history_store import record as record_history
from .types import Row

__all__ = ["SAVE_EVERY", "Saver"]

#: Seconds between two writes of the rows finished meanwhile.
SAVE_EVERY = 1.0


class Saver:
    """Collects finished rows on the engine loop; writes them in batches off it."""

    def __init__(self, store: cache.Store | None, notes: list[str]) -> None:
        self._store = store
        self._notes = notes
        self._pending: list[tuple[Row, str]] = []
        self._closed = asyncio.Event()

    def finished(self, row: Row, key: str) -> None:
        """``row`` is final (ok, error, cancelled, skipped, or served from the cache)."""
        self._pending.append((row, key))

    async def run(self) -> None:
        """Write what finished every :data:`SAVE_EVERY` seconds; after :meth:`close`,
        write the rest and return (so the run ends with everything written)."""
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), SAVE_EVERY)
            await self.flush()
        # Rows may have finished, and close() come, while the last write ran.
        await self.flush()

    def close(self) -> None:
        """No more rows: :meth:`run` writes the last ones and returns."""
        self._closed.set()

    async def flush(self) -> None:
        """Write the rows finished since the last write (in a worker thread)."""
        batch, self._pending = self._pending, []
        if batch:
            rows, keys = zip(*batch, strict=True)
            await asyncio.to_thread(self._write, rows, keys)

    def _write(self, rows: Sequence[Row], keys: Sequence[str]) -> None:
        if self._store is not None:
            fresh = cache.entries_of(rows, keys)
            try:
                if fresh:
                    self._store.put_many(fresh, cache.ttl())
            except Exception as exc:
                self._note(f"cache write failed ({cache.describe(exc)})")
        try:
            record_history(rows)
        except Exception as exc:
            self._note(f"history not recorded ({cache.describe(exc)})")

    def _note(self, text: str) -> None:
        if text not in self._notes:  # once per run, however many batches fail
            self._notes.append(text)
