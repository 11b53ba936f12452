"""Run history in SQLite: every call of every run, safe with several writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.cache import data_dir
from orbit_nb.errors import ParameterError
from orbit_nb.frame import COLUMNS
from orbit_nb.history import history, history_path

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
    assert list(history(limit=1)["prompt"]) == ["new"]
    assert list(history()["prompt"]) == ["old", "new"]


def test_empty_history_has_the_schema() -> None:
    log = history()
    assert len(log) == 0 and list(log.columns)[: len(COLUMNS)] == list(COLUMNS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"limit": 0}, "limit=0"), ({"limit": "5"}, "limit='5'"), ({"run_id": 5}, "run_id=5")],
)
def test_bad_history_arguments(kwargs: dict[str, object], message: str) -> None:
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
    from orbit_nb.history import record
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
