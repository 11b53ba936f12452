"""orbit_nb.panel(): its controls and their presets, runs started from the Run button
against a real LLMock, Cancel, and the cards drawn from a run's events; in a real
kernel, what the panel shows and updates (its widget tree once, its last run as a
result view that a saved notebook keeps). (What it looks like and how it behaves
in JupyterLab and Notebook 7 is checked by test_browser_panel.py.)"""

from __future__ import annotations

import dataclasses
import html
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets
import nbformat
import pytest
from llmock.pytest_plugin import LLMock
from llmock.scenarios import Delay, Match, Reply
from llmock.testing import LLMockServer
from nbclient import NotebookClient
from nbconvert import HTMLExporter

import orbit_nb
from orbit_nb import events as ev
from orbit_nb.errors import ParameterError, SpecError
from orbit_nb.notebook.cards import LIVE_CHARS, Board, Card, card_html
from orbit_nb.notebook.widgets import Panel
from orbit_nb.providers.base import Failure
from orbit_nb.types import ModelSpec, Options, Request, Row, Usage

from kernel import Kernel, kernel_env, start_kernel

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
WAIT = 60.0  # seconds a run against LLMock may take on a busy machine (a second when idle)
STREAMS = "stream" in {f.name for f in dataclasses.fields(Options)}
WIDGET = "application/vnd.jupyter.widget-view+json"


def card(p: Panel, spec: str) -> str:
    """The HTML of ``spec``'s card as the panel last drew it."""
    cards = [w.value for w in p._cards.children if f">{spec}</div>" in w.value]
    assert len(cards) == 1, [w.value[:120] for w in p._cards.children]
    return str(cards[0])


def status(p: Panel, spec: str) -> str:
    found = re.search(r"role='status'>([^<]*)<", card(p, spec))
    assert found, card(p, spec)
    return found.group(1)


def message(p: Panel) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", p._message.value)).strip()


def until(check: Callable[[], bool], seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


# -- presets and bad arguments ---------------------------------------------------------------


def test_keywords_preset_the_controls() -> None:
    p = orbit_nb.panel(
        ["haiku", "openai:gpt-4o-mini", "openai:my-fine-tune"],
        prompt="Name a prime.",
        system="Be brief.",
        temperature=0.2,
        max_tokens=200,
        repeat=2,
        cache=False,
        budget=0.00001,
        stream=False,
    )
    c = p.controls
    # Aliases resolve; a model the price table does not list is added to the picker.
    assert c.models.value == (
        "anthropic:claude-haiku-4-5",
        "openai:gpt-4o-mini",
        "openai:my-fine-tune",
    )
    assert "gemini:gemini-2.5-flash" in c.models.options
    assert (c.prompt.value, c.system.value) == ("Name a prime.", "Be brief.")
    assert (c.temperature.value, c.max_tokens.value, c.budget.value) == ("0.2", "200", "0.00001")
    assert (c.repeat.value, c.cache.value, c.stream.value) == (2, False, False)
    prompt, specs, options = c.read()
    assert prompt == "Name a prime." and specs == list(c.models.value)
    assert options == Options(
        system="Be brief.", temperature=0.2, max_tokens=200, repeat=2, cache=False, budget=1e-05
    )


def test_defaults_leave_the_options_at_theirs() -> None:
    p = orbit_nb.panel(prompt="Hi", models="gpt-4o-mini")
    c = p.controls
    assert (c.temperature.value, c.max_tokens.value, c.budget.value, c.system.value) == ("",) * 4
    assert (c.repeat.value, c.cache.value) == (1, True)
    assert c.stream.value is True and c.stream.disabled == (not STREAMS)
    _, specs, options = c.read()
    assert specs == ["openai:gpt-4o-mini"]
    assert options == Options(**({"stream": True} if STREAMS else {}))
    assert orbit_nb.panel().controls.models.value == ()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"temprature": 0.2},
            ParameterError,
            "no control 'temprature' (did you mean 'temperature'?)",
        ),
        ({"model": "gpt-4o"}, ParameterError, "no control 'model' (did you mean 'models'?)"),
        ({"temperature": "hot"}, ParameterError, "temperature='hot' is not a number"),
        ({"repeat": 0}, ParameterError, "repeat=0 must be >= 1"),
        ({"max_tokens": 2.5}, ParameterError, "max_tokens=2.5 must be a whole number"),
        ({"budget": -1}, ParameterError, "budget=-1 must be > 0 dollars"),
        ({"prompt": 3}, ParameterError, "prompt=3 must be a str"),
        ({"stream": "yes"}, ParameterError, "stream='yes' must be True or False"),
        ({"models": "nope:x"}, SpecError, "unknown provider 'nope' in 'nope:x'"),
        ({"models": 5}, ParameterError, "models=5 must be a list"),
        (
            {"models": ["anthropic:claude-haiku-4-5"], "temperature": 1.5},
            ParameterError,
            "temperature=1.5 is outside 0..1, the range 'anthropic:claude-haiku-4-5' accepts",
        ),
    ],
)
def test_a_bad_keyword_or_value_raises_naming_it(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        orbit_nb.panel(**kwargs)
    assert message in str(raised.value)


# -- runs from the buttons --------------------------------------------------------------------


def test_bad_input_is_shown_in_the_panel_and_nothing_is_sent(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = orbit_nb.panel()
    c = p.controls
    runs = len(orbit_nb.jobs())
    c.run.click()
    assert "the prompt is empty" in message(p)
    c.prompt.value = "Hello?"
    c.run.click()
    assert "no model chosen" in message(p)
    c.other_models.value = "openai:gpt-4o-mini, nope:x"
    c.run.click()
    assert "unknown provider 'nope' in 'nope:x'" in message(p)
    c.other_models.value = "openai:gpt-4o-mini"
    c.temperature.value = "warm"
    c.run.click()
    assert "temperature 'warm' is not a number" in message(p)
    c.temperature.value = ""
    monkeypatch.delenv("OPENAI_API_KEY")
    c.run.click()
    assert "OPENAI_API_KEY is not set" in message(p)
    assert "role='alert'" in p._message.value
    assert p.last_run is None and len(orbit_nb.jobs()) == runs
    assert llmock.requests == []
    assert c.run.disabled is False and c.cancel.disabled is True


def test_run_button_fills_the_cards_the_frame_and_the_history(llmock: LLMock) -> None:
    llmock.add(
        Reply(
            text="## Slow start\n\n- doubles the window", times=None, match=Match(provider="openai")
        ),
        Delay(3.0, times=None),  # the click returns while LLMock holds every call
    )
    p = orbit_nb.panel(MODELS, prompt="Explain TCP slow start.", max_tokens=100)
    assert "no run yet" in p._repr_mimebundle_()["text/html"]
    p.controls.run.click()
    run = p.last_run
    assert run is not None and not run.done  # the handler returned before any answer
    assert p.controls.run.disabled and not p.controls.cancel.disabled
    assert {status(p, m) for m in MODELS} <= {"queued", "running", "streaming"}
    assert p.wait(WAIT)
    assert run.state == "done"
    for model in MODELS:
        assert status(p, model).startswith("done in "), card(p, model)
    assert "<h2>Slow start</h2>" in card(p, "openai:gpt-4o-mini")  # Markdown, rendered
    assert "mock" in card(p, "gemini:gemini-2.5-flash").lower()
    df = p.df
    assert df is not None and len(df) == 3 and set(df["status"]) == {"ok"}
    assert set(df["model_spec"]) == set(MODELS) and set(df["run_id"]) == {run.run_id}
    history = orbit_nb.history(run_id=run.run_id)
    assert sorted(history["model_spec"]) == sorted(MODELS)
    costs = p._costs.value
    assert "Usage and cost" in costs and all(m in costs for m in MODELS) and ">total<" in costs
    assert message(p).startswith("done: 3/3 calls")
    assert not p.controls.run.disabled and p.controls.cancel.disabled
    # Where widgets do not render, the panel's output is the last run's result view.
    bundle = p._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "orbit-nb-view" in bundle["text/html"] and "<h2>Slow start</h2>" in bundle["text/html"]
    assert "mock" in bundle["text/plain"].lower()


def test_cancel_stops_the_run_and_keeps_finished_rows(llmock: LLMock) -> None:
    llmock.add(Delay(60.0, times=None, match=Match(provider="openai")))
    slow, fast = "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"
    p = orbit_nb.panel([slow, fast], prompt="Take your time.", cache=False)
    p.controls.run.click()
    until(lambda: status(p, fast).startswith("done"))
    assert status(p, slow) in ("running", "streaming")
    p.controls.cancel.click()
    assert p.wait(10.0)  # a cancel lands within a second; the margin is for a busy machine
    run = p.last_run
    assert run is not None and run.state == "cancelled"
    assert status(p, slow) == "cancelled" and status(p, fast).startswith("done")
    df = p.df
    assert df is not None
    assert dict(zip(df["model_spec"], df["status"], strict=True)) == {
        slow: "cancelled",
        fast: "ok",
    }
    assert message(p).startswith("cancelled: 2/2 calls"), message(p)
    assert not p.controls.run.disabled and p.controls.cancel.disabled


def test_a_refused_run_says_why_and_keeps_the_last_frame(llmock: LLMock) -> None:
    p = orbit_nb.panel(["openai:gpt-4o"], prompt="Too dear.", budget=1e-9)
    p.controls.run.click()
    assert p.wait(WAIT)
    assert p.last_run is not None and p.last_run.state == "refused"
    assert "refused: estimated cost" in message(p) and "role='alert'" in p._message.value
    assert status(p, "openai:gpt-4o") == "not sent"
    assert p.df is None and llmock.requests == []


@pytest.mark.skipif(not STREAMS, reason="orbit_nb.types.Options has no stream option yet")
def test_streamed_text_grows_in_its_card_at_most_ten_draws_a_second(llmock: LLMock) -> None:
    words = " ".join(f"w{i}" for i in range(60))
    llmock.pace(50).add(Reply(text=words, times=None))
    p = orbit_nb.panel(["openai:gpt-4o-mini"], prompt="Count.", stream=True, cache=False)
    p.controls.run.click()
    widget_values: list[str] = []
    until(lambda: bool(p._cards.children))
    p._cards.children[0].observe(lambda change: widget_values.append(change["new"]), "value")
    started = time.monotonic()
    assert p.wait(WAIT)
    seconds = time.monotonic() - started
    live = [len(re.findall(r"\bw\d+", v)) for v in widget_values if "orbit-nb-pcard-live" in v]
    assert len(set(live)) >= 2 and live == sorted(live), live  # it grew, never shrank
    assert words in card(p, "openai:gpt-4o-mini")
    # One draw per tick at most: fewer draws than pieces, and about ten a second.
    assert len(widget_values) <= seconds / 0.1 + 2, (len(widget_values), seconds)
    assert len(widget_values) < 60
    assert status(p, "openai:gpt-4o-mini").startswith("done in ")
    assert "first text" in status(p, "openai:gpt-4o-mini")


# -- built once, updated in place --------------------------------------------------------------


def widget_ids(root: ipywidgets.Widget, cards: ipywidgets.Box) -> list[str]:
    """The model ids of ``root`` and every widget under it, depth first, leaving out the
    cards (the children of ``cards``, one set per run)."""
    ids = [root.model_id]
    if root is not cards:
        for child in getattr(root, "children", ()):
            ids += widget_ids(child, cards)
    return ids


def test_two_runs_change_what_the_panel_shows_not_its_widgets(llmock: LLMock) -> None:
    llmock.add(Reply(text="An answer.", times=None))
    p = orbit_nb.panel(MODELS[:2], prompt="First?", stream=False)
    c = p.controls
    c.system.value, c.temperature.value = "Be brief.", "0.3"  # what a user typed
    root, children, tree = p.widget, p.widget.children, widget_ids(p.widget, p._cards)
    assert len(tree) > 15 and c.prompt.model_id in tree and c.run.model_id in tree
    drawn: list[ipywidgets.Widget] = []
    for prompt in ("First?", "Second?"):
        c.prompt.value = prompt
        c.run.click()
        drawn += p._cards.children
        assert p.wait(WAIT)
        assert p.last_run is not None and p.last_run.state == "done"
        assert widget_ids(p.widget, p._cards) == tree
        assert p.widget is root and p.widget.children == children
    assert (c.prompt.value, c.system.value, c.temperature.value) == ("Second?", "Be brief.", "0.3")
    assert c.models.value == tuple(MODELS[:2])
    assert not c.run.disabled and c.cancel.disabled
    # The first run's cards were closed when the second began; the second's are shown.
    first, second = drawn[:2], drawn[2:]
    assert len(second) == 2 and p._cards.children == tuple(second)
    assert all(w.comm is None for w in first) and all(w.comm is not None for w in second)
    assert all(status(p, m).startswith("done") for m in MODELS[:2])
    assert "Usage and cost" in p._costs.value
    result = p._repr_mimebundle_()["text/html"]
    assert "Second?" in result and "First?" not in result


# -- in a kernel: what the panel shows, and what a saved notebook keeps ----------------------

TWO = ["openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
ANSWER = "Two is the only even prime."
SHOW_PANEL = f"import orbit_nb\np = orbit_nb.panel({TWO!r}, prompt='First?', stream=False)\np"
IDS = (
    "[w.model_id for w in (p.widget, p.controls.prompt, p.controls.models, p.controls.run,"
    " p.controls.cancel, p._cards, p._costs, p._message)]"
)


@pytest.fixture
def kernel(llmock_server: LLMockServer, tmp_path: Path) -> Iterator[Kernel]:
    with start_kernel(kernel_env(llmock_server, tmp_path / "cache")) as kernel:
        yield kernel


@pytest.mark.timeout(240)  # a fresh kernel imports the SDKs; a busy machine is slow
def test_in_a_kernel_the_panel_is_shown_once_and_runs_update_only_its_result(
    llmock: LLMock, kernel: Kernel
) -> None:
    llmock.add(Reply(text=ANSWER, times=None))
    shown = kernel.execute(SHOW_PANEL, timeout=WAIT)
    assert shown.status == "ok", shown.reply
    live, result = shown.outputs("display_data")
    assert live["data"][WIDGET]["model_id"] == kernel.evaluate("p.widget.model_id")
    assert "display_id" not in live.get("transient", {})  # nothing can update it
    assert "need a running kernel" in live["data"]["text/html"]
    display_id = result["transient"]["display_id"]
    assert WIDGET not in result["data"] and "no run yet" in result["data"]["text/html"]
    before = kernel.evaluate(IDS)
    messages = []
    for prompt in ("First?", "Second?"):
        run = f"p.controls.prompt.value = {prompt!r}\np.start()\nprint(p.wait({WAIT}))"
        cell = kernel.execute(run, timeout=WAIT + 30)
        assert cell.stdout.strip() == "True", cell.text
        assert not cell.outputs("display_data", "execute_result")  # nothing new shown
        messages += cell.messages
    assert kernel.evaluate("p.last_run.state") == "done"
    kinds = ("update_display_data", "display_data")
    updates = [m["content"] for m in messages + kernel.stray if m["msg_type"] in kinds]
    # One update per run, each of the result's output, none of the panel's.
    assert [u["transient"]["display_id"] for u in updates] == [display_id] * 2
    assert [WIDGET in u["data"] for u in updates] == [False, False]
    first, second = (u["data"]["text/html"] for u in updates)
    assert "orbit-nb-view" in first and "First?" in first and ANSWER in first
    assert "Second?" in second and "First?" not in second
    assert kernel.evaluate(IDS) == before  # the same widgets, after two runs


@pytest.mark.timeout(240)
def test_a_saved_notebook_keeps_the_last_run_as_the_result_view(
    llmock: LLMock, llmock_server: LLMockServer, tmp_path: Path
) -> None:
    llmock.add(Reply(text=ANSWER, times=None))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(SHOW_PANEL),
        nbformat.v4.new_code_cell(f"p.start()\nassert p.wait({WAIT}), 'the run did not end'"),
    ]
    client = NotebookClient(
        nb,
        timeout=int(WAIT) + 30,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=kernel_env(llmock_server, tmp_path / "cache"))
    path = tmp_path / "panel.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    live, result = saved.cells[0].outputs
    assert WIDGET in live.data and "need a running kernel" in live.data["text/html"]
    assert WIDGET not in result.data
    view = result.data["text/html"]
    assert "orbit-nb-view" in view and "Usage and cost" in view
    assert ANSWER in view and all(m in view for m in TWO)
    assert ANSWER in result.data["text/plain"]
    # An HTML export where the widgets' state was not saved (a front-end's default):
    # the note in place of the controls, and the last run as the result view.
    saved.metadata.pop("widgets", None)
    page, _ = HTMLExporter().from_notebook_node(saved)
    assert "need a running kernel" in page and ANSWER in page
    assert "orbit-nb-view" in page and "Usage and cost" in page
    assert "application/vnd.jupyter.widget-view+json" not in page


# -- the cards, from events -------------------------------------------------------------------

GPT = ModelSpec("openai", "gpt-4o-mini")


def row(repeat: int = 0, **done: Any) -> Row:
    return Row("r1", Request("p0", "Hi", GPT, repeat), **done)


def test_cards_follow_the_events_and_change_once_per_look() -> None:
    board = Board([GPT.spec], repeat=1)
    (queued,) = board.changed()
    assert (queued.kind, queued.status) == ("queued", "queued")
    assert board.changed() == []  # nothing new
    r = row()
    board.record(ev.RowStarted(0, r))
    assert [c.status for c in board.changed()] == ["running"]
    board.record(ev.RowRetrying(0, r, 1, Failure("rate_limit", "slow down", True), 0.5))
    assert board.cards()[0].status == "retrying after rate_limit (attempt 1 failed)"
    for piece in ("Hel", "lo <b>", "there"):
        board.record(ev.RowDelta(0, r, piece))
    (streaming,) = board.changed()  # three pieces, one card to draw
    assert (streaming.kind, streaming.live) == ("streaming", "Hello <b>there")
    assert "Hello &lt;b&gt;there" in card_html(streaming)
    r.status, r.content, r.latency_s, r.usage = "ok", "**Hello** there", 0.4, Usage(3, 2)
    board.record(ev.RowFinished(0, r))
    board.record(ev.RunFinished("done"))
    (done,) = board.changed()
    assert done.kind == "done" and done.status.startswith("done in ")
    page = card_html(done)
    assert "<strong>Hello</strong> there" in page and "orbit-nb-foot" in page


def test_live_text_is_cut_and_counted() -> None:
    board = Board([GPT.spec], repeat=1)
    r = row()
    board.record(ev.RowStarted(0, r))
    board.record(ev.RowDelta(0, r, "x" * (LIVE_CHARS + 500)))
    (live,) = board.cards()
    assert len(live.live) == LIVE_CHARS and live.live_chars == LIVE_CHARS + 500
    assert "… 500 more characters" in card_html(live)


@pytest.mark.parametrize(
    ("outcomes", "kind", "line"),
    [
        ([{"status": "error", "error_type": "rate_limit", "error_message": "429\nslow"}],
         "error", "error: rate_limit: 429 slow"),
        ([{"status": "cancelled", "error_message": "cancelled before it finished"}],
         "cancelled", "cancelled"),
        ([{"status": "ok", "content": "a", "cached": True}], "done", "done: from the cache"),
        ([{"status": "ok", "content": "a"}, {"status": "error", "error_type": "timeout"}],
         "error", "1/2 ok · error: timeout"),
        ([{"status": "ok", "content": "a"}, {"status": "skipped", "error_message": "budget"}],
         "skipped", "1/2 ok · skipped: budget"),
    ],
)  # fmt: skip
def test_status_line_of_a_finished_card(
    outcomes: list[dict[str, Any]], kind: str, line: str
) -> None:
    board = Board([GPT.spec], repeat=len(outcomes))
    for repeat, fields in enumerate(outcomes):
        board.record(ev.RowFinished(repeat, row(repeat, **fields)))
    (finished,) = board.cards()
    assert (finished.kind, finished.status) == (kind, line)


def test_a_cancelled_card_keeps_the_text_it_streamed() -> None:
    board = Board([GPT.spec], repeat=1)
    r = row()
    board.record(ev.RowStarted(0, r))
    board.record(ev.RowDelta(0, r, "Half an ans"))
    r.status, r.error_message = "cancelled", "cancelled before it finished"
    board.record(ev.RowFinished(0, r))
    (stopped,) = board.cards()
    assert (stopped.kind, stopped.status) == ("cancelled", "cancelled")
    page = card_html(stopped)
    assert "Half an ans" in page and "before it finished" not in page


def test_repeats_count_and_an_unsent_run_says_so() -> None:
    board = Board([GPT.spec], repeat=3)
    board.record(ev.RowStarted(0, row(0)))
    board.record(ev.RowFinished(0, row(0, status="ok", content="first")))
    (going,) = board.cards()
    assert going.status == "queued · 1/3" and going.samples[0]["content"] == "first"
    board.record(ev.RowStarted(1, row(1)))
    assert board.cards()[0].status == "running · 1/3"
    board.record(ev.RunFinished("refused"))
    assert (board.cards()[0].kind, board.cards()[0].status) == ("unsent", "not sent · 1/3")


def test_card_classes_and_panel_rules_are_scoped() -> None:
    from orbit_nb.notebook import widgets

    page = card_html(Card(GPT.spec, "streaming", "streaming", "hi", 2))
    classes = {c for attr in re.findall(r"class='([^']*)'", page) for c in attr.split()}
    assert classes and all(c.startswith("orbit-nb-") for c in classes), classes
    for rule in re.findall(r"([^{}]+)\{[^{}]*\}", widgets._CSS):
        for selector in rule.split(","):
            assert selector.strip().startswith(".orbit-nb"), selector
