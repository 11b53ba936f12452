"""The cache and history stores on a bad day: old and newer history files,
values SQLite cannot hold, files locked by another process, a read-only cache,
and failure reasons that are never empty and never carry a password.

Every test uses real files and real second processes (a lock holder, a
process without the right to write); nothing of orbit_nb is mocked.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import diskcache
import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.cache import data_dir, describe, open_store, request_key
from orbit_nb.frame import COLUMNS
from orbit_nb.history_store import EXTRA_COLUMNS, history, history_path, record
from orbit_nb.specs import resolve
from orbit_nb.types import ModelSpec, Request, Row, Usage

MODEL = "openai:gpt-4o-mini"
#: The stores' own deadline for a locked file, as the README documents it.
DEADLINE_S = 2.0


def a_row(
    prompt_id: str = "p", prompt: str = "a prompt", max_tokens: int | None = None, **fields: object
) -> Row:
    """A finished ok row, as the engine hands it to the history."""
    model = ModelSpec("openai", "gpt-4o-mini")
    request = Request(prompt_id, prompt, model, temperature=0.2, max_tokens=max_tokens)
    row = Row("run-1", request, status="ok", content="an answer", usage=Usage(3, 5))
    row.latency_s, row.attempts, row.started_at = 0.1, 1, datetime.now(UTC)
    for name, value in fields.items():
        setattr(row, name, value)
    return row


def sql(path: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(query).fetchall()


# --- A. history schema: named columns, a version, migrations ---------------------------


def old_history_file(path: Path, missing: str) -> None:
    """A history file of the previous layout (no schema version), without column
    ``missing``, holding two rows."""
    names = [n for n in {**COLUMNS, **EXTRA_COLUMNS} if n != missing]
    quoted = ", ".join(f'"{n}"' for n in names)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"CREATE TABLE calls (id INTEGER PRIMARY KEY, {quoted})")
        for i in range(2):
            conn.execute(
                'INSERT INTO calls (run_id, prompt_id, prompt, status, content, "cached", '
                "started_at) VALUES (?, ?, ?, 'ok', ?, 0, ?)",
                (
                    "old-run",
                    f"old-{i}",
                    "old prompt",
                    f"old answer {i}",
                    "2025-01-02T03:04:05+00:00",
                ),
            )
        conn.commit()


def test_a_file_of_the_previous_layout_is_migrated_in_place() -> None:
    path = history_path()
    old_history_file(path, missing="reasoning_tokens")
    record([a_row(usage=Usage(3, 5, reasoning_tokens=2))])
    log = history()
    assert list(log["prompt_id"]) == ["old-0", "old-1", "p"]
    assert list(log["content"][:2]) == ["old answer 0", "old answer 1"]
    assert log["reasoning_tokens"].iloc[2] == 2 and log["reasoning_tokens"][:2].isna().all()
    assert [v for (v,) in sql(path, "PRAGMA user_version")] >= [1]
    assert "reasoning_tokens" in [c[1] for c in sql(path, "PRAGMA table_info(calls)")]


def test_a_run_on_a_file_of_the_previous_layout_is_recorded(llmock: LLMock) -> None:
    old_history_file(history_path(), missing="cache_write_tokens")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "history not recorded"
        df = orbit_nb.compare("a prompt", [MODEL])
    log = history()
    assert len(log) == 3 and log["run_id"].iloc[2] == df["run_id"].iloc[0]


def test_a_file_from_a_newer_version_is_read_but_not_written(llmock: LLMock) -> None:
    record([a_row()])
    path = history_path()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("ALTER TABLE calls ADD COLUMN future_column")
        conn.execute("PRAGMA user_version = 999")
        conn.commit()
    with pytest.warns(UserWarning) as warned:
        df = orbit_nb.compare("a prompt", [MODEL])
    assert df["status"].iloc[0] == "ok"
    (message,) = [str(w.message) for w in warned]
    assert message.startswith("history not recorded (")
    assert str(path) in message and "newer" in message and "999" in message
    assert len(history()) == 1  # still read; not written
    assert sql(path, "SELECT COUNT(*) FROM calls") == [(1,)]


# --- B. values SQLite cannot hold ------------------------------------------------------


def test_values_sqlite_cannot_hold_are_stored_as_text() -> None:
    rows = [
        a_row("plain"),
        a_row("huge", max_tokens=2**70),
        a_row("id-\ud800", "prompt \ud800 here"),
        a_row("content", content="answer \udfff"),
        a_row("message", status="error", content=None, error_message="bad \ud83d"),
    ]
    record(rows)
    log = history()
    assert list(log["prompt_id"]) == ["plain", "huge", "id-\\ud800", "content", "message"]
    assert log["prompt"].iloc[2] == "prompt \\ud800 here"
    assert log["content"].iloc[3] == "answer \\udfff"
    assert log["error_message"].iloc[4] == "bad \\ud83d"
    assert log["max_tokens"].isna().iloc[1]  # too big for Int64: NA in the frame ...
    stored = sql(history_path(), "SELECT max_tokens FROM calls WHERE prompt_id = 'huge'")
    assert stored == [(str(2**70),)]  # ... and kept as text in the file


def test_text_too_long_for_the_file_is_truncated_not_lost() -> None:
    from orbit_nb.history_store import MAX_TEXT_CHARS

    record([a_row("long", "x" * (MAX_TEXT_CHARS + 100)), a_row("short")])
    log = history()
    assert list(log["prompt_id"]) == ["long", "short"]
    assert len(log["prompt"].iloc[0]) < MAX_TEXT_CHARS + 100
    assert log["prompt"].iloc[0].endswith("[truncated]")


def test_a_run_with_a_lone_surrogate_and_a_huge_max_tokens_is_recorded(llmock: LLMock) -> None:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        df = orbit_nb.compare({"id-\ud800": "prompt \ud800"}, [MODEL], max_tokens=2**70)
    assert len(df) == 1
    assert not [w for w in warned if "history" in str(w.message)]
    assert list(history()["prompt_id"]) == ["id-\\ud800"]


def test_the_cache_key_of_a_lone_surrogate_is_stable() -> None:
    spec = ModelSpec("openai", "gpt-4o-mini")
    target = resolve([spec], {"OPENAI_API_KEY": "sk-test"})["openai"]
    request = Request("p", "prompt \ud800", ModelSpec("openai", "gpt-4o-mini"))
    assert request_key(request, target) == request_key(request, target)
    other = Request("p", "prompt \ud801", ModelSpec("openai", "gpt-4o-mini"))
    assert request_key(request, target) != request_key(other, target)


# --- C. a store locked by another process ----------------------------------------------

HOLD = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute(sys.argv[2])
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    conn.execute("ROLLBACK")
    """
)


@contextmanager
def locked(path: Path, begin: str) -> Iterator[None]:
    """``path`` locked by another process (``begin`` is its open transaction)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), begin],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    try:
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def timed_run(prompt: str) -> tuple[float, list[str], str]:
    """Seconds a one-call compare() took, its warnings, and its row's status."""
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        df = orbit_nb.compare(prompt, [MODEL], timeout=5)
    return time.monotonic() - start, [str(w.message) for w in warned], str(df["status"].iloc[0])


def test_a_locked_cache_gives_up_within_its_deadline_and_says_why(llmock: LLMock) -> None:
    orbit_nb.compare("first", [MODEL])  # creates the cache
    directory = data_dir() / "cache"
    with locked(directory / "cache.db", "BEGIN IMMEDIATE"):
        elapsed, messages, status = timed_run("second")
    assert status == "ok"
    assert elapsed < 3 * DEADLINE_S, elapsed
    assert messages == [
        f"cache write failed (cache write to {directory} gave up after 2 s: "
        "the cache is locked by another process)"
    ]
    assert list(history()["prompt"]) == ["first", "second"]  # the row is not lost


def test_a_cache_locked_when_first_opened_is_still_read(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    orbit_nb.compare("first", [MODEL])
    directory = data_dir() / "cache"
    # Another location, with the same entries, that this process has not opened yet.
    copy = data_dir() / "copy"
    monkeypatch.setenv("ORBIT_CACHE_DIR", str(copy))
    (copy / "cache").mkdir(parents=True)
    source, copied = (
        sqlite3.connect(directory / "cache.db"),
        sqlite3.connect(copy / "cache" / "cache.db"),
    )
    with closing(source), closing(copied):
        source.backup(copied)
    llmock.reset()
    with locked(copy / "cache" / "cache.db", "BEGIN IMMEDIATE"):
        start = time.monotonic()
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            df = orbit_nb.compare("first", [MODEL], timeout=5)
        elapsed = time.monotonic() - start
    assert df["cached"].iloc[0] and not llmock.requests
    assert elapsed < 3 * DEADLINE_S, elapsed


def test_a_locked_history_gives_up_within_its_deadline_and_says_why(llmock: LLMock) -> None:
    orbit_nb.compare("first", [MODEL])  # creates the history
    path = history_path()
    with locked(path, "BEGIN EXCLUSIVE"):
        elapsed, messages, status = timed_run("second")
    assert status == "ok"
    assert elapsed < 3 * DEADLINE_S, elapsed
    assert messages == [
        f"history not recorded (history write to {path} gave up after 2 s: "
        "the file is locked by another process)"
    ]


# --- D. a read-only cache --------------------------------------------------------------

# Root writes anywhere: a child run as root drops the capabilities that let it
# (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER), so file modes apply to it.
_PR_CAPBSET_DROP = 24
_WRITE_ANYWHERE_CAPS = (1, 2, 3)


def _drop_write_anywhere() -> None:
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _WRITE_ANYWHERE_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


READER = textwrap.dedent(
    """
    import json, warnings
    import orbit_nb
    from orbit_nb.cache import open_store

    def run(prompt):
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            df = orbit_nb.compare(prompt, ["openai:gpt-4o-mini"])
        return {"cached": [bool(c) for c in df["cached"]], "status": list(df["status"]),
                "warnings": [str(w.message) for w in warned]}

    print(json.dumps([run("kept"), run("new one"), run("another new one")]))
    """
)


def make_read_only(directory: Path) -> None:
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)


def run_without_write_anywhere(code: str) -> str:
    """Run ``code`` in a child that lost root's right to write anywhere; its stdout."""
    child = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_drop_write_anywhere,
    )
    assert child.returncode == 0, child.stderr
    return child.stdout


def test_a_read_only_cache_is_read_and_writes_are_skipped(llmock: LLMock) -> None:
    import json

    orbit_nb.compare("kept", [MODEL])
    directory = data_dir() / "cache"
    make_read_only(directory)
    llmock.reset()
    kept, new, another = json.loads(run_without_write_anywhere(READER))
    assert kept == {"cached": [True], "status": ["ok"], "warnings": []}
    assert new["status"] == ["ok"] and new["cached"] == [False]
    assert new["warnings"] == [
        f"cache write failed (the cache at {directory} is read-only: "
        "answers are read from it, new ones are not saved)"
    ]
    assert another["status"] == ["ok"]
    assert (
        sum(
            not r.path.lower().endswith(("count_tokens", ":counttokens", "/input_tokens"))
            for r in llmock.requests
        )
        == 2
    )
    assert sql(directory / "cache.db", "SELECT COUNT(*) FROM Cache") == [(1,)]


def test_a_pickled_entry_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(marker),))

    store = open_store()
    store.put_many({"good": b'{"x": 1}'}, None)
    planted = diskcache.Cache(str(data_dir() / "cache"))
    planted.set("evil", pickle.loads(pickle.dumps({"a": 1})))
    planted.set("evil2", Payload())
    planted.close()
    found = store.get_many(["good", "evil", "evil2"])
    assert found == {"good": b'{"x": 1}'} and not marker.exists()


# --- E. failure reasons ----------------------------------------------------------------


def test_a_reason_is_never_empty() -> None:
    for exc in (diskcache.Timeout(), Exception(), OSError(), sqlite3.OperationalError("")):
        reason = describe(exc)
        assert reason.split(":", 1)[-1].strip(), reason


def test_a_reason_never_carries_a_url_password(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "redis://orbit:s3cret-pass@127.0.0.1:9/0"
    assert "s3cret-pass" not in describe(ValueError(f"cannot reach {url}"))
    monkeypatch.setenv("ORBIT_CACHE_URL", url)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        orbit_nb.compare("a prompt", [MODEL])
    texts = [str(w.message) for w in warned]
    assert texts and all("s3cret-pass" not in t for t in texts)
    assert any(t.startswith("cache unavailable (") for t in texts)


MIGRATING_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from orbit_nb.history_store import record
    from orbit_nb.types import ModelSpec, Request, Row, Usage

    tag = sys.argv[1]
    for i in range(50):
        req = Request(f"{tag}-{i}", "a prompt", ModelSpec("openai", "gpt-4o-mini"))
        record([Row(f"run-{tag}", req, status="ok", content="an answer", usage=Usage(3, 5),
                    attempts=1, started_at=datetime.now(UTC))])
    print("done")
    """
)


def test_two_processes_migrate_and_write_an_old_file_at_once(tmp_path: Path) -> None:
    path = history_path()
    old_history_file(path, missing="ttft_s")
    script = tmp_path / "writer.py"
    script.write_text(MIGRATING_WRITER)
    writers = [
        subprocess.Popen([sys.executable, str(script), tag], stdout=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    assert [w.communicate(timeout=120)[0].strip() for w in writers] == ["done", "done"]
    log = history()
    assert log.groupby("run_id").size().to_dict() == {"old-run": 2, "run-a": 50, "run-b": 50}
    columns = [c[1] for c in sql(path, "PRAGMA table_info(calls)")]
    assert columns.count("ttft_s") == 1


HISTORY_READER = textwrap.dedent(
    """
    import json
    from orbit_nb.history_store import history
    print(json.dumps(list(history()["prompt_id"])))
    """
)


def test_a_history_in_a_read_only_directory_is_still_read() -> None:
    record([a_row("one"), a_row("two")])
    make_read_only(data_dir())
    assert run_without_write_anywhere(HISTORY_READER).strip() == '["one", "two"]'
