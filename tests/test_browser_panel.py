"""orbit_nb.panel() in a real browser: JupyterLab and Notebook 7, Debian's chromium, LLMock.

One notebook shows ``orbit_nb.panel()``, in each front-end in turn; the test
types a prompt, picks three models and clicks Run the way a user does. With
streaming on (LLMock spacing the streamed chunks out), each card's text is seen
growing before the card finishes: a MutationObserver in the page notes every
state each card was drawn in, so nothing depends on catching a moment. Then a
run held by LLMock is cancelled with the Cancel button while a trivial cell runs
meanwhile. Every text is checked for WCAG AA contrast in the Light and Dark
themes. The panel's nodes, marked when it first shows, must be the ones on the
page after every run (drawn once, updated in place), with typing in the prompt
box going on through a run's end; and the notebook, saved and reopened without
its kernel, shows the last run as the result view. Screenshots land in
``tests/artifacts/`` (``lab-panel-*.png``, ``notebook-panel-*.png``; the README's
``docs/panel.png`` is a copy of ``lab-panel-readme.png``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from browser import (
    UIS,
    NotebookPage,
    chromium_browser,
    close_notebook,
    geometry,
    jupyter_lab,
    low_contrast,
    luminance,
    open_notebook,
    text_colours,
)
from llmock.scenarios import Delay, Match, Reply
from llmock.testing import LLMockServer
from playwright.sync_api import Browser, Locator, expect

from orbit_nb.types import Options

from conftest import mock_env

pytestmark = pytest.mark.timeout(300)  # the first test also starts the server and browser

STREAMS = "stream" in {f.name for f in dataclasses.fields(Options)}
NO_STREAM = "orbit_nb.types.Options has no stream option yet: answers arrive whole"
MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
ANSWERS = {
    "anthropic": (
        "**Slow start** lets a new TCP connection find the bandwidth it can use without "
        "flooding the network. The sender starts with a small congestion window of a few "
        "segments and grows it by one segment for every acknowledgement, so the window "
        "doubles each round trip.\n\n- fast to probe capacity\n- stops at the first loss"
    ),
    "openai": (
        "TCP slow start doubles the *congestion window* every round trip until a packet is "
        "lost or the window reaches `ssthresh`; from there congestion avoidance grows it "
        "by about one segment per round trip. It is slow only in name: the growth is "
        "exponential, so a connection reaches full speed within a handful of round trips."
    ),
    "gemini": (
        "### In short\nThe sender begins with a small window and doubles it for every round "
        "trip that completes without loss, which quickly reveals how much the path can "
        "carry.\n\n```text\ncwnd: 10 -> 20 -> 40 -> 80 segments, until a loss\n```\n\n"
        "After a loss the threshold halves and growth turns linear."
    ),
}
PROMPT = "Explain TCP slow start in two sentences."
CHUNK_DELAY_MS = 120  # LLMock spaces streamed chunks out: each answer streams for seconds
SLOW = ["anthropic:claude-sonnet-4-5", "openai:gpt-4.1-nano"]  # LLMock holds them
FAST = "gemini:gemini-2.5-flash"
HELD = 120.0  # seconds: far longer than the cancel test takes, even on a busy machine
CELLS = [
    "import json\nimport orbit_nb",
    "p = orbit_nb.panel(max_tokens=300)\np",
    "40 + 2",
    "p.wait(60)\n"
    "print(None if p.df is None else json.dumps({'rows': sorted(zip(p.df['model_spec'], "
    "p.df['status'])), 'history': len(orbit_nb.history(run_id=p.last_run.run_id))}))",
    "print(json.dumps(p.controls.prompt.value))",
]
PANEL, TRIVIAL, REPORT, PROMPT_VALUE = 1, 2, 3, 4
ROOT = ".orbit-nb-panel"
WIDGET = "application/vnd.jupyter.widget-view+json"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
RESULT = ".orbit-nb-presult"  # the panel's last run, for where widgets do not render
SECONDS = re.compile(r"^done in \d+\.\d\d s")
DOLLARS = re.compile(r"^\$\d[\d,]*\.\d{2,8}$")


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panel_llmock() -> Iterator[LLMockServer]:
    """LLMock answering each provider in Markdown, streaming slowly, holding SLOW models."""
    with LLMockServer() as server:
        chaos = server.state.stream_chaos
        server.state.stream_chaos = dataclasses.replace(chaos, chunk_delay_ms=CHUNK_DELAY_MS)
        server.state.scenarios.add(
            *(Delay(HELD, times=None, match=Match(model=m.split(":")[1])) for m in SLOW),
            *(Reply(text=t, times=None, match=Match(provider=p)) for p, t in ANSWERS.items()),
        )
        yield server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module", params=UIS)
def notebook(
    request: pytest.FixtureRequest,
    chromium: Browser,
    panel_llmock: LLMockServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[NotebookPage]:
    """The panel's notebook, run, in JupyterLab, then in Notebook 7; each on a server of
    its own (so with a cache of its own: the second front-end's run is not served from
    the first's). The panel's nodes are marked as they first show."""
    ui = request.param
    home, root = tmp_path_factory.mktemp("jupyter-home"), tmp_path_factory.mktemp("notebooks")
    with jupyter_lab(mock_env(panel_llmock), home, root) as jupyter:
        page = open_notebook(chromium, jupyter, ui, "panel.ipynb", CELLS)
        try:
            page.run_all()
            page.cell(PANEL).locator(ROOT).wait_for(timeout=60_000)
            panel(page).evaluate(_MARK_NODES)
            yield page
        finally:
            close_notebook(page)


def panel(notebook: NotebookPage) -> Locator:
    roots = notebook.cell(PANEL).locator(ROOT)
    assert roots.count() == 1, f"{roots.count()} panels in the cell"
    return roots.first


def cards(notebook: NotebookPage) -> Locator:
    return panel(notebook).locator(".orbit-nb-pcard")


def card(notebook: NotebookPage, model: str) -> Locator:
    name = re.compile(f"^{re.escape(model)}$")
    return cards(notebook).filter(has=notebook.page.locator(".orbit-nb-pcard-model", has_text=name))


def status(notebook: NotebookPage, model: str) -> str:
    """``model``'s status line (read from the DOM: it need not be on screen)."""
    line: str = notebook.page.evaluate(_STATUS, model)
    return line.strip()


def wait_for_status(notebook: NotebookPage, model: str, kind: str, timeout: float) -> None:
    """Wait until ``model``'s card is in state ``kind`` (queued, running, done, ...)."""
    notebook.page.wait_for_function(
        f"([model, kind]) => ({_STATUS_KIND})(model) === kind",
        arg=[model, kind],
        timeout=timeout * 1000,
        polling=50,
    )


def start_run(notebook: NotebookPage, prompt: str, models: list[str]) -> None:
    """Type ``prompt``, pick ``models`` and click Run, as a user does; return once the
    panel shows this run's cards."""
    root = panel(notebook)
    root.get_by_placeholder("Prompt", exact=True).fill(prompt)
    root.locator("select[multiple]").select_option(models)
    root.get_by_role("button", name="Run").click()
    notebook.page.wait_for_function(
        f"models => JSON.stringify(({_CARD_MODELS})()) === JSON.stringify(models)",
        arg=sorted(models),
        timeout=30_000,
        polling=50,
    )


def run_cell(notebook: NotebookPage, index: int, timeout: float = 60.0) -> str:
    """Run cell ``index`` from the notebook's UI; the text it printed or returned."""
    count = notebook.page.evaluate(_EXECUTION_COUNT, index)
    notebook.page.evaluate(_ACTIVATE, index)
    notebook.command("notebook:run-cell")
    notebook.page.wait_for_function(
        f"([i, before]) => ({_EXECUTION_COUNT})(i) !== before && ({_IDLE})()",
        arg=[index, count],
        timeout=timeout * 1000,
        polling=100,
    )
    outputs: list[dict[str, Any]] = notebook.page.evaluate(_OUTPUTS, index)
    texts = [o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


_NOTEBOOK = "window.jupyterapp.shell.currentWidget"
_CARD = """model => [...document.querySelectorAll('.orbit-nb-pcard')].find(
  card => card.querySelector('.orbit-nb-pcard-model').textContent === model)"""
_STATUS = f"model => ({_CARD})(model).querySelector('.orbit-nb-pcard-status').textContent"
_STATUS_KIND = f"""model => {{
  const card = ({_CARD})(model);
  const line = card && card.querySelector('.orbit-nb-pcard-status');
  return line && [...line.classList].find(c => c !== 'orbit-nb-pcard-status')
    .replace('orbit-nb-pcard-', '');
}}"""
_CARD_MODELS = """() => [...document.querySelectorAll('.orbit-nb-pcard-model')]
  .map(m => m.textContent).sort()"""
_EXECUTION_COUNT = f"i => {_NOTEBOOK}.content.widgets[i].model.executionCount"
_ACTIVATE = f"i => {{ {_NOTEBOOK}.content.activeCellIndex = i; }}"
_IDLE = f"() => {_NOTEBOOK}.sessionContext.session.kernel.status === 'idle'"
_OUTPUTS = f"i => {_NOTEBOOK}.content.widgets[i].model.outputs.toJSON()"
_PROMPT_BOX = "textarea[placeholder='Prompt']"
# The panel's root, prompt box and Run button as first drawn, kept to compare with
# what the page holds later.
_MARK_NODES = f"""root => {{
  window.__orbit_nodes = {{root, prompt: root.querySelector("{_PROMPT_BOX}"),
    run: [...root.querySelectorAll('button')].find(b => b.textContent.trim() === 'Run')}};
}}"""
_SAME_NODES = f"""() => {{
  const marked = window.__orbit_nodes;
  const roots = [...document.querySelectorAll('{ROOT}')];
  return {{panels: roots.length, same: roots[0] === marked.root,
          prompts: document.querySelectorAll("{ROOT} {_PROMPT_BOX}").length,
          connected: Object.keys(marked).filter(k => marked[k] && marked[k].isConnected).sort(),
          focused: document.activeElement === marked.prompt}};
}}"""

# Notes each card's state whenever the panel's cell changes: model, status line and
# the length of the streamed text shown (null once the final answer replaced it).
_RECORD_CARDS = f"""index => {{
  const cell = {_NOTEBOOK}.content.widgets[index];
  window.__orbit_cards = [];
  const look = () => {{
    for (const card of cell.node.querySelectorAll('.orbit-nb-pcard')) {{
      const live = card.querySelector('.orbit-nb-pcard-live');
      const seen = {{model: card.querySelector('.orbit-nb-pcard-model').textContent,
                    status: card.querySelector('.orbit-nb-pcard-status').textContent,
                    live: live ? live.textContent.length : null}};
      const last = window.__orbit_cards.filter(c => c.model === seen.model).pop();
      if (!last || last.status !== seen.status || last.live !== seen.live) {{
        window.__orbit_cards.push(seen);
      }}
    }}
  }};
  window.__orbit_observer = new MutationObserver(look);
  window.__orbit_observer.observe(cell.node, {{subtree: true, childList: true,
                                              characterData: true}});
}}"""
# Every card shows streamed text longer than it was (``before``, by model) or is done.
_ALL_GREW = """before => [...document.querySelectorAll('.orbit-nb-pcard')].every(card => {
  const model = card.querySelector('.orbit-nb-pcard-model').textContent;
  const live = card.querySelector('.orbit-nb-pcard-live');
  return live ? live.textContent.length > before[model] : true;
})"""
_LIVE_LENGTHS = """() => Object.fromEntries(
  [...document.querySelectorAll('.orbit-nb-pcard')].map(card => {
    const live = card.querySelector('.orbit-nb-pcard-live');
    return [card.querySelector('.orbit-nb-pcard-model').textContent,
            live ? live.textContent.length : 0];
  }))"""


@dataclass
class Streamed:
    """The three-model run, watched to its end."""

    notebook: NotebookPage
    seen: list[dict[str, Any]]  # each card state the page drew, in order


@pytest.fixture(scope="module")
def streamed(notebook: NotebookPage) -> Streamed:
    """Prompt, three models, Run; two screenshots while the answers stream; the end."""
    page = notebook.page
    page.evaluate(_RECORD_CARDS, PANEL)
    start_run(notebook, PROMPT, MODELS)
    if STREAMS:  # two pictures of the answers growing (checked from what the page drew)
        page.wait_for_function(
            "() => document.querySelectorAll('.orbit-nb-pcard-live').length === 3",
            timeout=60_000,
            polling=50,
        )
        notebook.screenshot("panel-streaming-1", panel(notebook))
        before = page.evaluate(_LIVE_LENGTHS)
        page.wait_for_function(_ALL_GREW, arg=before, timeout=60_000, polling=50)
        notebook.screenshot("panel-streaming-2", panel(notebook))
    for model in MODELS:
        wait_for_status(notebook, model, "done", timeout=90)
    panel(notebook).locator(".orbit-nb-costs table").wait_for(timeout=60_000)
    page.evaluate("() => window.__orbit_observer.disconnect()")
    return Streamed(notebook, page.evaluate("window.__orbit_cards"))


# -- the checks ------------------------------------------------------------------------------


def test_panel_shows_its_form_inside_its_output(notebook: NotebookPage) -> None:
    root = panel(notebook)
    assert root.is_visible()
    box = geometry(root)
    own, seen, area = box["own"], box["seen"], box["area"]
    assert own["width"] > 400 and own["height"] > 150, own
    assert seen["width"] >= own["width"] - 1, box
    assert own["left"] >= area["left"] - 1 and own["right"] <= area["right"] + 1, box
    options = root.locator("select[multiple] option").all_inner_texts()
    assert set(MODELS) <= set(options), options
    assert root.get_by_placeholder("Prompt", exact=True).is_visible()
    assert root.get_by_placeholder("System prompt (optional)").is_visible()
    assert root.get_by_role("button", name="Run").is_enabled()
    assert root.get_by_role("button", name="Cancel").is_disabled()
    assert root.get_by_label("Max tokens").input_value() == "300"  # preset by panel(max_tokens=)
    assert root.get_by_label("Stream").is_checked()
    assert "press Run" in root.locator(".orbit-nb-pmsg").inner_text()
    notebook.screenshot("panel-form", root)


def test_bad_input_shows_an_error_and_sends_nothing(
    notebook: NotebookPage, panel_llmock: LLMockServer
) -> None:
    sent = len(panel_llmock.state.journal.records())
    root = panel(notebook)
    root.get_by_role("button", name="Run").click()
    alert = root.locator(".orbit-nb-pmsg-error[role=alert]")
    alert.wait_for(timeout=30_000)
    assert "the prompt is empty" in alert.inner_text()
    root.get_by_placeholder("Prompt", exact=True).fill("Hello?")
    root.get_by_label("Other models").fill("nope:x")
    root.get_by_role("button", name="Run").click()
    notebook.page.wait_for_function(
        "() => document.querySelector('.orbit-nb-pmsg-error')?.textContent.includes('nope')",
        timeout=30_000,
    )
    assert "unknown provider 'nope' in 'nope:x'" in alert.inner_text()
    assert alert.is_visible()
    notebook.screenshot("panel-bad-input", root)
    root.get_by_label("Other models").fill("")
    assert len(panel_llmock.state.journal.records()) == sent
    assert cards(notebook).count() == 0


@pytest.mark.skipif(not STREAMS, reason=NO_STREAM)
def test_text_grows_in_each_card_while_it_streams(streamed: Streamed) -> None:
    for model in MODELS:
        states = [s for s in streamed.seen if s["model"] == model]
        before_done = []
        for state in states:
            if state["status"].startswith("done"):
                break
            if state["live"]:
                before_done.append(state)
        lengths = [s["live"] for s in before_done]
        assert len(set(lengths)) >= 2, (model, states)  # drawn growing, more than once
        assert lengths == sorted(lengths), (model, lengths)  # never shrinking
        assert {s["status"] for s in before_done} == {"streaming"}, (model, before_done)
        assert states[-1]["status"].startswith("done") and states[-1]["live"] is None, states


def test_three_finished_cards_and_the_cost_table(streamed: Streamed) -> None:
    notebook = streamed.notebook
    assert cards(notebook).count() == 3
    for model in MODELS:
        assert SECONDS.match(status(notebook, model)), status(notebook, model)
        assert card(notebook, model).locator(".orbit-nb-foot").is_visible()
    # Markdown, rendered: emphasis, list, heading and code block.
    assert card(notebook, MODELS[0]).locator("strong").inner_text() == "Slow start"
    assert card(notebook, MODELS[0]).locator("li").count() == 2
    assert "congestion avoidance" in card(notebook, MODELS[1]).inner_text()
    assert card(notebook, MODELS[2]).locator("h3").inner_text() == "In short"
    assert "cwnd: 10 -> 20" in card(notebook, MODELS[2]).locator("pre code").inner_text()
    # Side by side in a wide page, apart, none wider than its place (a long code line
    # scrolls inside its block).
    boxes = sorted((geometry(card(notebook, m))["own"] for m in MODELS), key=lambda b: b["left"])
    assert max(b["top"] for b in boxes) - min(b["top"] for b in boxes) < 2, boxes
    assert all(a["right"] <= b["left"] + 1 for a, b in itertools.pairwise(boxes)), boxes
    for model in MODELS:
        fits = card(notebook, model).evaluate("el => el.scrollWidth <= el.clientWidth + 1")
        assert fits, model
    table = panel(notebook).locator(".orbit-nb-costs table")
    rows = table.locator("tbody tr").all_inner_texts()
    labels = [r.split("\t")[0].strip() for r in rows]
    assert sorted(labels) == sorted([*MODELS, "total"]), rows
    spent = table.locator("tbody tr").last.locator("td").nth(3).inner_text()
    assert DOLLARS.match(spent), spent
    message = panel(notebook).locator(".orbit-nb-pmsg").first.inner_text()
    assert message.startswith("done: 3/3 calls"), message
    shot = notebook.screenshot("panel-readme", panel(notebook))
    assert shot.stat().st_size > 10_000


def test_saved_output_holds_the_last_result_as_static_html(streamed: Streamed) -> None:
    notebook = streamed.notebook
    outputs = notebook.page.evaluate(_OUTPUTS, PANEL)
    assert len(outputs) == 2, [list(o.get("data", {})) for o in outputs]
    live, result = (o["data"] for o in outputs)
    assert WIDGET in live, list(live)  # the live panel ...
    assert WIDGET not in result, list(result)  # ... and the result view, for where it can't go
    static = "".join(result["text/html"])
    assert "orbit-nb-view" in static and all(m in static for m in MODELS), static[:300]
    assert "Usage and cost" in static
    # While the panel is live, that copy is hidden (the cards show the same).
    copy = notebook.cell(PANEL).locator(RESULT)
    assert copy.count() == 1 and copy.locator(".orbit-nb-view").count() == 1
    assert copy.is_hidden()
    room = copy.evaluate("el => el.closest('.jp-OutputArea-child').getBoundingClientRect().height")
    assert room == 0, f"the hidden copy takes {room} px under the panel"
    assert panel(notebook).count() == 1  # one live panel after the update


def test_cancel_stops_a_slow_run_while_a_cell_runs_meanwhile(
    streamed: Streamed, panel_llmock: LLMockServer
) -> None:
    notebook = streamed.notebook
    root = panel(notebook)
    start_run(notebook, "Take your time.", [*SLOW, FAST])
    wait_for_status(notebook, FAST, "done", timeout=90)
    for model in SLOW:
        assert status(notebook, model) == "running", status(notebook, model)
    assert run_cell(notebook, TRIVIAL).strip() == "42"  # the kernel is free meanwhile
    for model in SLOW:  # ... and the run still going: LLMock holds it
        assert status(notebook, model) == "running", status(notebook, model)
    notebook.screenshot("panel-before-cancel", root)
    root.get_by_role("button", name="Cancel").click()
    # A cancel lands within a second; the margin is for a busy machine.
    for model in SLOW:
        wait_for_status(notebook, model, "cancelled", timeout=10)
        assert status(notebook, model) == "cancelled"
    assert SECONDS.match(status(notebook, FAST)), status(notebook, FAST)
    notebook.page.wait_for_function(
        "() => document.querySelector('.orbit-nb-pmsg').textContent.startsWith('cancelled')",
        timeout=30_000,
    )
    expect(root.get_by_role("button", name="Run")).to_be_enabled(timeout=30_000)
    report = json.loads(run_cell(notebook, REPORT))
    assert report["rows"] == sorted([[m, "cancelled"] for m in SLOW] + [[FAST, "ok"]])
    assert report["history"] == 3
    notebook.screenshot("panel-cancelled", panel(notebook))


def _shades_of(theme: str, luminances: set[float]) -> bool:
    """Whether every background luminance is one of ``theme``'s: dark, or light."""
    return max(luminances) < 0.2 if theme == "dark" else min(luminances) > 0.5


@pytest.mark.parametrize("theme", THEMES)
def test_every_text_is_readable(streamed: Streamed, theme: str) -> None:
    notebook = streamed.notebook
    notebook.set_theme(THEMES[theme])
    try:
        root = panel(notebook)
        root.scroll_into_view_if_needed()
        notebook.screenshot(f"panel-{theme}", root)
        assert low_contrast(root) == []
        # The panel follows the theme: its texts sit on light, or on dark, colours (the
        # Run button keeps JupyterLab's accent colour in both).
        texts = [c for c in text_colours(root) if c["tag"] != "BUTTON"]
        assert len(texts) > 20, texts
        shades = {round(luminance(c["bg"]), 2) for c in texts}
        assert _shades_of(theme, shades), sorted(shades)
    finally:
        notebook.set_theme(THEMES["light"])  # the theme is a user setting the UIs share


def test_runs_leave_the_panel_in_place_and_typing_in_the_prompt_box(notebook: NotebookPage) -> None:
    """After every run so far, and through one more: the same panel, controls and prompt
    box on the page (none drawn again, no copy left behind), the prompt box keeping the
    focus while a run ends."""
    page = notebook.page
    root = panel(notebook)
    prompt = root.get_by_placeholder("Prompt", exact=True)
    start_run(notebook, "Name a prime", [FAST])
    # Back to the prompt box (the panel has no key to run it) while the answer streams in.
    prompt.click()
    page.keyboard.press("End")
    page.keyboard.type(" number")
    assert not status(notebook, FAST).startswith("done"), status(notebook, FAST)
    wait_for_status(notebook, FAST, "done", timeout=90)
    expect(root.get_by_role("button", name="Run")).to_be_enabled(timeout=30_000)
    assert SECONDS.match(status(notebook, FAST)), status(notebook, FAST)
    nodes = page.evaluate(_SAME_NODES)
    assert nodes == {
        "panels": 1,
        "same": True,
        "prompts": 1,
        "connected": ["prompt", "root", "run"],
        "focused": True,
    }, nodes
    page.keyboard.type(" please")  # the keys still go to the prompt box
    expect(prompt).to_have_value("Name a prime number please")
    assert cards(notebook).count() == 1
    # ipywidgets sends a box's edits to the kernel one message at a time, so on a
    # busy machine the last keys may reach it after the cell that reads them: read
    # again until they have (the value, not how soon, is what is checked).
    deadline = time.monotonic() + 30
    value = json.loads(run_cell(notebook, PROMPT_VALUE))
    while value != "Name a prime number please" and time.monotonic() < deadline:
        time.sleep(0.5)
        value = json.loads(run_cell(notebook, PROMPT_VALUE))
    assert value == "Name a prime number please"


def test_saved_and_reopened_without_its_kernel_it_shows_the_last_run(
    notebook: NotebookPage, chromium: Browser
) -> None:
    """The notebook, saved and opened again: the panel's widgets are gone with the
    kernel that made them, and the last run shows as the result view."""
    page, server = notebook.page, notebook.server
    notebook.command("docmanager:save")
    page.wait_for_function(f"() => !{_NOTEBOOK}.context.model.dirty", timeout=30_000)
    name = f"reopened-{notebook.ui}.ipynb"
    shutil.copy(server.root / notebook.name, server.root / name)
    context = chromium.new_context(viewport=page.viewport_size)
    try:
        reopened = NotebookPage(context.new_page(), server, notebook.ui, name)
        reopened.page.goto(server.page_url(notebook.ui, name))
        reopened.wait_for_kernel()
        cell = reopened.cell(PANEL)
        view = cell.locator(f"{RESULT} .orbit-nb-view")
        view.wait_for(timeout=60_000)
        assert view.is_visible() and cell.locator(ROOT).count() == 0
        assert view.locator(".orbit-nb-card").count() == 1
        assert view.locator("th.orbit-nb-model").all_inner_texts() == [FAST]
        assert view.locator("h3").inner_text() == "In short"  # the answer, rendered
        assert view.locator(".orbit-nb-costs table").is_visible()
        assert low_contrast(view) == []
        reopened.screenshot("panel-reopened", cell)
    finally:
        context.close()
