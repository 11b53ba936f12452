"""The example notebooks run unchanged, in a real kernel, with no API key.

Each notebook's first code cell starts an in-process LLMock and points the
three providers at it when ``ORBIT_DEMO`` is set, so the kernel gets
``ORBIT_DEMO=1``, no provider key or base URL (nothing can reach a real API)
and a private cache dir. Every cell must run without an error or a warning;
a few checks appended to the executed copy (never to the file) confirm that
each notebook computed what its text says.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import _PROVIDER_ENV

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
VENV = ROOT / ".venv"
CELL_TIMEOUT = 30  # seconds per cell; a notebook takes about 5 s in all
NOTEBOOK_TIMEOUT = 60  # seconds per notebook, kernel start-up included

# Run in the notebook's kernel after its last cell, against the names it defines.
CHECKS = {
    "quickstart.ipynb": """
assert len(_orbit) == 6 and _orbit["status"].eq("ok").all(), _orbit
assert set(_orbit["prompt_id"]) == {"topic=TCP slow start", "topic=DNS caching"}
assert _orbit["prompt"].str.contains("a new backend engineer").all()
assert len(df) == 6 and df["status"].eq("ok").all(), df
""",
    "provider_comparison.ipynb": """
assert len(first_look) == 6 and first_look["status"].eq("ok").all(), first_look
assert first_look["prompt"].str.contains("B-trees").sum() == 3, first_look
assert len(df) == 27 and df["status"].eq("ok").all(), df
assert sorted(df["repeat"].unique()) == [0, 1, 2]
typo = errors["model_spec"].eq("openai:gpt-4o-mini-typo")
assert errors.loc[typo, "error_type"].tolist() == ["not_found"], errors
assert errors.loc[~typo, "status"].eq("ok").all(), errors
gemini = errors["provider"].eq("gemini")
assert errors.loc[gemini, "attempts"].tolist() == [2], errors  # the scripted 429, retried
assert HAVE_MATPLOTLIB and cost["usd_per_1k_calls"].gt(0).all(), cost
assert usd(12.4) == "$12.40" and usd(0.000297) == "$0.000297" and usd(0.05) == "$0.05"
""",
    "cost_analysis.ipynb": """
assert df["status"].eq("ok").all() and not df["cached"].any(), df
assert again["cached"].all() and again["attempts"].eq(0).all(), again
total = orbit_nb.cost_table(both).loc["total"]
assert total["spent_usd"] > 0, total
assert abs(total["saved_usd"] - total["spent_usd"]) < 1e-12, total
assert orbit_nb.cache_stats().hits == len(again)
assert not orbit_nb.prices()["overridden"].any()  # reset_prices() ran
""",
}


def kernel_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment minus provider keys and URLs, in demo mode."""
    dropped = {*_PROVIDER_ENV, "ORBIT_CACHE_URL", "ORBIT_CACHE_TTL", "ORBIT_PRICES"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["ORBIT_DEMO"] = "1"
    env["ORBIT_CACHE_DIR"] = str(tmp_path / "orbit-cache")
    env["TMPDIR"] = str(tmp_path)  # the notebook's own temporary cache dir lands here
    return env


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), name


@pytest.mark.timeout(NOTEBOOK_TIMEOUT)
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs_in_demo_mode(name: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS[name].strip()))
    # The cache and history the notebook used are this test's, not the user's.
    nb.cells.append(
        nbformat.v4.new_code_cell(
            f"assert os.environ['ORBIT_CACHE_DIR'].startswith({str(tmp_path)!r})"
        )
    )
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's cwd
    )
    python = Path(client.create_kernel_manager().format_kernel_cmd()[0])
    assert python.samefile(VENV / "bin" / "python"), python

    client.execute(env=kernel_env(tmp_path))  # raises CellExecutionError on a failing cell

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].outputs[0]["text"].startswith("Demo mode (ORBIT_DEMO is set)")
    for cell in code:
        for out in cell.outputs:
            assert out["output_type"] != "error", (cell.source, out)
            assert out.get("name") != "stderr", (cell.source, out["text"])
