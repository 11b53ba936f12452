"""``%%orbit`` in a real browser: JupyterLab and Notebook 7, driven by chromium.

A notebook runs a 3 models x 2 prompts ``%%orbit`` cell against LLMock, whose
Anthropic answers are hostile HTML, in each front-end: every cell runs, in the
venv's kernel, the calls all succeed, and nothing in the answers runs in the
page. A screenshot of each front-end lands in ``tests/artifacts/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import (
    UI,
    UIS,
    JupyterServer,
    chromium_browser,
    close_notebook,
    jupyter_lab,
    open_notebook,
)
from llmock.scenarios import Match, Reply
from llmock.testing import LLMockServer
from playwright.sync_api import Browser

from conftest import mock_env

pytestmark = pytest.mark.timeout(300)  # the first test also starts the server and browser

VENV = Path(__file__).resolve().parents[1] / ".venv"
MODELS = "anthropic:claude-haiku-4-5,openai:gpt-4o-mini,gemini:gemini-2.5-flash"
HOSTILE = '<img src=x onerror="window.__orbit_xss=1"> <script>window.__orbit_xss=2</script>'
CELLS = [
    "%load_ext orbit_nb",
    'topic = ["a", "b"]',
    f"%%orbit -m {MODELS} --no-cache\nExplain {{topic}}.",
    "import json, sys\n"
    "print(json.dumps([sys.prefix, len(_orbit), int(_orbit['status'].eq('ok').sum())]))",
]


@pytest.fixture(scope="module")
def view_llmock() -> Iterator[LLMockServer]:
    with LLMockServer() as server:
        server.state.scenarios.add(
            Reply(text=HOSTILE, times=None, match=Match(provider="anthropic"))
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


@pytest.mark.parametrize("ui", UIS)
def test_orbit_cell_runs_and_no_answer_runs_in_the_page(
    ui: UI, chromium: Browser, jupyter: JupyterServer
) -> None:
    notebook = open_notebook(chromium, jupyter, ui, f"smoke-{ui}.ipynb", CELLS)
    try:
        outputs = notebook.run_all()
        prefix, rows, ok = json.loads(outputs[3][0]["text"])
        assert Path(prefix) == VENV
        assert rows == ok == 6, outputs[2]
        output = notebook.cell(2).locator(".jp-OutputArea")
        assert output.locator("script, img, [onerror]").count() == 0
        assert notebook.page.evaluate("typeof window.__orbit_xss") == "undefined"
        notebook.screenshot("smoke", output)
    finally:
        close_notebook(notebook)
