"""Run history: every call (ok, error, cancelled, cached) in a SQLite file.

The file is ``history.sqlite`` in ``ORBIT_CACHE_DIR`` (default: the per-user
cache dir). Several kernels may write at once: the database runs in WAL mode
and a writer waits, then retries, while another holds the lock. Writing
happens in a worker thread at the end of each run; a failure is reported as a
warning and never breaks the run. No secret is stored: rows hold no keys.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import data_dir
from .errors import ParameterError
from .types import Row

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXTRA_COLUMNS", "history", "history_path", "record"]

#: Run parameters stored next to the result columns.
EXTRA_COLUMNS = {"system": "string", "temperature": "float64", "max_tokens": "Int64"}

_BUSY_TIMEOUT_S = 2.0
_RETRIES = 3


def history_path() -> Path:
    return data_dir() / "history.sqlite"


def _columns() -> dict[str, str]:
    from .frame import COLUMNS

    return {**COLUMNS, **EXTRA_COLUMNS}


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    names = ", ".join(f'"{name}"' for name in _columns())
    conn.execute(f"CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, {names})")
    return conn


def _values(row: Row) -> tuple[object, ...]:
    from .frame import row_values

    req = row.request
    started = row.started_at.isoformat() if row.started_at else None
    values = list(row_values(row))
    values[-1] = started
    return (*values, req.system, req.temperature, req.max_tokens)


def record(rows: Sequence[Row], path: Path | None = None) -> None:
    """Append ``rows`` in one transaction, retrying while another writer holds the lock."""
    target = path or history_path()
    data = [_values(r) for r in rows]
    names = ", ".join(f'"{name}"' for name in _columns())
    marks = ", ".join("?" * len(_columns()))
    for attempt in range(_RETRIES):
        try:
            with closing(_connect(target)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(f"INSERT INTO calls ({names}) VALUES ({marks})", data)
                conn.execute("COMMIT")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == _RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)  # a worker thread, never the engine loop


def history(limit: int | None = None, run_id: str | None = None) -> pd.DataFrame:
    """Every recorded call as a DataFrame (result columns plus run parameters), oldest first.

    ``limit`` keeps the most recent N calls; ``run_id`` keeps one run's calls::

        orbit_nb.history(limit=20)
        orbit_nb.history(run_id=df["run_id"].iloc[0])
    """
    import pandas as pd

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ParameterError(f"limit={limit!r} must be a whole number >= 1 or None")
    if run_id is not None and not isinstance(run_id, str):
        raise ParameterError(f"run_id={run_id!r} must be a str or None")
    columns = _columns()
    names = ", ".join(f'"{name}"' for name in columns)
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    query = f"SELECT {names} FROM calls {where} ORDER BY id DESC"
    if limit:
        query += f" LIMIT {int(limit)}"
    path = history_path()
    rows: list[tuple[object, ...]] = []
    if path.exists():
        with closing(_connect(path)) as conn:
            rows = conn.execute(query, params).fetchall()[::-1]
    data = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    frame = {}
    for (name, dtype), values in zip(columns.items(), data, strict=True):
        if name == "started_at":
            frame[name] = pd.Series(
                [datetime.fromisoformat(v) if isinstance(v, str) else None for v in values],
                dtype=dtype,
            )
        elif dtype == "bool":
            frame[name] = pd.Series([bool(v) for v in values], dtype=dtype)
        else:
            frame[name] = pd.Series(values, dtype=dtype)
    from .table import as_table

    return as_table(pd.DataFrame(frame), _SHOWN)


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
