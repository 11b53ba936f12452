"""Run history in SQLite: every call of every run, safe with several writers."""

from __future__ import annotations

import inspect
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb import history_store as history_module
from orbit_nb.cache import data_dir
from orbit_nb.errors import ParameterError
from orbit_nb.frame import COLUMNS
from orbit_nb.history_store import DEFAULT_LIMIT, history, history_path, record
from orbit_nb.types import ModelSpec, Request, Row, Usage

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]


def test_history_holds_every_call_of_every_run(llmock: LLMock) -> None:
    llmock.fail(400, times=1, provider="anthropic")
    first = orbit_nb.compare(["a", "b"], MODELS, system="terse", temperature=0.2)
    second = orbit_nb.compare(["a", "b"], MODELS, system="terse", temperature=0.2)
    log = history()
    assert len(log) == 12
    assert list(log.columns)[: len(COLUMNS)] == list(COLUMNS)
    assert set(log["run_id"]) == {first["run_id"].iloc[0], second["run_id"].iloc[0]}
    assert (log["status"] == "error").sum() == 1
    assert log["cached"].sum() == second["cached"].sum() == 5  # the error was not cached
    one = history(run_id=first["run_id"].iloc[0])
    assert len(one) == 6
    assert set(one["system"]) == {"terse"} and set(one["temperature"]) == {0.2}
    # Rows are recorded as calls finish, so in the order they finished.
    by_call = ["prompt_id", "model_spec", "repeat"]
    recorded = one.sort_values(by_call)["content"].tolist()
    assert recorded == first.sort_values(by_call)["content"].tolist()
    assert str(log["started_at"].dt.tz) == "UTC"


def test_history_limit_keeps_the_most_recent(llmock: LLMock) -> None:
    orbit_nb.compare("old", MODELS[:1])
    orbit_nb.compare("new", MODELS[:1])
    assert list(quietly(limit=1)) == ["p0"]  # the limit asked for: no warning
    assert list(history(limit=1)["prompt"]) == ["new"]
    assert list(history()["prompt"]) == ["old", "new"]


def test_empty_history_has_the_schema() -> None:
    log = history()
    assert len(log) == 0 and list(log.columns)[: len(COLUMNS)] == list(COLUMNS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit=0 "),
        ({"limit": -3}, "limit=-3 "),
        ({"limit": "5"}, "limit='5' "),
        ({"limit": 2.0}, "limit=2.0 "),
        ({"limit": True}, "limit=True "),
        ({"run_id": 5}, "run_id=5 "),
        ({"run_id": ["run-a"]}, r"run_id=\['run-a'\] "),
        ({"since": 5}, "since=5 "),
        ({"since": 1.7e9}, "since=1700000000.0 "),
        ({"since": "yesterday"}, "since='yesterday' "),
        ({"since": "2026-13-01"}, "since='2026-13-01' "),
        ({"since": ""}, "since='' "),
        ({"since": datetime.min}, r"since=datetime.datetime\(1, 1, 1, 0, 0\) cannot"),
        ({"model": ""}, "model='' "),
        ({"model": "  "}, "model='  ' "),
        ({"model": []}, r"model=\[\] "),
        ({"model": ["gpt-4o", ""]}, r"model=\['gpt-4o', ''\] "),
        ({"model": ["gpt-4o", 4]}, r"model=\['gpt-4o', 4\] "),
        ({"model": 4}, "model=4 "),
        ({"model": b"gpt-4o"}, "model=b'gpt-4o' "),
        ({"model": {"gpt-4o"}}, r"model=\{'gpt-4o'\} "),
    ],
)
def test_bad_history_arguments_are_refused_before_any_read(
    kwargs: dict[str, object], message: str
) -> None:
    # A file that cannot be read: any read would raise a StoreError instead.
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database at all" * 200)
    with pytest.raises(ParameterError, match=message):
        history(**kwargs)  # type: ignore[arg-type]


def test_corrupted_history_warns_and_the_run_goes_on(llmock: LLMock) -> None:
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database at all" * 200)
    with pytest.warns(UserWarning, match="history not recorded"):
        df = orbit_nb.compare("a prompt", MODELS)
    assert (df["status"] == "ok").all()


def test_locked_history_warns_and_the_run_goes_on(llmock: LLMock) -> None:
    orbit_nb.compare("first", MODELS[:1])  # creates the file
    holder = sqlite3.connect(history_path(), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.warns(UserWarning, match="history not recorded.*locked"):
            df = orbit_nb.compare("second", MODELS[:1])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert df["status"].iloc[0] == "ok"


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from orbit_nb import cache
    from orbit_nb.history_store import record
    from orbit_nb.types import ModelSpec, Request, Row, Usage

    tag = sys.argv[1]
    store = cache.open_store()
    for i in range(200):
        req = Request(f"{tag}-{i}", f"prompt {tag} {i}", ModelSpec("openai", "gpt-4o-mini"))
        row = Row(f"run-{tag}", req, status="ok", content=f"answer {i}",
                  usage=Usage(3, 5), latency_s=0.1, attempts=1, started_at=datetime.now(UTC))
        record([row])
        store.put_many({f"{tag}-{i}": cache.Entry.of(row).dumps()}, None)
    print("done")
    """
)


def test_two_processes_write_the_same_cache_and_history_at_once(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert out.strip() == "done" and "locked" not in err
    log = history()
    assert len(log) == 400
    assert log.groupby("run_id").size().to_dict() == {"run-a": 200, "run-b": 200}
    from orbit_nb.cache import open_store

    assert open_store().entries() == 400
    assert data_dir().exists()


def test_a_new_file_being_made_by_another_process_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two kernels making a new history at once: the second one's switch to WAL
    is refused by SQLite without waiting while the first writes the file. It
    waits for the lock like a write does, and the rows are kept."""
    monkeypatch.setattr(history_module, "DEADLINE_S", 30.0)  # a wide margin for a busy machine
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    maker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    maker.execute("BEGIN IMMEDIATE")  # a new file, still in rollback mode, being written
    maker.execute("CREATE TABLE making (x)")
    done = threading.Timer(0.5, lambda: maker.execute("COMMIT"))
    done.start()
    try:
        record(calls("run-b", 3))
    finally:
        done.join()
        maker.close()
    assert quietly() == ids("run-b", 3)


# --- reading: the default limit, whole runs, filters ------------------------------------

MINI = ModelSpec("openai", "gpt-4o-mini")
FLASH = ModelSpec("gemini", "gemini-2.5-flash")
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def calls(run_id: str, n: int, model: ModelSpec = MINI, at: datetime = T0) -> list[Row]:
    """``n`` finished calls of run ``run_id``, started a second apart from ``at``."""
    rows = []
    for i in range(n):
        req = Request(f"{run_id}-{i}", f"prompt {i}", model)
        row = Row(run_id, req, status="ok", content=f"answer {i}", usage=Usage(3, 5))
        row.attempts, row.started_at = 1, at + timedelta(seconds=i)
        rows.append(row)
    return rows


def quietly(**kwargs: object) -> list[str]:
    """The prompt ids history(**kwargs) returns, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return list(history(**kwargs)["prompt_id"])  # type: ignore[arg-type]


def warned(match: str, **kwargs: object) -> list[str]:
    """The prompt ids history(**kwargs) returns with exactly one warning matching ``match``.

    Only the default limit warns (a limit the caller chose needs no warning): a
    small ``limit=`` here stands for the default one.
    """
    with pytest.MonkeyPatch.context() as patch, pytest.warns(UserWarning) as caught:
        if "limit" in kwargs:
            patch.setattr(history_module, "DEFAULT_LIMIT", kwargs["limit"])
        found = list(history(**kwargs)["prompt_id"])  # type: ignore[arg-type]
    (message,) = [str(w.message) for w in caught]  # once
    assert match in message, message
    assert message.endswith("; pass limit=None for all, or narrow with run_id=, since= or model=")
    return found


def ids(run_id: str, n: int, start: int = 0) -> list[str]:
    return [f"{run_id}-{i}" for i in range(start, n)]


def test_the_default_limit_keeps_the_most_recent_whole_runs() -> None:
    assert inspect.signature(history).parameters["limit"].default == DEFAULT_LIMIT == 10_000
    for run_id, n in (("run-a", 6_000), ("run-b", 3_000), ("run-c", 4_000)):
        record(calls(run_id, n))
    expected = (
        "history(): the 7,000 most recent calls (2 runs) of 13,000 recorded; pass "
        "limit=None for all, or narrow with run_id=, since= or model="
    )
    with pytest.warns(UserWarning) as caught:
        log = history()
    assert [str(w.message) for w in caught] == [expected]
    assert log.groupby("run_id", sort=False).size().to_dict() == {"run-b": 3_000, "run-c": 4_000}
    assert len(quietly(limit=None)) == 13_000


def test_whole_runs_fit_in_the_limit_oldest_call_first() -> None:
    for run_id, n in (("a", 3), ("b", 2), ("c", 4)):
        record(calls(run_id, n))
    assert warned("the 6 most recent calls (2 runs) of 9 recorded", limit=6) == [
        *ids("b", 2),
        *ids("c", 4),
    ]
    # b would make 6 calls: never half a run, so c alone.
    assert warned("the 4 most recent calls (1 run) of 9", limit=5) == ids("c", 4)
    assert quietly(limit=9) == [*ids("a", 3), *ids("b", 2), *ids("c", 4)]
    assert quietly(limit=100) == quietly(limit=None) == quietly(limit=9)


def test_a_newest_run_over_the_limit_gives_its_most_recent_calls() -> None:
    record(calls("a", 3))
    record(calls("c", 4))
    message = "the 2 most recent calls (part of run 'c', which has 4) of 7 recorded"
    assert warned(message, limit=2) == ids("c", 4, start=2)


def test_runs_written_at_once_are_ranked_by_their_last_call() -> None:
    a, b = calls("a", 3), calls("b", 2)
    for row in (a[0], b[0], a[1], b[1], a[2]):  # two kernels writing at once
        record([row])
    # a's last call is the most recent: a is kept whole, its first call included.
    assert warned("the 3 most recent calls (1 run) of 5", limit=4) == ids("a", 3)
    assert quietly(limit=5) == ["a-0", "b-0", "a-1", "b-1", "a-2"]


def test_no_warning_when_nothing_was_left_out() -> None:
    record(calls("a", 3))
    assert quietly() == ids("a", 3)
    assert quietly(limit=3) == ids("a", 3)
    assert quietly(limit=None) == ids("a", 3)
    assert quietly(limit=1, run_id="nope") == []
    # The filters leave out calls, the limit does not: no warning.
    record(calls("b", 5))
    assert quietly(limit=3, run_id="a") == ids("a", 3)


def test_run_id_keeps_one_run_and_the_limit_still_applies() -> None:
    record(calls("a", 3) + calls("b", 5) + calls("c", 2))
    assert quietly(run_id="b") == ids("b", 5)
    message = "the 3 most recent calls (part of run 'b', which has 5) of 5 recorded that match"
    assert warned(message, run_id="b", limit=3) == ids("b", 5, start=2)
    assert quietly(run_id="x' OR 1=1 --") == []  # a value, never SQL
    assert quietly(run_id="") == []


def test_since_takes_aware_and_naive_datetimes_dates_and_iso_strings() -> None:
    record(calls("old", 2, at=datetime(2026, 1, 9, 23, 59, 58, tzinfo=UTC)))
    record(calls("new", 3, at=T0))  # 12:00:00, :01, :02 UTC on the 10th
    assert quietly(since=T0 + timedelta(seconds=1)) == ids("new", 3, start=1)
    assert quietly(since=T0 + timedelta(microseconds=1)) == ids("new", 3, start=1)
    assert quietly(since=T0) == ids("new", 3)  # at or after
    assert quietly(since="2026-01-10T12:00:01.5+00:00") == ids("new", 3, start=2)
    assert quietly(since="2026-01-10T13:00:01+01:00") == ids("new", 3, start=1)
    assert quietly(since="2026-01-10T12:00:02Z") == ids("new", 3, start=2)
    assert quietly(since=datetime(2026, 1, 9, 23, 59, 59, tzinfo=UTC)) == ["old-1", *ids("new", 3)]
    assert quietly(since=T0 + timedelta(days=1)) == []
    import pandas as pd

    assert quietly(since=pd.Timestamp("2026-01-10 12:00:01.000000001", tz="UTC")) == ["new-2"]


@pytest.fixture
def india() -> Iterator[None]:
    """Local time is UTC+05:30 (no daylight saving) for the test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        yield
    time.tzset()


def test_a_naive_since_is_local_time(india: None) -> None:
    # 06:00 UTC and 08:00 UTC are 11:30 and 13:30 in Kolkata.
    record(calls("early", 1, at=datetime(2026, 1, 10, 6, 0, tzinfo=UTC)))
    record(calls("late", 1, at=datetime(2026, 1, 10, 8, 0, tzinfo=UTC)))
    # Local 12:00 is 06:30 UTC. Compared as text with the stored UTC times, or
    # read as UTC, "2026-01-10T12:00" would be after both calls.
    assert quietly(since="2026-01-10T12:00") == ["late-0"]
    assert quietly(since=datetime(2026, 1, 10, 12, 0)) == ["late-0"]
    assert quietly(since=datetime(2026, 1, 10, 11, 0)) == ["early-0", "late-0"]
    # Local midnight of the 10th is 18:30 UTC on the 9th.
    record(calls("eve", 1, at=datetime(2026, 1, 9, 19, 0, tzinfo=UTC)))
    assert quietly(since=date(2026, 1, 10)) == ["early-0", "late-0", "eve-0"]
    assert quietly(since="2026-01-10") == ["early-0", "late-0", "eve-0"]
    assert quietly(since=date(2026, 1, 11)) == []


def test_model_takes_specs_names_and_lists_of_them() -> None:
    haiku = ModelSpec("anthropic", "claude-haiku-4-5")
    tuned = ModelSpec("openai", "ft:gpt-4o-mini:acme::abc123")
    for run_id, model in (("m", MINI), ("f", FLASH), ("h", haiku), ("t", tuned)):
        record(calls(run_id, 2, model=model))
    assert quietly(model="openai:gpt-4o-mini") == ids("m", 2)
    assert quietly(model="gpt-4o-mini") == ids("m", 2)
    assert quietly(model=["gemini-2.5-flash", "anthropic:claude-haiku-4-5"]) == [
        *ids("f", 2),
        *ids("h", 2),
    ]
    assert quietly(model=("gemini:gpt-4o-mini",)) == []  # a spec is matched whole
    assert quietly(model="openai") == []
    assert quietly(model="ft:gpt-4o-mini:acme::abc123") == ids("t", 2)
    assert quietly(model="openai:ft:gpt-4o-mini:acme::abc123") == ids("t", 2)


def test_filters_combine_and_the_limit_applies_to_what_matches() -> None:
    record(calls("a", 3, model=MINI))
    record(calls("b", 2, model=FLASH, at=T0 + timedelta(hours=1)))
    record(calls("c", 4, model=MINI, at=T0 + timedelta(hours=2)))
    assert quietly(model="gpt-4o-mini", since=T0 + timedelta(minutes=1)) == ids("c", 4)
    assert quietly(model="gpt-4o-mini", limit=7) == [*ids("a", 3), *ids("c", 4)]
    message = "the 4 most recent calls (1 run) of 7 recorded that match"
    assert warned(message, model="gpt-4o-mini", limit=6) == ids("c", 4)
    message = "the 3 most recent calls (part of run 'c', which has 4) of 7 recorded that match"
    assert warned(message, model="gpt-4o-mini", limit=3) == ids("c", 4, start=1)
    assert quietly(model="gemini-2.5-flash", limit=2) == ids("b", 2)


def test_the_run_id_index_is_made_without_a_new_layout() -> None:
    record(calls("a", 1))
    path = history_path()
    with closing(sqlite3.connect(path)) as conn:
        indexes = conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        assert indexes.fetchall() == [("calls_run_id", "calls")]
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT * FROM calls WHERE run_id = ?", ["a"])
        assert "calls_run_id" in " ".join(str(step) for step in plan.fetchall())
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        conn.execute("DROP INDEX calls_run_id")  # as in a file written before the index
        conn.commit()
    record(calls("b", 1))
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall() == [
            ("calls_run_id",)
        ]
    assert quietly() == ["a-0", "b-0"]
