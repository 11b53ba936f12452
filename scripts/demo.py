"""`make demo`: run the provider comparison notebook against LLMock, write an HTML report.

The notebook (notebooks/provider_comparison.ipynb) runs in a real Jupyter kernel
in its demo mode (ORBIT_DEMO=1): it starts LLMock, a real local HTTP server
speaking the Anthropic, OpenAI and Gemini wire formats, and points the three
providers at it, so no API key and no network are needed. The executed
notebook, with its answers, tables and charts, is written as one HTML file
(default reports/provider_comparison.html), and the per-model summary is
printed here.

    .venv/bin/python scripts/demo.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from traitlets.config import Config

from orbit_nb import formats
from orbit_nb.specs import PROVIDER_ENV

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "provider_comparison.ipynb"
DEFAULT_OUT = ROOT / "reports" / "provider_comparison.html"
CELL_TIMEOUT = 120  # seconds per cell; the whole notebook takes about 10 s
STARTUP_TIMEOUT = 120  # seconds for the kernel to start on a cold machine

# Nothing from the caller's environment may send the demo to a real API or a
# shared cache, or change its prices.
DROPPED_ENV = (*PROVIDER_ENV, "ORBIT_CACHE_URL", "ORBIT_CACHE_TTL", "ORBIT_PRICES")

# Run in the kernel after the notebook (never part of the report): the
# per-model figures of the notebook's main run, `df`, as one JSON line.
SUMMARY_CELL = """
import json as _json
_ok = df[df["status"] == "ok"]
_summary = orbit_nb.summary(df).join(
    _ok.groupby("model_spec")[["input_tokens", "output_tokens", "total_tokens"]].sum()
)
print(_json.dumps({
    "models": [{"model_spec": spec, **row} for spec, row in _summary.astype("float64").iterrows()],
    "calls": len(df),
}, default=str))
"""


def kernel_env(tmp: Path) -> dict[str, str]:
    """The kernel's environment: demo mode, with a cache and history of its own."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["ORBIT_DEMO"] = "1"
    env["ORBIT_CACHE_DIR"] = str(tmp / "orbit-cache")
    env["TMPDIR"] = str(tmp)  # the notebook's own temporary cache dir lands here too
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # charts as PNG outputs
    return env


def run_notebook(tmp: Path) -> tuple[nbformat.NotebookNode, dict[str, Any] | None, str | None]:
    """The executed notebook, the summary of its run (None if it failed) and the error."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SUMMARY_CELL.strip()))
    # The kernel talks to this process over Unix sockets in ``tmp``, not over TCP.
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(tmp / "kernel")
    client = NotebookClient(
        nb,
        config=config,
        timeout=CELL_TIMEOUT,
        startup_timeout=STARTUP_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp)}},  # the kernel's working directory
    )
    error = None
    try:
        client.execute(env=kernel_env(tmp))
    except CellExecutionError as exc:
        error = str(exc)
    summary_cell = nb.cells.pop()
    summary = None
    if error is None:
        text = "".join(o.get("text", "") for o in summary_cell.outputs if o.get("name") == "stdout")
        summary = json.loads(text.strip().splitlines()[-1])
    return nb, summary, error


def write_report(nb: nbformat.NotebookNode, out: Path) -> None:
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": "orbit_nb: provider comparison"}}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")


# Dollars, seconds and tokens read as in every orbit display.
dollars, seconds, tokens = formats.usd, formats.seconds, formats.tokens


def _missing(value: Any) -> bool:
    return formats.is_missing(value)


def summary_table(summary: dict[str, Any]) -> str:
    """The per-model summary as an aligned text table."""
    header = (
        "model",
        "calls",
        "ok",
        "latency p50",
        "latency p95",
        "input tokens",
        "output tokens",
        "cost per call",
        "total cost",
    )
    rows = [header]
    for m in summary["models"]:
        rows.append(
            (
                m["model_spec"],
                tokens(m["calls"]),
                tokens(m["ok"]),
                seconds(m["latency_p50_s"]),
                seconds(m["latency_p95_s"]),
                tokens(m["input_tokens"]),
                tokens(m["output_tokens"]),
                dollars(m["cost_per_call_usd"]),
                dollars(m["cost_usd"]),
            )
        )
    total_cost = sum(m["cost_usd"] for m in summary["models"] if not _missing(m["cost_usd"]))
    total_tokens = sum(
        m["total_tokens"] for m in summary["models"] if not _missing(m["total_tokens"])
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append("")
    lines.append(
        f"{summary['calls']:,} calls, {tokens(total_tokens)} tokens, {dollars(total_cost)} in all "
        "(LLMock's token counts at the shipped prices)"
    )
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="PATH",
        help=f"where to write the HTML report (default: {_shown(DEFAULT_OUT)})",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()

    print(f"Running {_shown(NOTEBOOK)} in a Jupyter kernel, LLMock playing the providers...")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="orbit-demo-") as tmp:
        nb, summary, error = run_notebook(Path(tmp))
    write_report(nb, out)
    if error is not None:
        print(error, file=sys.stderr)
        print(f"\nThe notebook failed; the report shows where: {_shown(out)}", file=sys.stderr)
        return 1
    assert summary is not None
    print(f"Done in {time.monotonic() - started:.1f} s.\n")
    print(f"Per model, over the notebook's main comparison ({summary['calls']:,} calls):")
    print(summary_table(summary))
    print(f"\nReport: {_shown(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
