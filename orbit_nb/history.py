"""Run history: every call (ok, error, cancelled, cached) in a SQLite file.

The file is ``history.sqlite`` in ``ORBIT_CACHE_DIR`` (default: the per-user
cache dir), one table ``calls`` written and read by column name. Its layout
has a version (SQLite's ``user_version``): a file of an older layout is
migrated in place on the next write, keeping its rows; a file from a newer
orbit_nb is read but never written. Several kernels may write at once: the
database runs in WAL mode and a writer waits at most
:data:`~orbit_nb.cache.DEADLINE_S` for another's lock. Rows are written in
batches by a worker thread as they finish; a value SQLite cannot hold (an
integer over 64 bits, a lone surrogate, an enormous text) is stored as text
or truncated, so a row is never dropped for one of its values. A failure is
reported as a warning and never breaks the run. No secret is stored: rows
hold no keys.
"""

from __future__ import annotations

import numbers
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import (
    DEADLINE_S,
    StoreError,
    data_dir,
    describe,
    gave_up,
    is_locked,
    read_connection,
)
from .errors import ParameterError
from .types import Row

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXTRA_COLUMNS", "MAX_TEXT_CHARS", "SCHEMA_VERSION", "history", "history_path", "record"]

#: Run parameters stored next to the result columns.
EXTRA_COLUMNS = {"system": "string", "temperature": "float64", "max_tokens": "Int64"}

#: The layout this orbit_nb writes. 0: the first layout (no version stamped);
#: 1: the same table, stamped, with any missing column added. A new column
#: only needs adding to the result columns; a change that is not an addition
#: bumps this and adds a step to :func:`_migrate`.
SCHEMA_VERSION = 1

#: Longer texts are cut (with a marker): SQLite refuses values over 1e9 bytes.
MAX_TEXT_CHARS = 10_000_000
_TRUNCATED = " …[truncated]"
_INT64 = (-(2**63), 2**63 - 1)


def history_path() -> Path:
    return data_dir() / "history.sqlite"


def _columns() -> dict[str, str]:
    from .rows import COLUMNS

    return {**COLUMNS, **EXTRA_COLUMNS}


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


# --- writing ---------------------------------------------------------------------------


def _storable(value: object) -> object:
    """``value`` as something SQLite stores: numbers in range, valid UTF-8 text."""
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, numbers.Integral):
        number = int(value)
        return number if _INT64[0] <= number <= _INT64[1] else str(number)
    if isinstance(value, numbers.Real):
        return float(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + _TRUNCATED
    if not text.isascii():
        # A lone surrogate cannot be encoded: keep it visible as "\ud800".
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _values(row: Row) -> tuple[object, ...]:
    from .rows import row_values

    req = row.request
    values = (*row_values(row), req.system, req.temperature, req.max_tokens)
    return tuple(_storable(v) for v in values)


def record(rows: Sequence[Row], path: Path | None = None) -> None:
    """Append ``rows`` in one transaction, migrating an older file first.

    Raises :class:`~orbit_nb.cache.StoreError` naming the file when it is
    locked past the deadline, from a newer orbit_nb, or unusable.
    """
    if not rows:
        return
    target = path or history_path()
    data = [_values(r) for r in rows]
    deadline = time.monotonic() + DEADLINE_S  # for the whole write, opening included
    try:
        with closing(_connect(target)) as conn:
            _write(conn, target, data, deadline)
    except sqlite3.Error as exc:
        if is_locked(exc):
            raise gave_up("history write to", target, "file") from exc
        raise StoreError(f"history write to {target} failed: {describe(exc)}") from exc


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=DEADLINE_S, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # readers and one writer never block each other
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _write(
    conn: sqlite3.Connection, path: Path, data: list[tuple[object, ...]], deadline: float
) -> None:
    names = list(_columns())
    _begin(conn, deadline)
    try:
        _migrate(conn, path)
        insert = f"INSERT INTO calls ({_quoted(names)}) VALUES ({', '.join('?' * len(names))})"
        conn.executemany(insert, data)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT may have ended it already
            conn.execute("ROLLBACK")
        raise


def _begin(conn: sqlite3.Connection, deadline: float) -> None:
    """Take the write lock, waiting for another writer until ``deadline``.

    SQLite's busy handler does the waiting; the loop covers the cases where
    SQLite reports busy without waiting (e.g. while another process recovers
    the WAL).
    """
    while True:
        left = deadline - time.monotonic()
        conn.execute(f"PRAGMA busy_timeout = {max(int(left * 1000), 0)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.02)  # a worker thread, never the engine loop


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`, inside the write transaction
    (so two processes never migrate the same file at once)."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"history file {path} was written by a newer orbit_nb (layout {version}; this "
            f"one knows up to {SCHEMA_VERSION}): it is read but not written. Upgrade "
            "orbit_nb, or set ORBIT_CACHE_DIR to record elsewhere"
        )
    names = _quoted(list(_columns()))
    conn.execute(f"CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, {names})")
    present = _present(conn)
    for name in _columns():
        if name not in present:
            conn.execute(f'ALTER TABLE calls ADD COLUMN "{name}"')
    if version < SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _present(conn: sqlite3.Connection) -> set[str]:
    return {str(info[1]) for info in conn.execute("PRAGMA table_info(calls)")}


# --- reading ---------------------------------------------------------------------------


def history(limit: int | None = None, run_id: str | None = None) -> pd.DataFrame:
    """Every recorded call as a DataFrame (result columns plus run parameters), oldest first.

    ``limit`` keeps the most recent N calls; ``run_id`` keeps one run's calls::

        orbit_nb.history(limit=20)
        orbit_nb.history(run_id=df["run_id"].iloc[0])

    A file of an older layout reads with NA in the columns it lacks; a value
    stored as text because SQLite could not hold it reads as NA in a number
    column.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ParameterError(f"limit={limit!r} must be a whole number >= 1 or None")
    if run_id is not None and not isinstance(run_id, str):
        raise ParameterError(f"run_id={run_id!r} must be a str or None")
    path = history_path()
    try:
        data = _read(path, limit, run_id)
    except sqlite3.Error as exc:
        if is_locked(exc):
            raise gave_up("history read from", path, "file") from exc
        raise StoreError(f"history read from {path} failed: {describe(exc)}") from exc
    return _frame(data)


def _read(path: Path, limit: int | None, run_id: str | None) -> dict[str, list[object]]:
    """Each known column's values, oldest row first; [] for every column of no file."""
    columns = list(_columns())
    if not path.exists():
        return {name: [] for name in columns}
    with closing(read_connection(path)) as conn:
        present = [name for name in columns if name in _present(conn)]
        if not present:  # an empty file, or no table yet
            return {name: [] for name in columns}
        where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        query = f"SELECT {_quoted(present)} FROM calls {where} ORDER BY rowid DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        rows = conn.execute(query, params).fetchall()[::-1]
    found = dict(zip(present, zip(*rows, strict=True), strict=True)) if rows else {}
    return {name: list(found.get(name, [None] * len(rows))) for name in columns}


def _frame(data: dict[str, list[object]]) -> pd.DataFrame:
    import pandas as pd

    from .table import as_table

    frame = {name: _series(data[name], dtype) for name, dtype in _columns().items()}
    return as_table(pd.DataFrame(frame), _SHOWN)


def _series(values: list[object], dtype: str) -> pd.Series:
    import pandas as pd

    if dtype not in ("bool", "datetime64[us, UTC]"):
        try:  # the common case: every value already fits the dtype
            return pd.Series(values, dtype=dtype)
        except (ValueError, TypeError, OverflowError):
            pass
    return pd.Series([_cell(v, dtype) for v in values], dtype=dtype)


def _cell(value: object, dtype: str) -> object:
    """``value`` as the column's dtype takes it; NA for what does not fit (a
    number stored as text because SQLite could not hold it, a bad timestamp)."""
    if dtype == "bool":
        return bool(value)
    if value is None:
        return None
    if dtype == "Int64":
        fits = isinstance(value, int) and _INT64[0] <= value <= _INT64[1]
        return value if fits else None
    if dtype == "float64":
        return float(value) if isinstance(value, int | float) else None
    if dtype.startswith("datetime64"):
        return _timestamp(value)
    return value if isinstance(value, str) else str(value)


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


# What a notebook shows of the history by default (every column stays in the frame).
_SHOWN = (
    "started_at",
    "run_id",
    "prompt_id",
    "model_spec",
    "status",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cached",
    "content",
)
