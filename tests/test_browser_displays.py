"""The notebook displays other than the ``%%orbit`` grid, looked at in JupyterLab.

One notebook runs ``compare()`` against LLMock (every call held a few seconds,
Gemini refusing every call), then shows each table orbit has: ``summary``,
``cost_table``, ``prices``, ``history``, ``side_by_side``, ``jobs``, ``%orbit
cache stats`` and ``%orbit config``, and a progress bar left standing. The
checks read the rendered page (geometry and computed styles, not the HTML
string): each display is visible inside its output area and fits it or scrolls
sideways; a compact table draws each row on one line; numbers read as dollars,
seconds and counts, never ``1e-05``; text columns are left-aligned; every text
is readable in JupyterLab Light and Dark.
Screenshots of each display, light and dark, land in ``tests/artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from browser import (
    NotebookPage,
    chromium_browser,
    close_notebook,
    geometry,
    jupyter_lab,
    low_contrast,
    luminance,
    open_notebook,
    scrolls_horizontally,
    text_colours,
)
from llmock.scenarios import Delay, Fail, Match, Reply
from llmock.testing import LLMockServer
from playwright.sync_api import Locator

from conftest import mock_env

pytestmark = pytest.mark.timeout(300)  # the first test also starts the server and browser

PROMPTS = {"tcp": "Explain TCP slow start.", "haiku": "Write a haiku about caching."}
MODELS = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash"]
CALLS = len(PROMPTS) * len(MODELS)
DELAY = 2.5  # seconds LLMock holds each answer: the run shows its progress bar
GEMINI_REFUSAL = "this model is not served in your region"
LONG_LINE = (
    "Slow start opens the congestion window at a few segments and doubles it every "
    "round trip, so a new connection finds the bandwidth it can use within a handful "
    "of round trips, and it stops doubling at the first loss or once the window "
    "reaches the slow start threshold, where congestion avoidance takes over."
)
OPENAI_ANSWER = f"Short answer: it doubles.\n\n{LONG_LINE}\nLast line."
ANTHROPIC_ANSWER = "Cached once,\nserved a thousand times:\nthe disk remembers."
SLOW_MODEL = "gpt-4.1-nano"  # its background run is cancelled while LLMock holds it

DISPLAYS = {
    "summary": "orbit_nb.summary(df)",
    "cost_table": "orbit_nb.cost_table(df)",
    "prices": "orbit_nb.prices()",
    "history": "orbit_nb.history()",
    "side_by_side": "orbit_nb.side_by_side(df)",
    "jobs": "orbit_nb.jobs()",
    "cache_stats": "%orbit cache stats",
    "config": "%orbit config",
}
CELLS = [
    "import orbit_nb\n%load_ext orbit_nb",
    f"prompts = {PROMPTS!r}\nmodels = {MODELS!r}",
    "df = orbit_nb.compare(prompts, models)",
    # A refused run and a cancelled one, for jobs() to show their states.
    "try:\n"
    '    orbit_nb.compare("Too dear.", "openai:gpt-4o", budget=1e-9)\n'
    "except orbit_nb.errors.BudgetError as exc:\n"
    '    print("refused:", exc)',
    f"%%orbit --background -m openai:{SLOW_MODEL} --no-cache -o slow\nTake your time.",
    "%orbit cancel slow\n_ = orbit_nb.jobs()[-1].wait()",
    *DISPLAYS.values(),
    # The bar a run shows, left standing (at the compare run's end) to be measured.
    "from orbit_nb.progress import NotebookProgress\n"
    "_ = NotebookProgress(orbit_nb.jobs()[0], show_after=0)",
]
COMPARE = 2
CELL = {name: CELLS.index(source) for name, source in DISPLAYS.items()}
PROGRESS = len(CELLS) - 1

ROOT = ".jp-OutputArea-output > div.orbit-nb"  # one root per display
BAR = ".orbit-nb-progress"
WIDGET = "application/vnd.jupyter.widget-view+json"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}

SCIENTIFIC = re.compile(r"\d[eE][-+]?\d")
DASH = "\N{EN DASH}"  # what NA reads as
_THOUSANDS = r"\d{1,3}(?:,\d{3})*"
DOLLARS = re.compile(rf"^(?:{DASH}|-?\${_THOUSANDS}\.\d{{2,8}}|<\$0\.0{{7}}1)$")
SECONDS = re.compile(rf"^(?:{DASH}|{_THOUSANDS}\.\d\d)$")
COUNT = re.compile(rf"^(?:{DASH}|{_THOUSANDS})$")
NUMBER = re.compile(rf"^(?:{DASH}|-?\$?{_THOUSANDS}(?:\.\d+)?%?|<\$0\.\d+)$")
# A cell that reads as a number, a date, a flag or NA: anything else is text.
NOT_TEXT = re.compile(rf"{NUMBER.pattern}|^(?:yes|no|\d{{4}}-\d\d-\d\d(?: \d\d:\d\d:\d\d)?)$")
ID_HEADERS = {"run id"}  # hex ids, where "3e5" is no number

# The compact column set each table shows by default, units in the headers.
HEADERS = {
    "summary": [
        "model spec",
        "calls",
        "ok",
        "errors",
        "latency p50 (s)",
        "latency p95 (s)",
        "output tokens per call",
        "cost per call ($)",
        "cost ($)",
    ],
    "cost_table": [
        "model spec",
        "calls",
        "input tokens",
        "output tokens",
        "spent ($)",
        "saved ($)",
        "cost per 1k calls ($)",
    ],
    "prices": [
        "model",
        "provider",
        "input ($/MTok)",
        "output ($/MTok)",
        "cached input ($/MTok)",
        "cache write ($/MTok)",
        "source",
        "overridden",
    ],
    "history": [
        "",
        "started at",
        "run id",
        "prompt id",
        "model spec",
        "status",
        "latency (s)",
        "input tokens",
        "output tokens",
        "cost ($)",
        "cached",
        "content",
    ],
    "side_by_side": ["prompt id", "prompt", *MODELS],
    "jobs": ["run id", "state", "calls", "answered", "ok", "errors", "wall (s)", "spent ($)"],
    "cache_stats": ["statistic", "value"],
    "config": ["setting", "value"],
}
NUMBERS_ONLY = {"summary", "cost_table"}  # no text column but the row labels
JOB_STATES = {"running", "done", "cancelled", "interrupted", "refused"}


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def displays_llmock() -> Iterator[LLMockServer]:
    """LLMock holding every answer a few seconds, Gemini failing every call."""
    with LLMockServer() as server:
        server.state.scenarios.add(
            Fail(400, message=GEMINI_REFUSAL, times=None, match=Match(provider="gemini")),
            Delay(60.0, times=None, match=Match(model=SLOW_MODEL)),
            Delay(DELAY, times=None),
            Reply(text=OPENAI_ANSWER, times=None, match=Match(provider="openai")),
            Reply(text=ANTHROPIC_ANSWER, times=None, match=Match(provider="anthropic")),
        )
        yield server


@dataclass
class Shown:
    """The notebook after its run in JupyterLab."""

    notebook: NotebookPage
    outputs: list[list[dict[str, Any]]]
    compare_outputs: list[list[list[str]]]  # the compare cell's outputs' mime types
    bars: list[dict[str, Any]]  # the progress bar as the compare cell drew it

    def root(self, name: str) -> Locator:
        roots = self.notebook.cell(CELL[name]).locator(ROOT)
        assert roots.count() == 1, f"{roots.count()} displays in the {name} cell"
        return roots.first

    def table(self, name: str) -> Table:
        return Table.of(self.root(name).locator("table"))


# Notes the progress bar each time the compare cell's DOM changes: its box, inside
# the output area or not, and its text: what the page drew, seen without polling it.
_RECORD_BARS = f"""index => {{
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  window.__orbit_bars = [];
  const look = () => {{
    const bar = cell.node.querySelector('{BAR}');
    if (!bar) return;
    const r = bar.getBoundingClientRect(), area = bar.closest('.jp-OutputArea');
    const a = area.getBoundingClientRect();
    const seen = {{width: r.width, height: r.height, text: bar.innerText.trim(),
                  inside: r.left >= a.left - 1 && r.right <= a.right + 1}};
    const last = window.__orbit_bars[window.__orbit_bars.length - 1];
    if (!last || JSON.stringify(last) !== JSON.stringify(seen)) window.__orbit_bars.push(seen);
  }};
  new MutationObserver(look).observe(cell.node, {{subtree: true, childList: true,
                                                 characterData: true, attributes: true}});
}}"""


@pytest.fixture(scope="module")
def shown(
    displays_llmock: LLMockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shown]:
    """The notebook run to the end in JupyterLab, on a server and browser of its own."""
    home, root = tmp_path_factory.mktemp("jupyter-home"), tmp_path_factory.mktemp("notebooks")
    with (
        jupyter_lab(mock_env(displays_llmock), home, root) as jupyter,
        chromium_browser() as browser,
    ):
        notebook = open_notebook(browser, jupyter, "lab", "displays.ipynb", CELLS)
        try:
            notebook.record_outputs(COMPARE)
            notebook.page.evaluate(_RECORD_BARS, COMPARE)
            outputs = notebook.run_all()
            notebook.cell(PROGRESS).locator(BAR).wait_for(timeout=60_000)
            bars = notebook.page.evaluate("window.__orbit_bars")
            yield Shown(notebook, outputs, notebook.recorded_outputs(), bars)
        finally:
            close_notebook(notebook)


# -- reading tables ------------------------------------------------------------------------

# Each header and body cell of a table as drawn: text, alignment, white-space, font
# size and the height of its text (one line is under twice the font size). Off
# screen, a cell's contents are not rendered (content-visibility) and read empty: the
# table is scrolled to and read once drawn.
_CELLS = """async table => {
  table.scrollIntoView({block: 'nearest'});
  for (let i = 0; i < 300 && !table.innerText.trim(); i++) {
    await new Promise(done => requestAnimationFrame(done));
  }
  const cell = c => {
    const s = getComputedStyle(c), text = document.createRange();
    text.selectNodeContents(c);
    return {text: c.innerText.trim(), align: s.textAlign, whiteSpace: s.whiteSpace,
            span: c.colSpan, tag: c.tagName, font: parseFloat(s.fontSize),
            textHeight: text.getBoundingClientRect().height};
  };
  const rows = section => [...section.rows].map(r => [...r.cells].map(cell));
  return {head: rows(table.tHead), body: rows(table.tBodies[0])};
}"""


@dataclass
class Table:
    """A drawn table: its header row and its body rows (the left-out middle skipped),
    each cell as ``{text, align, whiteSpace, span, tag, font, textHeight}``; column 0 holds
    the row labels."""

    head: list[dict[str, Any]]
    body: list[list[dict[str, Any]]]

    @classmethod
    def of(cls, locator: Locator) -> Table:
        assert locator.count() == 1, f"{locator.count()} tables"
        drawn = locator.first.evaluate(_CELLS)
        assert len(drawn["head"]) == 1, drawn["head"]
        rows = [row for row in drawn["body"] if all(c["span"] == 1 for c in row)]
        return cls(drawn["head"][0], rows)

    @property
    def headers(self) -> list[str]:
        return [c["text"] for c in self.head]

    def column(self, header: str) -> list[str]:
        return [row[self.headers.index(header)]["text"] for row in self.body]

    def row(self, label: str) -> dict[str, str]:
        """The row whose label is ``label``, by header."""
        rows = [r for r in self.body if r[0]["text"] == label]
        assert len(rows) == 1, (label, [r[0]["text"] for r in self.body])
        return {h: c["text"] for h, c in zip(self.headers, rows[0], strict=True)}

    def is_text(self, index: int) -> bool:
        return any(not NOT_TEXT.match(row[index]["text"]) for row in self.body)

    def is_numbers(self, index: int) -> bool:
        cells = [row[index]["text"] for row in self.body]
        return all(NUMBER.match(c) for c in cells) and any(c != DASH for c in cells)


# -- the checks ------------------------------------------------------------------------------


def test_progress_shows_while_compare_runs_then_gives_way(shown: Shown) -> None:
    history = shown.compare_outputs
    assert any(WIDGET in t for types in history for t in types), f"no bar was shown: {history}"
    assert not any(WIDGET in t for t in history[-1]), history
    assert shown.notebook.cell(COMPARE).locator(BAR).count() == 0
    # Where the page drew the live bar before the run ended (on a busy machine it may
    # not have), it sat inside the output area and counted the calls.
    drawn = [b for b in shown.bars if b["width"] > 0 and b["height"] > 0]
    assert all(b["inside"] for b in drawn), drawn
    assert all(re.search(rf"\d/{CALLS} calls", b["text"]) for b in drawn if b["text"]), drawn
    final = "".join(
        "".join(out.get("data", {}).get("text/plain", ""))
        for out in shown.outputs[COMPARE]
        if out["output_type"] in ("display_data", "execute_result")
    )
    assert final.startswith(f"done: {CALLS}/{CALLS} calls"), final
    assert f" {len(PROMPTS)} errors " in final, final
    assert not SCIENTIFIC.search(final), final


def test_standing_progress_bar_fits_its_output(shown: Shown) -> None:
    bar = shown.notebook.cell(PROGRESS).locator(BAR)
    assert bar.is_visible()
    box = geometry(bar)
    own, seen, area = box["own"], box["seen"], box["area"]
    assert own["width"] > 100 and own["height"] > 5, own
    assert seen["width"] >= own["width"] - 1 and seen["height"] >= own["height"] - 1, box
    assert own["left"] >= area["left"] - 1 and own["right"] <= area["right"] + 1, box
    text = bar.inner_text()
    assert f"{CALLS}/{CALLS} calls" in text and f"{len(PROMPTS)} errors" in text, text
    assert not SCIENTIFIC.search(text), text


@pytest.mark.parametrize("name", DISPLAYS)
def test_display_is_visible_inside_its_output(shown: Shown, name: str) -> None:
    root = shown.root(name)
    assert root.is_visible()
    box = geometry(root)
    own, seen, area = box["own"], box["seen"], box["area"]
    assert own["width"] > 100 and own["height"] > 20, (name, own)
    # Nothing of it is cut off sideways, and it lies inside the cell's output area.
    assert seen["width"] >= own["width"] - 1, (name, box)
    assert own["left"] >= area["left"] - 1 and own["right"] <= area["right"] + 1, (name, box)
    assert own["top"] >= area["top"] - 1 and own["bottom"] <= area["bottom"] + 1, (name, box)
    table = root.locator("table")
    width = geometry(table)["own"]["width"]
    assert width <= area["width"] + 1 or scrolls_horizontally(table), (name, width, area)


@pytest.mark.parametrize("name", DISPLAYS)
def test_compact_columns_with_units_in_headers(shown: Shown, name: str) -> None:
    assert shown.table(name).headers == HEADERS[name]


@pytest.mark.parametrize("name", DISPLAYS)
def test_numbers_read_as_dollars_seconds_and_counts(shown: Shown, name: str) -> None:
    table = shown.table(name)
    for i, header in enumerate(table.headers):
        cells = [row[i]["text"] for row in table.body]
        if header not in ID_HEADERS:
            assert not [c for c in cells if SCIENTIFIC.search(c)], (name, header, cells)
        if "($" in header:
            assert all(DOLLARS.match(c) for c in cells), (name, header, cells)
        elif header.endswith("(s)"):
            assert all(SECONDS.match(c) for c in cells), (name, header, cells)
        elif "tokens" in header or header in ("calls", "ok", "errors", "answered"):
            assert all(COUNT.match(c) for c in cells), (name, header, cells)
    notes = " ".join(shown.root(name).locator(".orbit-nb-note").all_text_contents())
    assert not SCIENTIFIC.search(notes), (name, notes)


@pytest.mark.parametrize("name", DISPLAYS)
def test_text_columns_are_left_aligned_and_numbers_right(shown: Shown, name: str) -> None:
    table = shown.table(name)
    assert table.head[0]["align"] in ("left", "start"), (name, table.head[0])
    labels = {row[0]["align"] for row in table.body}
    assert labels <= {"left", "start"}, (name, "row labels", labels)
    text = [i for i in range(1, len(table.head)) if table.is_text(i)]
    assert bool(text) == (name not in NUMBERS_ONLY), (name, table.headers, text)
    for i in text:
        aligned = {table.head[i]["align"]} | {row[i]["align"] for row in table.body}
        assert aligned <= {"left", "start"}, (name, table.headers[i], aligned)
    for i in range(1, len(table.head)):
        if table.is_numbers(i):
            aligned = {table.head[i]["align"]} | {row[i]["align"] for row in table.body}
            assert aligned <= {"right", "end"}, (name, table.headers[i], aligned)


@pytest.mark.parametrize("name", [name for name in DISPLAYS if name != "side_by_side"])
def test_compact_tables_draw_each_row_on_one_line(shown: Shown, name: str) -> None:
    """A compact table's text is cut short, never wrapped: model specs stay whole and
    rows stay one line high; a table wider than its output scrolls sideways instead."""
    table = shown.table(name)
    cells = [
        (row[0]["text"], head["text"], c)
        for row in table.body
        for head, c in zip(table.head, row, strict=True)
    ]
    cells += [("(header)", c["text"], c) for c in table.head]
    wrapped = [
        (label, header, c["text"], round(c["textHeight"]))
        for label, header, c in cells
        if c["textHeight"] >= 2 * c["font"]
    ]
    assert wrapped == [], (name, wrapped)


def test_failed_model_counts_errors_and_shows_na_as_dash(shown: Shown) -> None:
    summary = shown.table("summary").row("gemini:gemini-2.5-flash")
    assert (summary["calls"], summary["ok"], summary["errors"]) == ("2", "0", "2"), summary
    for header in ("latency p50 (s)", "output tokens per call", "cost per call ($)", "cost ($)"):
        assert summary[header] == DASH, summary
    answered = shown.table("summary").row("openai:gpt-4o-mini")
    assert answered["errors"] == "0" and answered["cost ($)"] != DASH, answered
    assert float(answered["latency p50 (s)"]) >= DELAY - 0.5, answered
    costs = shown.table("cost_table").row("gemini:gemini-2.5-flash")
    assert costs["input tokens"] == costs["output tokens"] == DASH, costs
    assert costs["spent ($)"] == "$0.00" and costs["cost per 1k calls ($)"] == DASH, costs
    assert shown.table("cost_table").row("total")["calls"] == str(CALLS)


def test_side_by_side_shows_whole_answers_wrapped_with_their_line_breaks(shown: Shown) -> None:
    root = shown.root("side_by_side")
    table = shown.table("side_by_side")
    assert [row[0]["text"] for row in table.body] == list(PROMPTS)
    assert table.column("prompt") == list(PROMPTS.values())
    assert table.column("anthropic:claude-haiku-4-5") == [ANTHROPIC_ANSWER] * len(PROMPTS)
    assert table.column("openai:gpt-4o-mini") == [OPENAI_ANSWER] * len(PROMPTS)
    for text in table.column("gemini:gemini-2.5-flash"):
        assert text.startswith("[bad_request] ") and GEMINI_REFUSAL in text, text
    for row in table.body:
        assert {c["whiteSpace"] for c in row[1:]} <= {"pre-wrap", "pre-line", "break-spaces"}, row
    column = table.headers.index("openai:gpt-4o-mini") + 1  # nth-child counts from 1
    cell = root.locator(f"tbody > tr:first-child > td:nth-child({column})")
    box = geometry(cell)["own"]
    font = float(cell.evaluate("el => parseFloat(getComputedStyle(el).fontSize)"))
    # Four lines of text and a blank one, the long line wrapped over several more.
    assert box["height"] > 7 * font, (box, font)
    assert box["width"] < geometry(root)["area"]["width"], box


def test_jobs_read_their_states(shown: Shown) -> None:
    states = shown.table("jobs").column("state")
    assert set(states) <= JOB_STATES, states
    assert {"done", "refused", "cancelled"} <= set(states), states


def test_cache_stats_and_config_read_plainly(shown: Shown) -> None:
    stats = shown.table("cache_stats")
    assert stats.row("backend")["value"] == "disk"
    assert int(stats.row("misses")["value"]) >= CALLS, stats.body
    assert COUNT.match(stats.row("bytes")["value"]), stats.row("bytes")
    config = shown.table("config")
    assert config.row("system")["value"] == DASH
    assert "anthropic:" in config.row("default_models")["value"], config.body


def _shades_of(theme: str, luminances: set[float]) -> bool:
    """Whether every background luminance is one of ``theme``'s: dark, or light."""
    return max(luminances) < 0.2 if theme == "dark" else min(luminances) > 0.5


@pytest.mark.parametrize("theme", THEMES)
def test_every_text_is_readable(shown: Shown, theme: str) -> None:
    notebook = shown.notebook
    notebook.set_theme(THEMES[theme])
    try:
        roots = {name: shown.root(name) for name in DISPLAYS}
        roots["progress"] = notebook.cell(PROGRESS).locator(BAR)
        problems, backgrounds = {}, {}
        for name, root in roots.items():
            root.scroll_into_view_if_needed()
            notebook.screenshot(f"displays-{name}-{theme}", root)
            problems[name] = low_contrast(root)
            backgrounds[name] = {round(luminance(c["bg"]), 2) for c in text_colours(root)}
        assert {name: found for name, found in problems.items() if found} == {}
        # Each display follows the theme: its texts sit on light, or on dark, colours.
        off = {n: b for n, b in backgrounds.items() if not b or not _shades_of(theme, b)}
        assert off == {}
    finally:
        notebook.set_theme(THEMES["light"])  # the theme is a user setting the UIs share
