"""`make demo` end to end: scripts/demo.py runs notebooks/provider_comparison.ipynb
in a real kernel against LLMock, prints a per-model summary and writes an HTML
report, which Debian's chromium then opens.

The report goes to a temporary path (``--out``), so the user's
reports/provider_comparison.html is left alone. The page is opened from a
file:// URL with every other request refused (nbconvert's template links
require.js and MathJax from a CDN; the report must not need them).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium_browser
from playwright.sync_api import Page, Route

from conftest import _PROVIDER_ENV

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
MODELS = ("anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash")
DEMO_TIMEOUT = 240  # seconds; demo.py takes about 20 s here

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")
DOLLARS = re.compile(r"-?\$[\d,]+\.\d+")
SECONDS = re.compile(r"\b\d[\d,]*\.\d+ s\b")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """scripts/demo.py's output, the report it wrote, and its working directory."""
    tmp = tmp_path_factory.mktemp("demo")
    out = tmp / "reports" / "provider_comparison.html"
    dropped = {*_PROVIDER_ENV, "ORBIT_CACHE_URL", "ORBIT_CACHE_TTL", "ORBIT_PRICES"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["TMPDIR"] = str(tmp)  # the kernel's temporary files land here
    result = subprocess.run(
        [str(PYTHON), str(ROOT / "scripts" / "demo.py"), "--out", str(out)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield result.stdout, out, tmp


@pytest.mark.timeout(DEMO_TIMEOUT + 60)
def test_demo_prints_the_summary_with_readable_numbers(demo: tuple[str, Path, Path]) -> None:
    stdout, out, cwd = demo
    assert not SCIENTIFIC.search(stdout), stdout
    report = re.search(r"^Report: (.+)$", stdout, re.MULTILINE)
    assert report and (cwd / report[1]).resolve() == out.resolve(), stdout

    rows = {line.split()[0]: line.split()[1:] for line in stdout.splitlines() if line.split()}
    for model in MODELS:
        calls, ok, *rest = rows[model]
        assert (calls, ok) == ("9", "9"), rows[model]  # 3 prompts x 3 repeats, all ok
        line = " ".join(rest)
        assert len(SECONDS.findall(line)) == 2, line  # latency p50 and p95, two decimals
        assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", t) for t in rest[4:6]), line  # tokens
        assert len(DOLLARS.findall(line)) == 2, line  # cost per call and in all
    assert re.search(r"^27 calls, [\d,]+ tokens, \$0\.\d+ in all", stdout, re.MULTILINE), stdout


def _local_only(route: Route) -> None:
    if route.request.url.startswith(("file:", "data:")):
        route.continue_()
    else:
        route.abort()


@pytest.fixture(scope="module")
def report_page(demo: tuple[str, Path, Path]) -> Iterator[Page]:
    """The report, open in headless chromium."""
    _, out, _ = demo
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.route("**/*", _local_only)
        page.goto(out.as_uri(), wait_until="load")
        yield page


@pytest.mark.timeout(DEMO_TIMEOUT + 120)
def test_report_shows_the_result_grid(report_page: Page) -> None:
    view = report_page.locator("div.orbit-nb").filter(
        has=report_page.locator("table.orbit-nb-grid")
    )
    assert view.count() == 1, report_page.content()[:2000]  # the one %%orbit cell
    view.first.scroll_into_view_if_needed()
    grid = view.first.locator("table.orbit-nb-grid")
    assert grid.is_visible()
    box = grid.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50, box
    text = view.first.inner_text()
    for model in MODELS:
        assert model in text, text
    for question in ("What is a race condition?", "Why do databases use B-trees?"):
        assert question in text, text
    assert DOLLARS.search(text) and not SCIENTIFIC.search(text), text


@pytest.mark.timeout(DEMO_TIMEOUT + 120)
def test_report_shows_the_charts(report_page: Page) -> None:
    charts = report_page.locator("img[src^='data:image/png']")
    assert charts.count() == 2, charts.count()  # latency and cost per model
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        natural = chart.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert natural[0] and natural[1] > 200 and natural[2] > 100, natural
        box = chart.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100, box


@pytest.mark.timeout(DEMO_TIMEOUT + 120)
def test_report_has_no_errors_or_warnings(report_page: Page) -> None:
    stderr = report_page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
    assert stderr.count() == 0, stderr.all_inner_texts()
    body = report_page.locator("body").inner_text()
    assert "Traceback" not in body
    assert "Demo mode (ORBIT_DEMO is set)" in body
