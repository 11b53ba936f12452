"""Result view size: a 300-call %%orbit result, as sent to the notebook and as drawn.

A real JupyterLab (the test suite's ``tests/browser.py``: ``jupyter lab`` on
127.0.0.1 with a private config and cache, headless Debian chromium at
1400x1000) runs a notebook whose ``%%orbit`` cell sends 100 prompts to three
models (300 calls) to LLMock (a subprocess, no added latency). From that
cell's own output it reports:

* the size of the view's ``text/html`` and of its ``text/plain`` fallback (KB),
* the height of the rendered view in px, and in screens of the 1000 px viewport,
* the prompt rows drawn (the view summarises big runs),
* the time the kernel takes to build the view's display bundle for that result
  (``orbit_nb.show(_orbit)._repr_mimebundle_()``, median of ``--repeats``).

Figures, not a pass/fail test; with ``--write`` they also go to a dated section
of ``bench/results.md``. The view's screenshot lands in
``tests/artifacts/lab-bench-view.png`` (``lab-bench-view-smoke.png`` with ``--smoke``).

    .venv/bin/python bench/result_view.py [--prompts 100] [--repeats 5] [--write]
    .venv/bin/python bench/result_view.py --smoke   # 3 prompts, 1 build; writes nothing
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import FAKE_KEYS, llmock_server, machine, parse_args, wants_write, write_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import VIEWPORT, chromium_browser, close_notebook, jupyter_lab, open_notebook

MODELS = "anthropic:claude-haiku-4-5,openai:gpt-4o-mini,gemini:gemini-2.5-flash"
CELL = 2  # the %%orbit cell
ROOT = ".jp-OutputArea-output > div.orbit-nb"
SMOKE_PROMPTS = 3

# Runs in the kernel after the %%orbit cell: how long the view's bundle takes to build.
TIMING = """
import json, statistics, time
import orbit_nb
_times = []
for _ in range({repeats}):
    _start = time.perf_counter()
    _bundle = orbit_nb.show(_orbit)._repr_mimebundle_()
    _times.append(time.perf_counter() - _start)
print(json.dumps({{"render_s": statistics.median(_times), "rows": len(_orbit),
                  "ok": int(_orbit["status"].eq("ok").sum())}}))
"""


def cells(prompts: int, repeats: int) -> list[str]:
    return [
        "%load_ext orbit_nb",
        f"prompts = [f'Question {{i}}: explain idea {{i}} briefly.' for i in range({prompts})]",
        f"%%orbit -m {MODELS} -c 100 --no-cache\n{{prompts}}",
        TIMING.format(repeats=repeats).strip(),
    ]


def providers(base: str) -> dict[str, str]:
    """Every provider sent to the LLMock at ``base``, with fake keys."""
    return FAKE_KEYS | {
        "ANTHROPIC_BASE_URL": f"{base}/anthropic",
        "OPENAI_BASE_URL": f"{base}/v1",
        "GEMINI_BASE_URL": f"{base}/gemini",
    }


def measure(prompts: int, repeats: int, shot: str) -> dict[str, Any]:
    with (
        llmock_server(latency_ms=0) as base,
        tempfile.TemporaryDirectory(prefix="orbit-bench-view-") as tmp,
        chromium_browser() as browser,
    ):
        home, root = Path(tmp, "home"), Path(tmp, "root")
        home.mkdir()
        root.mkdir()
        with jupyter_lab(providers(base), home, root) as server:
            notebook = open_notebook(browser, server, "lab", "bench.ipynb", cells(prompts, repeats))
            try:
                return _read(notebook, shot)
            finally:
                close_notebook(notebook)


def _read(notebook: Any, shot: str) -> dict[str, Any]:
    start = time.perf_counter()
    outputs = notebook.run_all()
    run_s = time.perf_counter() - start
    bundle = next(o["data"] for o in outputs[CELL] if "text/html" in o.get("data", {}))
    timing = json.loads("".join(o.get("text", "") for o in outputs[CELL + 1]))
    root = notebook.cell(CELL).locator(ROOT).first
    root.scroll_into_view_if_needed()
    height = root.evaluate("el => el.getBoundingClientRect().height")
    drawn = root.locator("th.orbit-nb-prompt[scope=row]").count()
    notebook.screenshot(shot, root)
    return {
        "html_kb": len(bundle["text/html"].encode()) / 1024,
        "text_kb": len(bundle["text/plain"].encode()) / 1024,
        "height_px": height,
        "screens": height / VIEWPORT["height"],
        "prompt_rows": drawn,
        "run_all_s": run_s,
        **timing,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=100, help="prompts (x 3 models)")
    parser.add_argument("--repeats", type=int, default=5, help="timed builds of the view")
    parser.add_argument("--write", action="store_true", help="add the figures to results.md")
    smoke = f"{SMOKE_PROMPTS} prompts, 1 build of the view"
    args = parse_args(parser, argv, smoke, prompts=SMOKE_PROMPTS, repeats=1)

    m = measure(args.prompts, args.repeats, "bench-view-smoke" if args.smoke else "bench-view")
    lines = [
        f"- machine: {machine()}; JupyterLab, chromium {VIEWPORT['width']}x{VIEWPORT['height']}",
        f"- calls: {m['rows']} ({m['ok']} ok), {args.prompts} prompts x 3 models",
        f"- text/html: {m['html_kb']:.1f} KB; text/plain fallback: {m['text_kb']:.1f} KB",
        f"- rendered height: {m['height_px']:.0f} px = {m['screens']:.1f} screens "
        f"({m['prompt_rows']} prompt rows drawn)",
        f"- view built in the kernel in {m['render_s'] * 1000:.1f} ms "
        f"(median of {args.repeats}); whole notebook ran in {m['run_all_s']:.1f} s",
    ]
    print("\n".join(lines))
    if wants_write(args):
        write_section("result view size", lines)


if __name__ == "__main__":
    main()
