"""The run model's seams: Options are the one list of run options (and every
option sent with a request is in its cache key), rows change only in rows.py,
and a run publishes what happens as events, in order, on the engine loop."""

from __future__ import annotations

import dataclasses
import inspect
import re
import threading
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb import events as ev
from orbit_nb.api import start
from orbit_nb.cache import request_key
from orbit_nb.errors import ParameterError
from orbit_nb.specs import Target
from orbit_nb.types import ModelSpec, Options, Request

PACKAGE = Path(orbit_nb.__file__).parent
MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]


def test_compare_and_acompare_take_exactly_the_options() -> None:
    names = {f.name for f in dataclasses.fields(Options)}
    for door in (orbit_nb.compare, orbit_nb.acompare):
        params = inspect.signature(door).parameters
        keywords = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
        assert keywords == names, door.__name__
        for name in names:  # the same defaults as Options
            assert params[name].default == getattr(Options(), name), (door.__name__, name)


def test_every_sent_option_is_a_request_field_and_in_the_cache_key() -> None:
    request_fields = {f.name for f in dataclasses.fields(Request)}
    sent = set(Options().sent())
    assert sent == request_fields - {"prompt_id", "prompt", "model", "repeat"}
    target = Target("openai", "openai", "https://api.openai.com/v1", "sk-unused")
    base = Request("p0", "q", ModelSpec("openai", "gpt-4o-mini"))
    changed = {
        "prompt": "another",
        "model": ModelSpec("openai", "gpt-4o"),
        "repeat": 1,
        "system": "be brief",
        "temperature": 0.5,
        "max_tokens": 7,
        "service_tier": "flex",
    }
    assert set(changed) == request_fields - {"prompt_id"}
    for name, value in changed.items():
        other = dataclasses.replace(base, **{name: value})
        assert request_key(other, target) != request_key(base, target), name
    # The prompt's id names it in the frame; the same words are the same request.
    assert request_key(dataclasses.replace(base, prompt_id="x"), target) == request_key(
        base, target
    )


def test_cache_keys_of_existing_entries_do_not_change() -> None:
    target = Target("openai", "openai", "https://api.openai.com/v1", "sk-unused")
    request = Request("p0", "Say hi", ModelSpec("openai", "gpt-4o-mini"), 0, "sys", 0.2, 50)
    # The key this request had before options became one value: stored answers stay found.
    assert request_key(request, target) == (
        "2f1ac8df69b99c08e2c23b75dc16e9fe2995e4aaaa927f76824fdc37dc2a7e03"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeat": 0}, "repeat=0 must be >= 1"),
        ({"temperature": "hot"}, "temperature='hot' is not a number"),
        ({"timeout": -1}, "timeout=-1 must be > 0 seconds"),
        ({"cache": "yes"}, "cache='yes' must be True or False"),
        ({"budget": float("nan")}, "budget=nan must be a finite number"),
    ],
)
def test_options_are_checked_when_made(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        Options(**kwargs)  # type: ignore[arg-type]


def test_rows_change_only_in_rows_module() -> None:
    assigns = re.compile(r"\brow\.\w+(\s*,\s*row\.\w+)*\s*=[^=]")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "rows.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if assigns.search(line) or re.search(r"(?<![\w.])Row\(", line)
    ]
    assert offenders == []


def test_a_run_publishes_its_events_in_order_on_the_engine_loop(llmock: LLMock) -> None:
    llmock.rate_limit(times=1, retry_after=0.2, provider="openai")
    seen: list[ev.Event] = []
    threads: set[str] = set()

    def listen(event: ev.Event) -> None:
        seen.append(event)
        threads.add(threading.current_thread().name)

    run = start(["a", "b"], MODELS, on_event=listen)
    df = run.wait()
    assert (df["status"] == "ok").all()
    assert threads == {"orbit-engine"}
    assert isinstance(seen[0], ev.RunStarted) and seen[0].total == 6
    assert seen[-1] == ev.RunFinished("done")
    finished = [e.index for e in seen if isinstance(e, ev.RowFinished)]
    assert sorted(finished) == list(range(6))
    for index in range(6):  # started, maybe retrying, then finished, once each
        kinds = [type(e).__name__ for e in seen if getattr(e, "index", None) == index]
        assert kinds[0] == "RowStarted" and kinds[-1] == "RowFinished"
        assert kinds.count("RowStarted") == 1 and kinds.count("RowFinished") == 1
    (retry,) = [e for e in seen if isinstance(e, ev.RowRetrying)]
    assert retry.row.request.model.provider == "openai"
    assert (retry.attempt, retry.failure.error_type) == (1, "rate_limit")
    assert retry.wait_s >= 0.2
    assert run.finished == 6 and run.state == "done"


def test_a_listener_that_raises_is_dropped_and_the_run_goes_on(
    llmock: LLMock, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    def broken(event: ev.Event) -> None:
        calls.append(event)
        raise RuntimeError("listener bug")

    df = start(["a", "b"], MODELS, on_event=broken).wait()
    assert (df["status"] == "ok").all() and len(calls) == 1
    assert "event listener failed" in caplog.text


def test_cache_hits_are_published_as_finished_rows(llmock: LLMock) -> None:
    orbit_nb.compare("cached words", MODELS)
    seen: list[ev.Event] = []
    run = start("cached words", MODELS, on_event=seen.append)
    assert run.wait()["cached"].all()
    assert [type(e).__name__ for e in seen] == [
        "RunStarted",
        "RowFinished",
        "RowFinished",
        "RowFinished",
        "RunFinished",
    ]


def test_jobs_keeps_finished_runs_up_to_a_row_bound(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orbit_nb import api

    monkeypatch.setattr(api, "KEEP_ROWS", 7)
    ids = [orbit_nb.compare(f"bounded {i}", MODELS)["run_id"].iloc[0] for i in range(3)]
    kept = orbit_nb.jobs()
    assert [run.run_id for run in kept] == ids[1:]  # 9 rows > 7: the oldest run goes
    assert sum(run.total for run in kept) <= 7
