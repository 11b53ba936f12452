"""The ``%%orbit`` result view, looked at in a real browser: JupyterLab and Notebook 7.

One notebook runs, in each front-end, a 3 models x 3 prompts ``%%orbit`` cell
and a ``--background`` cell against LLMock. OpenAI answers in Markdown (with
dollar amounts, which JupyterLab's math typesetting must leave alone),
Anthropic with hostile HTML and a ``javascript:`` link, Gemini with LLMock's
default text. The checks read the rendered page: geometry and computed styles,
not the HTML string. Screenshots of each front-end, light and dark, land in
``tests/artifacts/``.

A ``%%orbit --stream`` cell (JupyterLab) shows its answers growing in live
cards while LLMock spaces the streamed chunks out, then the result view: read
twice while streaming (``lab-stream-live-1.png``, ``lab-stream-live-2.png``),
watched throughout by a MutationObserver in the page, and checked for place and
contrast in JupyterLab Light and Dark.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser import (
    UIS,
    WCAG_AA,
    JupyterServer,
    NotebookPage,
    chromium_browser,
    close_notebook,
    contrast,
    geometries,
    geometry,
    jupyter_lab,
    low_contrast,
    luminance,
    open_notebook,
    scrolls_horizontally,
    text_colours,
)
from llmock.scenarios import Delay, Match, Reply
from llmock.testing import LLMockServer
from playwright.sync_api import Browser, Locator, Page
from playwright.sync_api import Error as PlaywrightError

from conftest import mock_env

pytestmark = pytest.mark.timeout(300)  # the first test also starts the server and browser

VENV = Path(__file__).resolve().parents[1] / ".venv"
MODELS = "anthropic:claude-haiku-4-5,openai:gpt-4o-mini,gemini:gemini-2.5-flash"
TOPICS = ["a", "b", "c"]
BACKGROUND_MODELS = "openai:gpt-4.1-mini,anthropic:claude-sonnet-4-5"
BACKGROUND_DELAY = 2.0  # seconds LLMock holds each background call: long enough to see progress

MARKDOWN = """## Title

Plans cost $5 and $10 a month.

- first point
- second point

```python
print("fenced")
```
"""
HOSTILE = (
    '<img src=x onerror="window.__orbit_xss=1"> '
    "<script>window.__orbit_xss=2</script> "
    "[click](javascript:window.__orbit_xss=3)"
)

CELLS = [
    "import sys\nprint(sys.prefix)",
    "%load_ext orbit_nb",
    f"topic = {TOPICS!r}",
    f"%%orbit -m {MODELS} --no-cache\nExplain {{topic}}.",
    f"%%orbit --background -m {BACKGROUND_MODELS} --no-cache -o bg\nSummarize {{topic}}.",
]
PREFIX, MAIN, BACKGROUND = 0, 3, 4

# The README's picture: a plain comparison with answers like real ones.
README_ANSWERS = {
    "claude-opus-4-1": (
        "**Slow start** grows the congestion window exponentially: it starts at a few "
        "segments and doubles every round trip until loss or `ssthresh`.\n\n"
        "- fast to find the available bandwidth\n- backs off on the first loss"
    ),
    "gpt-4.1": (
        "TCP slow start doubles the *congestion window* each RTT, so a new connection "
        "probes capacity quickly without flooding the network."
    ),
    "gemini-2.5-pro": (
        "### In one line\nThe sender begins with a small window and doubles it per "
        "round trip.\n\n```text\ncwnd: 10 → 20 → 40 → … until loss\n```"
    ),
}
README_CELLS = [
    "%load_ext orbit_nb",
    "%%orbit -m anthropic:claude-opus-4-1,openai:gpt-4.1,gemini:gemini-2.5-pro -n 2\n"
    "Explain TCP slow start in two sentences.",
]
ROOT = ".jp-OutputArea-output > div.orbit-nb"  # one root per display
WIDGET = "application/vnd.jupyter.widget-view+json"

# The streamed cell: LLMock streams a word a chunk, CHUNK_DELAY_MS apart, so each
# answer takes seconds. Its streamed answers carry markup that must stay text.
CHUNK_DELAY_MS = 150
STREAMED = {
    "anthropic": (
        "**Slow start** lets a new connection find its bandwidth: the window starts "
        'small <img src=x onerror="window.__orbit_xss=4"> and doubles every round '
        "trip until a loss, then congestion avoidance takes over and grows it slowly."
    ),
    "openai": (
        "TCP slow start doubles the congestion window each round trip <script>"
        "window.__orbit_xss=5</script> so a connection probes capacity quickly; after "
        "the first loss the threshold halves and the growth becomes linear again."
    ),
    "gemini": (
        "The sender begins with a small window and grows it by one segment per "
        "acknowledgement, which doubles it every round trip: exponential growth that "
        "stops at the slow start threshold or at the first lost packet."
    ),
}
STREAM_CELLS = [
    "%load_ext orbit_nb",
    f"%%orbit --stream -m {MODELS} --no-cache -o streamed\nExplain TCP slow start.",
]
STREAM = 1
LIVE = ".orbit-nb-live"


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def view_llmock() -> Iterator[LLMockServer]:
    """LLMock with the answers the view is checked against, for every call of the module."""
    with LLMockServer() as server:
        chaos = server.state.stream_chaos  # spaces streamed chunks out; whole answers keep
        server.state.stream_chaos = dataclasses.replace(chaos, chunk_delay_ms=CHUNK_DELAY_MS)
        server.state.scenarios.add(
            *(
                Reply(text=t, times=None, match=Match(provider=p, stream=True))
                for p, t in STREAMED.items()
            ),
            *(Reply(text=t, times=None, match=Match(model=m)) for m, t in README_ANSWERS.items()),
            Reply(text=MARKDOWN, times=None, match=Match(provider="openai")),
            Reply(text=HOSTILE, times=None, match=Match(provider="anthropic")),
            Delay(BACKGROUND_DELAY, times=None, match=Match(model="gpt-4.1-mini")),
            Delay(BACKGROUND_DELAY, times=None, match=Match(model="claude-sonnet-4-5")),
        )
        yield server


@pytest.fixture(scope="module")
def jupyter(
    view_llmock: LLMockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    home, root = tmp_path_factory.mktemp("jupyter-home"), tmp_path_factory.mktemp("notebooks")
    with jupyter_lab(mock_env(view_llmock), home, root) as server:
        yield server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@dataclass
class Shown:
    """The notebook after its run, in one front-end."""

    notebook: NotebookPage
    outputs: list[list[dict[str, Any]]]
    background_history: list[list[list[str]]]  # the background cell's outputs' mime types

    @property
    def page(self) -> Page:
        return self.notebook.page

    def cell(self, index: int) -> Locator:
        return self.notebook.cell(index)

    def root(self, index: int = MAIN) -> Locator:
        roots = self.cell(index).locator(ROOT)
        assert roots.count() == 1, f"{roots.count()} result views in cell {index}"
        return roots.first


@pytest.fixture(scope="module", params=UIS)
def shown(
    request: pytest.FixtureRequest, chromium: Browser, jupyter: JupyterServer
) -> Iterator[Shown]:
    """The notebook run to the end (the background run included) in JupyterLab, then
    in Notebook 7."""
    ui = request.param
    notebook = open_notebook(chromium, jupyter, ui, f"view-{ui}.ipynb", CELLS)
    try:
        notebook.record_outputs(BACKGROUND)
        outputs = notebook.run_all()
        _wait_for_background(notebook)
        history = notebook.recorded_outputs()
        yield Shown(notebook, outputs, history)
    finally:
        close_notebook(notebook)


def _wait_for_background(notebook: NotebookPage) -> None:
    cell = notebook.cell(BACKGROUND)
    progress = cell.locator(".orbit-nb-progress")
    result = cell.locator(ROOT)
    # The progress bar shows while LLMock holds the calls: screenshot it if it is still
    # there (a best effort: the order itself is checked from the recorded outputs).
    progress.or_(result).first.wait_for(timeout=60_000)
    with contextlib.suppress(PlaywrightError):
        progress.first.scroll_into_view_if_needed(timeout=2_000)
        notebook.screenshot("background-progress")
    result.wait_for(timeout=60_000)


def answers(shown: Shown, provider: str) -> Locator:
    """The answer elements of ``provider``'s column of the main grid."""
    root = shown.root()
    models = root.locator("th.orbit-nb-model").all_inner_texts()
    column = [i for i, name in enumerate(models) if name.startswith(f"{provider}:")]
    assert len(column) == 1, models
    # Row cells: the prompt's th comes first, so the model's td is at column + 2.
    return root.locator(
        f"table.orbit-nb-grid > tbody > tr > td:nth-child({column[0] + 2}) .orbit-nb-answer"
    )


# -- the checks ------------------------------------------------------------------------------


def test_notebook_ran_in_the_venv_with_one_view_per_display(shown: Shown) -> None:
    prefix = "".join(o.get("text", "") for o in shown.outputs[PREFIX]).strip()
    assert Path(prefix) == VENV, prefix
    root = shown.root()
    assert root.locator(".orbit-nb-head").count() == 1
    assert root.locator("th.orbit-nb-prompt[scope=row]").count() == len(TOPICS)
    models = root.locator("th.orbit-nb-model").all_inner_texts()
    assert sorted(models) == sorted(MODELS.split(","))
    assert root.locator(".orbit-nb-card").count() == len(TOPICS) * 3
    assert root.locator(".orbit-nb-card .orbit-nb-answer").count() == len(TOPICS) * 3
    assert root.locator(".orbit-nb-card .orbit-nb-foot").count() == len(TOPICS) * 3


def test_answers_are_visible_inside_the_output_and_left_aligned(shown: Shown) -> None:
    root = shown.root()
    area = geometry(root)["area"]
    assert area["height"] > 100, f"the output area is a {area['height']} px strip"
    cards = root.locator(".orbit-nb-answer")
    for i in range(cards.count()):
        answer = cards.nth(i)
        box = geometry(answer)
        own, seen, area = box["own"], box["seen"], box["area"]
        text = answer.inner_text()
        assert own["width"] > 50 and own["height"] > 10, (text, own)
        # Nothing of it is cut off by an ancestor's overflow ...
        assert seen["width"] >= own["width"] - 1 and seen["height"] >= own["height"] - 1, (
            text,
            own,
            seen,
        )
        # ... and it lies inside the cell's output area.
        assert own["left"] >= area["left"] - 1 and own["right"] <= area["right"] + 1, (text, box)
        assert own["top"] >= area["top"] - 1 and own["bottom"] <= area["bottom"] + 1, (text, box)
        assert answer.is_visible()
        aligned = answer.evaluate(
            "el => [el, ...el.querySelectorAll('*')].map(e => getComputedStyle(e).textAlign)"
        )
        assert set(aligned) <= {"left", "start"}, (text, aligned)


def test_markdown_answers_render_as_markup(shown: Shown) -> None:
    for answer in answers(shown, "openai").all():
        assert answer.locator("h2").inner_text().strip() == "Title"
        assert answer.locator("li").all_inner_texts() == ["first point", "second point"]
        assert 'print("fenced")' in answer.locator("pre code").inner_text()
        assert answer.locator("pre code").is_visible()
        assert "#" not in answer.locator("h2").inner_text()


def test_dollar_amounts_show_as_text_not_math(shown: Shown) -> None:
    """JupyterLab typesets $...$ in HTML outputs as TeX unless told not to."""
    root = shown.root()
    typeset = root.locator("mjx-container, .MathJax, .katex")
    assert typeset.count() == 0, typeset.first.evaluate("el => el.parentElement.outerHTML")
    for answer in answers(shown, "openai").all():
        assert "Plans cost $5 and $10 a month." in answer.inner_text()
    stats = root.locator(".orbit-nb-head").inner_text()
    assert re.search(r"spent \$\d", stats), stats


def test_hostile_answer_shows_as_inert_text(shown: Shown) -> None:
    page = shown.page
    assert page.evaluate("typeof window.__orbit_xss") == "undefined"
    output = shown.cell(MAIN).locator(".jp-OutputArea")
    assert output.locator("script").count() == 0
    assert output.locator("img, iframe, object, embed").count() == 0
    assert output.locator("[onerror], [onload], [onclick]").count() == 0
    hrefs = output.locator("a[href]").evaluate_all("els => els.map(a => a.href)")
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")], hrefs
    hostile = answers(shown, "anthropic")
    assert hostile.count() == len(TOPICS)
    for answer in hostile.all():
        text = answer.inner_text()
        assert "<script>window.__orbit_xss=2</script>" in text, text
        assert '<img src=x onerror="window.__orbit_xss=1">' in text, text
        assert "click" in text, text
        for link in answer.locator("a").all():
            link.click()
    assert page.evaluate("typeof window.__orbit_xss") == "undefined"


def test_usage_table_is_visible_and_fits(shown: Shown) -> None:
    costs = shown.root().locator(".orbit-nb-costs table")
    assert costs.count() == 1
    table = costs.first
    assert table.is_visible()
    box = geometry(table)
    own, area = box["own"], box["area"]
    assert own["height"] > 40, own
    fits = own["width"] <= area["width"] + 1
    assert fits or scrolls_horizontally(table), box
    assert own["left"] >= area["left"] - 1, box
    text = table.inner_text()
    for model in MODELS.split(","):
        assert model in text, text
    assert "total" in text, text


def test_background_result_replaces_its_progress(shown: Shown) -> None:
    history = shown.background_history
    widget_at = [i for i, types in enumerate(history) if any(WIDGET in t for t in types)]
    assert widget_at, f"no progress widget was ever shown: {history}"
    final = history[-1]
    assert not any(WIDGET in t for t in final), history
    assert sum("text/html" in t for t in final) == 1, history
    cell = shown.cell(BACKGROUND)
    assert cell.locator(".orbit-nb-progress").count() == 0
    root = shown.root(BACKGROUND)
    assert root.locator(".orbit-nb-card").count() == len(TOPICS) * 2
    shown_text = cell.locator(".jp-OutputArea").inner_text()
    assert not re.search(r"\d+/\d+ calls", shown_text), shown_text
    assert "result in bg" in root.locator(".orbit-nb-head").inner_text()
    shown.page.evaluate("el => el.scrollIntoView()", root.element_handle())
    shown.notebook.screenshot("background-done")


def test_light_theme_contrast(shown: Shown) -> None:
    root = shown.root()
    assert shown.page.evaluate("document.body.dataset.jpThemeLight") == "true"
    root.scroll_into_view_if_needed()
    shown.notebook.screenshot("light")
    shown.notebook.screenshot("light-view", root)
    assert low_contrast(root) == []


def test_dark_theme_renders_with_readable_contrast(shown: Shown) -> None:
    notebook = shown.notebook
    root = shown.root()
    notebook.set_theme("JupyterLab Dark")
    try:
        root.scroll_into_view_if_needed()
        notebook.screenshot("dark")
        notebook.screenshot("dark-view", root)
        colours = text_colours(answers(shown, "openai").first)
        text = next(c for c in colours if c["tag"] == "P")
        assert contrast(text["fg"], text["bg"]) >= WCAG_AA, text
        assert luminance(text["bg"]) < 0.2, f"the card stayed light in the dark theme: {text}"
        assert low_contrast(root) == []
    finally:
        notebook.set_theme("JupyterLab Light")  # the theme is a user setting both UIs share


def test_readme_screenshot(chromium: Browser, jupyter: JupyterServer) -> None:
    """The README's picture of a %%orbit result (tests/artifacts/lab-readme.png;
    docs/result-view.png is a copy of it)."""
    notebook = open_notebook(chromium, jupyter, "lab", "readme.ipynb", README_CELLS)
    try:
        notebook.run_all()
        root = notebook.cell(len(README_CELLS) - 1).locator(ROOT)
        assert root.locator(".orbit-nb-card").count() == 3
        assert root.locator("code").count() >= 2  # Markdown rendered
        assert notebook.screenshot("readme", root).stat().st_size > 10_000
    finally:
        close_notebook(notebook)


# -- a streamed cell: live cards ----------------------------------------------------------

_CELL = "window.jupyterapp.shell.currentWidget.content.widgets"
# Each live card of cell ``index``, read at one moment: model, status line, and the
# streamed text drawn (null once the card holds the final answer); null without cards.
_READ_LIVE = f"""index => {{
  const root = {_CELL}[index].node.querySelector('.orbit-nb-live');
  return root && [...root.querySelectorAll('.orbit-nb-pcard')].map(card => {{
    const live = card.querySelector('.orbit-nb-pcard-live');
    return {{model: card.querySelector('.orbit-nb-pcard-model').textContent,
            status: card.querySelector('.orbit-nb-pcard-status').textContent,
            live: live ? live.textContent : null}};
  }});
}}"""
# Every card of cell ``index`` shows streamed text.
_ALL_STREAMING = f"""index => {{
  const cards = ({_READ_LIVE})(index);
  return !!cards && cards.length === 3 && cards.every(c => c.live && c.live.length > 0);
}}"""
# Every card shows more text than ``before`` (by model) did, or has its final answer.
_ALL_GREW = f"""([index, before]) => {{
  const cards = ({_READ_LIVE})(index);
  return !!cards && cards.every(c => c.live === null || c.live.length > before[c.model]);
}}"""
# Notes, at every change of cell ``index``, each live card's state that differs from
# the last one noted, markup that must not be there, whether a card showed the
# answers' markup as text, and whether the result view came.
_WATCH = f"""index => {{
  const cell = {_CELL}[index];
  window.__orbit_live = [];
  window.__orbit_unsafe = [];
  window.__orbit_final = false;
  window.__orbit_as_text = false;
  const look = () => {{
    const output = cell.node.querySelector('.jp-OutputArea');
    const unsafe = output && output.querySelectorAll('script, img, iframe, [onerror]');
    if (unsafe && unsafe.length) window.__orbit_unsafe.push(unsafe[0].outerHTML);
    if (cell.node.querySelector('.orbit-nb-view')) window.__orbit_final = true;
    for (const seen of ({_READ_LIVE})(index) || []) {{
      if (/<script>|<img /.test(seen.live || '')) window.__orbit_as_text = true;
      const mine = window.__orbit_live.filter(c => c.model === seen.model);
      const last = mine[mine.length - 1];
      const length = seen.live === null ? null : seen.live.length;
      if (!last || last.status !== seen.status || last.live !== length) {{
        window.__orbit_live.push({{model: seen.model, status: seen.status, live: length,
                                  final: window.__orbit_final}});
      }}
    }}
  }};
  window.__orbit_watch = new MutationObserver(look);
  window.__orbit_watch.observe(cell.node, {{subtree: true, childList: true,
                                           characterData: true}});
}}"""
_EXECUTED = f"""([index, before]) => {{
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const count = {_CELL}[index].model.executionCount;
  return count !== null && count !== before && !!kernel && kernel.status === 'idle';
}}"""
_COUNT = f"index => {_CELL}[index].model.executionCount"
_ACTIVATE = "i => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = i; }"
# Starts a front-end command without waiting for it (a run command's promise ends
# when its cells have run).
_FIRE = "id => { window.jupyterapp.commands.execute(id); }"


@dataclass
class LiveRun:
    """The streamed cell run once in JupyterLab Light, watched to its end."""

    notebook: NotebookPage
    reads: list[list[dict[str, Any]]]  # the cards, read twice while they streamed
    boxes: list[dict[str, Any]]  # geometry of each live card, read at one moment
    low_contrast: list[str]  # texts of the live cards under WCAG AA, in Light
    seen: list[dict[str, Any]]  # each card state the page drew, in order
    unsafe: list[str]  # markup from the answers the output ever held
    markup_as_text: bool  # a live card showed the answers' markup as text

    def cell(self) -> Locator:
        return self.notebook.cell(STREAM)


def output_of(cell: Locator) -> Locator:
    """The output element of a cell's live cards: it stays while they redraw (only its
    contents change), so what is read under it is read at one moment."""
    return cell.locator(".jp-OutputArea-output").filter(has=cell.page.locator(LIVE))


def wait_for_live_text(notebook: NotebookPage) -> None:
    notebook.page.wait_for_function(_ALL_STREAMING, arg=STREAM, timeout=120_000, polling=50)


def wait_until_run(notebook: NotebookPage, count: object) -> None:
    """Until the streamed cell ran (its count is no longer ``count``) and shows the result."""
    notebook.page.wait_for_function(_EXECUTED, arg=[STREAM, count], timeout=120_000, polling=100)
    notebook.cell(STREAM).locator(f"{ROOT}.orbit-nb-view").wait_for(timeout=30_000)


@pytest.fixture(scope="module")
def live_run(chromium: Browser, jupyter: JupyterServer) -> Iterator[LiveRun]:
    """Run the streamed cell; read its live cards twice (a screenshot each time), read
    their place and contrast, and wait for the result view."""
    notebook = open_notebook(chromium, jupyter, "lab", "stream.ipynb", STREAM_CELLS)
    try:
        page = notebook.page
        page.evaluate(_WATCH, STREAM)
        count = page.evaluate(_COUNT, STREAM)
        page.evaluate(_FIRE, "notebook:run-all-cells")
        wait_for_live_text(notebook)
        output = output_of(notebook.cell(STREAM))
        output.scroll_into_view_if_needed()
        first = page.evaluate(_READ_LIVE, STREAM)
        notebook.screenshot("stream-live-1")
        before = {card["model"]: len(card["live"]) for card in first}
        page.wait_for_function(_ALL_GREW, arg=[STREAM, before], timeout=60_000, polling=50)
        second = page.evaluate(_READ_LIVE, STREAM)
        notebook.screenshot("stream-live-2")
        boxes = geometries(output, f"{LIVE} .orbit-nb-pcard")
        problems = low_contrast(output)
        wait_until_run(notebook, count)
        page.evaluate("() => window.__orbit_watch.disconnect()")
        seen, unsafe, as_text = page.evaluate(
            "() => [window.__orbit_live, window.__orbit_unsafe, window.__orbit_as_text]"
        )
        yield LiveRun(notebook, [first, second], boxes, problems, seen, unsafe, as_text)
    finally:
        close_notebook(notebook)


def test_live_cards_show_the_text_growing_then_the_result_view(live_run: LiveRun) -> None:
    first, second = live_run.reads
    models = MODELS.split(",")
    assert sorted(c["model"] for c in first) == sorted(models), first
    grown = {c["model"]: c for c in second}
    for card in first:
        after = grown[card["model"]]
        assert card["status"] == "streaming" and card["live"], card
        # Longer, and the same text so far (never starting over), or already final.
        assert after["live"] is None or (
            len(after["live"]) > len(card["live"]) and after["live"].startswith(card["live"])
        ), (card, after)
    for model in models:  # the page drew each card growing, more than once, before the end
        states = [s for s in live_run.seen if s["model"] == model and not s["final"]]
        lengths = [s["live"] for s in states if s["live"] is not None]
        assert len(set(lengths)) >= 2 and lengths == sorted(lengths), (model, states)
        assert {s["status"] for s in states if s["live"]} == {"streaming"}, (model, states)
    cell = live_run.cell()
    assert cell.locator(LIVE).count() == 0  # replaced by the result view
    root = cell.locator(ROOT)
    assert root.count() == 1 and "orbit-nb-view" in (root.get_attribute("class") or "")
    assert root.locator(".orbit-nb-card .orbit-nb-answer").count() == 3
    assert "result in streamed" in root.locator(".orbit-nb-head").inner_text()
    live_run.notebook.screenshot("stream-done", root)


def test_live_cards_are_visible_inside_their_output(live_run: LiveRun) -> None:
    assert len(live_run.boxes) == 3, live_run.boxes
    for box in live_run.boxes:
        own, seen, area = box["own"], box["seen"], box["area"]
        assert own["width"] > 100 and own["height"] > 20, box
        assert seen["width"] >= own["width"] - 1 and seen["height"] >= own["height"] - 1, box
        assert own["left"] >= area["left"] - 1 and own["right"] <= area["right"] + 1, box
        assert own["top"] >= area["top"] - 1 and own["bottom"] <= area["bottom"] + 1, box
    lefts = sorted(box["own"]["left"] for box in live_run.boxes)  # side by side: a row
    assert lefts[0] < lefts[1] < lefts[2], live_run.boxes


def test_streamed_markup_stays_text(live_run: LiveRun) -> None:
    assert live_run.unsafe == []
    assert live_run.notebook.page.evaluate("typeof window.__orbit_xss") == "undefined"
    assert live_run.markup_as_text


def test_live_cards_are_readable_in_the_light_theme(live_run: LiveRun) -> None:
    assert live_run.low_contrast == []


def test_live_cards_are_readable_in_the_dark_theme(live_run: LiveRun) -> None:
    notebook = live_run.notebook
    notebook.set_theme("JupyterLab Dark")
    try:
        count = notebook.page.evaluate(_COUNT, STREAM)
        notebook.page.evaluate(_ACTIVATE, STREAM)
        notebook.page.evaluate(_FIRE, "notebook:run-cell")
        wait_for_live_text(notebook)
        output = output_of(notebook.cell(STREAM))
        output.scroll_into_view_if_needed()
        colours = text_colours(output)
        problems = low_contrast(output)
        notebook.screenshot("stream-live-dark")
        live = [c for c in colours if "orbit-nb-pcard-live" in c["cls"]]
        assert live, colours
        for text in live:
            assert contrast(text["fg"], text["bg"]) >= WCAG_AA, text
            assert luminance(text["bg"]) < 0.2, f"the card stayed light in the dark theme: {text}"
        assert problems == []
        wait_until_run(notebook, count)
    finally:
        notebook.set_theme("JupyterLab Light")
