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
hold no keys. :func:`history` reads the most recent runs (up to
:data:`DEFAULT_LIMIT` calls) unless told otherwise, filtering in SQL.
"""

from __future__ import annotations

import numbers
import sqlite3
import time
import warnings
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
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

__all__ = [
    "DEFAULT_LIMIT",
    "EXTRA_COLUMNS",
    "MAX_TEXT_CHARS",
    "SCHEMA_VERSION",
    "history",
    "history_path",
    "record",
]

#: Run parameters stored next to the result columns.
EXTRA_COLUMNS = {"system": "string", "temperature": "float64", "max_tokens": "Int64"}

#: The layout this orbit_nb writes. 0: the first layout (no version stamped);
#: 1: the same table, stamped, with any missing column added. A new column
#: only needs adding to the result columns; a change that is not an addition
#: bumps this and adds a step to :func:`_migrate`. An index is not a change of
#: layout (older and newer orbit_nb read and write the table the same with or
#: without it): :func:`_migrate` creates a missing one without a bump.
SCHEMA_VERSION = 1

#: The calls :func:`history` returns when not given ``limit``: whole runs, the
#: most recent first, as many as fit.
DEFAULT_LIMIT = 10_000

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
    deadline = time.monotonic() + DEADLINE_S  # bounds waiting for another writer's lock
    try:
        with closing(_connect(target, deadline)) as conn:
            _write(conn, target, data, deadline)
    except sqlite3.Error as exc:
        if is_locked(exc):
            raise gave_up("history write to", target, "file") from exc
        raise StoreError(f"history write to {target} failed: {describe(exc)}") from exc


def _connect(path: Path, deadline: float) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=DEADLINE_S, isolation_level=None)
    try:
        # Readers and one writer never block each other. Switching a new file
        # to WAL while another process does the same is refused at once
        # (SQLite does not wait there), so it waits like a write does.
        _when_free(conn, "PRAGMA journal_mode=WAL", deadline)
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _write(
    conn: sqlite3.Connection, path: Path, data: list[tuple[object, ...]], deadline: float
) -> None:
    names = list(_columns())
    _when_free(conn, "BEGIN IMMEDIATE", deadline)  # take the write lock
    try:
        _migrate(conn, path)
        insert = f"INSERT INTO calls ({_quoted(names)}) VALUES ({', '.join('?' * len(names))})"
        conn.executemany(insert, data)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT may have ended it already
            conn.execute("ROLLBACK")
        raise


def _when_free(conn: sqlite3.Connection, statement: str, deadline: float) -> None:
    """Run ``statement``, waiting for another connection's lock until ``deadline``.

    SQLite's busy handler does the waiting; the loop covers the cases where
    SQLite reports busy without waiting: switching a file to WAL while another
    connection writes it (two kernels making a new history at once), or while
    another process recovers the WAL.
    """
    while True:
        left = deadline - time.monotonic()
        conn.execute(f"PRAGMA busy_timeout = {max(int(left * 1000), 0)}")
        try:
            conn.execute(statement)
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
    # history() picks whole runs and reads one run by run_id.
    conn.execute("CREATE INDEX IF NOT EXISTS calls_run_id ON calls (run_id)")
    if version < SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _present(conn: sqlite3.Connection) -> set[str]:
    return {str(info[1]) for info in conn.execute("PRAGMA table_info(calls)")}


# --- reading ---------------------------------------------------------------------------


def history(
    limit: int | None = DEFAULT_LIMIT,
    *,
    run_id: str | None = None,
    since: datetime | date | str | None = None,
    model: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """The recorded calls as a DataFrame (result columns plus run parameters), oldest first.

    By default the most recent runs (a run is as recent as its last call)
    whose calls fit in :data:`DEFAULT_LIMIT` (10,000) calls: whole runs only,
    except that a newest run larger than ``limit`` alone gives its most recent
    ``limit`` calls. ``limit=N`` does the same with N, ``limit=None`` returns
    every call that matches. When the default limit left calls that match
    out, a warning says how many. The filters combine::

        orbit_nb.history()                             # the latest runs, up to 10,000 calls
        orbit_nb.history(limit=None)                   # everything
        orbit_nb.history(run_id=df["run_id"].iloc[0])  # one run
        orbit_nb.history(since="2025-06-01")           # started at or after local midnight
        orbit_nb.history(model=["openai:gpt-4o-mini", "gemini-2.5-flash"])

    ``since`` is a datetime (naive means local time), a date (local midnight)
    or an ISO string (``datetime.fromisoformat``; naive means local); a call
    with no start time (never sent) does not match it. ``model`` is one or
    several full specs (``"openai:gpt-4o-mini"``, matched against
    ``model_spec``) or model names (``"gpt-4o-mini"``, against ``model``; a
    name with a colon, such as a fine-tuned model's id, is tried as both).
    A bad argument raises :class:`~orbit_nb.errors.ParameterError` before
    anything is read.

    A file of an older layout reads with NA in the columns it lacks; a value
    stored as text because SQLite could not hold it reads as NA in a number
    column.
    """
    limit = _limit(limit)
    if run_id is not None and not isinstance(run_id, str):
        raise ParameterError(f"run_id={run_id!r} must be a str or None")
    where = _Where(run_id, _since(since), _models(model))
    path = history_path()
    try:
        data, left_out = _read(path, limit, where)
    except sqlite3.Error as exc:
        if is_locked(exc):
            raise gave_up("history read from", path, "file") from exc
        raise StoreError(f"history read from {path} failed: {describe(exc)}") from exc
    if left_out and limit == DEFAULT_LIMIT:  # a limit the caller chose needs no warning
        warnings.warn(left_out, UserWarning, stacklevel=2)
    return _frame(data)


def _limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise ParameterError(f"limit={limit!r} must be a whole number >= 1 or None")
    return int(limit)


def _since(since: object) -> str | None:
    """``since`` as the stored ``started_at`` text of that moment: ISO in UTC,
    so that comparing the texts compares the times."""
    if since is None:
        return None
    if isinstance(since, str):
        try:
            moment = datetime.fromisoformat(since.strip())
        except ValueError:
            raise ParameterError(
                f"since={since!r} is not an ISO date or time, e.g. '2025-06-01' or "
                "'2025-06-01T09:30'"
            ) from None
    elif isinstance(since, datetime):
        moment = since
    elif isinstance(since, date):
        moment = datetime(since.year, since.month, since.day)  # local midnight
    else:
        raise ParameterError(
            f"since={since!r} must be a datetime, a date, an ISO date or time string, or None"
        )
    try:
        utc = moment.astimezone(UTC)  # a naive moment is local time
        # A plain datetime (not e.g. a pandas Timestamp) prints as the stored texts
        # do; those have microseconds, so a finer moment rounds up to the next one.
        plain = datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)
        if getattr(utc, "nanosecond", 0):
            plain += timedelta(microseconds=1)
    except (ValueError, OverflowError, OSError) as exc:
        raise ParameterError(f"since={since!r} cannot be converted to UTC: {exc}") from None
    return plain.isoformat()


def _models(model: object) -> list[str] | None:
    if model is None:
        return None
    values = [model] if isinstance(model, str) else model
    if (
        not isinstance(values, Sequence)
        or not values
        or not all(isinstance(v, str) and v.strip() for v in values)
    ):
        raise ParameterError(
            f"model={model!r} must be a spec ('openai:gpt-4o-mini'), a model name "
            "('gpt-4o-mini'), a non-empty list of them, or None"
        )
    return list(dict.fromkeys(v.strip() for v in values))


class _Where:
    """The filters of one :func:`history` call as an SQL condition and its parameters."""

    def __init__(self, run_id: str | None, since: str | None, models: list[str] | None) -> None:
        self.run_id, self.since, self.models = run_id, since, models

    @property
    def narrowed(self) -> bool:
        return (self.run_id, self.since, self.models) != (None, None, None)

    def sql(self, present: set[str]) -> tuple[str, list[object]]:
        def column(name: str) -> str:  # a column an older file lacks holds no value
            return f'"{name}"' if name in present else "NULL"

        clauses: list[str] = ["1"]
        params: list[object] = []
        if self.run_id is not None:
            clauses.append(f"{column('run_id')} = ?")
            params.append(self.run_id)
        if self.since is not None:
            clauses.append(f"{column('started_at')} >= ?")
            params.append(self.since)
        if self.models is not None:
            # A spec has a ':'; so may a model id (e.g. a fine-tuned one): match both.
            specs = [m for m in self.models if ":" in m]
            marks = ", ".join("?" * len(self.models))
            match = f"{column('model')} IN ({marks})"
            if specs:
                match += f" OR {column('model_spec')} IN ({', '.join('?' * len(specs))})"
            clauses.append(f"({match})")
            params += [*self.models, *specs]
        return " AND ".join(clauses), params


def _read(
    path: Path, limit: int | None, where: _Where
) -> tuple[dict[str, list[object]], str | None]:
    """Each known column's values, oldest row first ([] for every column of no
    file), and the warning to give when calls that match were left out."""
    columns = list(_columns())
    if not path.exists():
        return {name: [] for name in columns}, None
    with closing(read_connection(path)) as conn:
        in_file = _present(conn)
        present = [name for name in columns if name in in_file]
        if not present:  # an empty file, or no table yet
            return {name: [] for name in columns}, None
        conn.execute("BEGIN")  # one snapshot for the counts and the rows
        cond, params = where.sql(in_file)
        query = f"SELECT {_quoted(present)} FROM calls WHERE {cond} ORDER BY rowid"
        total, part = 0, None
        if limit is not None:
            (total,) = conn.execute(f"SELECT COUNT(*) FROM calls WHERE {cond}", params).fetchone()
            if total > limit:
                query, params, part = _latest(conn, present, cond, params, limit)
        found = _columnwise(conn.execute(query, params), len(present))
    data = dict(zip(present, found, strict=True))
    rows = len(found[0])
    left_out = None
    if rows < total:
        if part:
            which = f"part of run {part[0]!r}, which has {part[1]:,}"
        else:
            runs = len(set(data.get("run_id", [])))
            which = f"{runs:,} run{'' if runs == 1 else 's'}"
        left_out = (
            f"history(): the {rows:,} most recent calls ({which}) of {total:,} recorded"
            + (" that match" if where.narrowed else "")
            + "; pass limit=None for all, or narrow with run_id=, since= or model="
        )
    return {name: data.get(name, [None] * rows) for name in columns}, left_out


def _latest(
    conn: sqlite3.Connection, present: list[str], cond: str, params: list[object], limit: int
) -> tuple[str, list[object], tuple[str, int] | None]:
    """The query for the most recent whole runs that fit in ``limit`` calls (a
    run is as recent as its last recorded call), or, when the newest run alone
    has more, for its last ``limit`` calls; then that run and its calls."""
    cols = _quoted(present)
    newest_query = f"SELECT run_id FROM calls WHERE {cond} ORDER BY rowid DESC LIMIT 1"
    (newest,) = conn.execute(newest_query, params).fetchone()
    count = f"SELECT COUNT(*) FROM calls WHERE {cond} AND run_id IS ?"
    (in_newest,) = conn.execute(count, [*params, newest]).fetchone()
    if in_newest > limit:
        query = (
            f"SELECT {cols} FROM (SELECT rowid AS _rowid, {cols} FROM calls "
            f"WHERE {cond} AND run_id IS ? ORDER BY rowid DESC LIMIT ?) ORDER BY _rowid"
        )
        return query, [*params, newest, limit], (str(newest), in_newest)
    runs = (
        f"SELECT run_id, MAX(rowid) AS last, COUNT(*) AS n FROM calls WHERE {cond} GROUP BY run_id"
    )
    upto = "SELECT run_id, SUM(n) OVER (ORDER BY last DESC) AS upto FROM runs"
    query = (
        f"WITH runs AS ({runs}), kept AS (SELECT run_id FROM ({upto}) WHERE upto <= ?) "
        f"SELECT {cols} FROM calls WHERE {cond} AND run_id IN (SELECT run_id FROM kept) "
        "ORDER BY rowid"
    )
    return query, [*params, limit, *params], None


def _columnwise(cursor: sqlite3.Cursor, width: int) -> list[list[object]]:
    """The cursor's rows as one list per column, read in chunks (never every
    row's tuple at once)."""
    columns: list[list[object]] = [[] for _ in range(width)]
    while chunk := cursor.fetchmany(4096):
        for values, column in zip(zip(*chunk, strict=True), columns, strict=True):
            column.extend(values)
    return columns


def _frame(data: dict[str, list[object]]) -> pd.DataFrame:
    import pandas as pd

    from .table import as_table

    # Each column's list is let go once its Series is made.
    frame = {name: _series(data.pop(name), dtype) for name, dtype in _columns().items()}
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
