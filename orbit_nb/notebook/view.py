"""Rich display of a result: answers side by side per prompt, then the cost table.

:class:`Comparison` wraps a result DataFrame for the notebook's display
protocol: HTML with each model's answer, latency, tokens and cost (errors shown
in place), and a readable plain-text fallback.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Comparison", "progress_bundle"]

_NA = "n/a"
_CSS = (
    "<style>.orbit td,.orbit th{vertical-align:top;text-align:left;padding:4px 8px}"
    ".orbit .ans{white-space:pre-wrap;max-width:42em}.orbit .meta{color:#777;font-size:85%}"
    ".orbit .err{color:#b00020}.orbit .hit{color:#2e7d32}</style>"
)


def _number(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _NA
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return _NA


def _meta(row: pd.Series) -> str:
    parts = [
        f"{_number(row['latency_s'], '.2f')} s",
        f"{_number(row['input_tokens'], 'd')}→{_number(row['output_tokens'], 'd')} tok",
        f"${_number(row['cost_usd'], '.6f')}",
    ]
    if row["cached"]:
        parts.append("cached")
    if row["attempts"] and row["attempts"] > 1:
        parts.append(f"{row['attempts']} attempts")
    return " · ".join(parts)


def _answer(row: pd.Series) -> tuple[str, bool]:
    """The cell text for one call, and whether it is a failure."""
    if row["status"] == "ok":
        return str(row["content"]), False
    if row["status"] == "error":
        return f"[{row['error_type']}] {row['error_message']}", True
    return f"[{row['status']}]", True


class Comparison:
    """A result DataFrame shown as a comparison; ``.df`` is the frame itself."""

    def __init__(self, df: pd.DataFrame, title: str = "") -> None:
        self.df = df
        self.title = title

    def _groups(self) -> list[tuple[str, str, pd.DataFrame]]:
        first = self.df[self.df["repeat"] == self.df["repeat"].min()] if len(self.df) else self.df
        return [
            (str(pid), str(group["prompt"].iloc[0]), group)
            for pid, group in first.groupby("prompt_id", sort=False)
        ]

    def _costs_html(self) -> str:
        from ..frame import cost_table

        if not len(self.df):
            return ""
        return "<h4>Usage and cost</h4>" + cost_table(self.df).to_html(
            na_rep=_NA, float_format=lambda v: f"{v:.6g}"
        )

    def _repr_html_(self) -> str:
        out = [_CSS, "<div class='orbit'>"]
        if self.title:
            out.append(f"<p>{html.escape(self.title)}</p>")
        for pid, prompt, group in self._groups():
            out.append(
                f"<h4>{html.escape(pid)}: "
                f"<span class='meta'>{html.escape(prompt[:300])}</span></h4>"
            )
            out.append("<table><tr>")
            out.extend(f"<th>{html.escape(str(m))}</th>" for m in group["model_spec"])
            out.append("</tr><tr>")
            for _, row in group.iterrows():
                text, failed = _answer(row)
                css = "ans err" if failed else "ans"
                out.append(
                    f"<td><div class='{css}'>{html.escape(text)}</div>"
                    f"<div class='meta'>{html.escape(_meta(row))}</div></td>"
                )
            out.append("</tr></table>")
        out.append(self._costs_html())
        out.append("</div>")
        return "".join(out)

    def __repr__(self) -> str:
        lines = [self.title] if self.title else []
        for pid, prompt, group in self._groups():
            lines.append(f"== {pid}: {prompt[:200]}")
            for _, row in group.iterrows():
                text, _ = _answer(row)
                lines.append(f"-- {row['model_spec']} ({_meta(row)})")
                lines.extend("   " + line for line in text.splitlines() or [""])
        if len(self.df):
            from ..frame import cost_table

            lines.append("")
            lines.append(
                cost_table(self.df).to_string(na_rep=_NA, float_format=lambda v: f"{v:.6g}")
            )
        return "\n".join(lines)

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


def progress_bundle(done: int, total: int, label: str) -> dict[str, str]:
    """A progress bar as a display bundle (HTML and plain text)."""
    width = 30
    filled = width * done // max(total, 1)
    text = f"{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} calls"
    bar = (
        f"<progress value='{done}' max='{max(total, 1)}' style='width:20em'></progress> "
        f"<span>{html.escape(label)} {done}/{total} calls</span>"
    )
    return {"text/plain": text, "text/html": bar}
