"""A DataFrame that reads well: formatted numbers, units in headers, a compact column set.

The tables orbit returns (``summary``, ``cost_table``, ``prices``, ``history``,
``estimate`` ...) are :class:`Table` values: real DataFrames holding raw
numbers, whose notebook and text displays show dollars as ``$0.000297``,
seconds as ``1.23 s``, tokens as ``12,345``, a dash for NA, and by default only
the columns most people read (every column stays in the frame; selecting
columns shows those). Formatting is display-only, like pandas' ``Styler``.

A compact table draws each row on one line (text is cut at 80 characters) and
scrolls sideways when it is wider than its output; a wrapped table
(``side_by_side``) shows whole texts with their line breaks.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import formats
from .style import scoped

__all__ = [
    "TABLE_CSS",
    "Layout",
    "Table",
    "as_table",
    "display_frame",
    "header",
    "render_html",
    "table_html",
]

_TEXT_CHARS = 80  # longer text is cut in compact tables
_MAX_ROWS = 40  # rows drawn before the middle is left out

Formatter = Callable[[Any], str]


@dataclass(frozen=True)
class Layout:
    """How a table is shown: its compact columns, wrapped text, units, a note."""

    columns: tuple[str, ...] = ()  # shown by default (all when empty)
    wrap: bool = False  # show text in full, line breaks kept (side_by_side)
    units: dict[str, str] = field(default_factory=dict)  # column -> unit for its header
    note: str = ""  # a line under the table


def header(name: str, unit: str | None = None) -> str:
    """``latency_p50_s`` -> ``latency p50 (s)``; ``spent_usd`` -> ``spent ($)``."""
    for suffix, implied in (("_usd", "$"), ("_s", "s")):
        if unit is None and name.endswith(suffix):
            name, unit = name.removesuffix(suffix), implied
    words = name.replace("_", " ")
    return f"{words} ({unit})" if unit else words


def _formatter(name: str, series: pd.Series, layout: Layout) -> Formatter:
    unit = layout.units.get(name, "")
    if name.endswith("_usd") or unit.startswith("$"):
        return formats.usd
    if name.endswith("_s"):
        return lambda v: formats.seconds(v).removesuffix(" s")
    if name.endswith("_rate"):
        return formats.percent
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return lambda v: formats.NA if formats.is_missing(v) else ("yes" if v else "no")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return formats.stamp
    if pd.api.types.is_integer_dtype(dtype) or "tokens" in name:
        return formats.count
    if pd.api.types.is_float_dtype(dtype):
        return _plain_number
    return _text(layout)


def _plain_number(value: Any) -> str:
    if formats.is_missing(value):
        return formats.NA
    if float(value).is_integer():
        return formats.count(value)
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _text(layout: Layout) -> Formatter:
    def text(value: Any) -> str:
        if isinstance(value, list | tuple):
            words = ", ".join(map(str, value))
        elif formats.is_missing(value):
            return formats.NA
        else:
            words = (
                f"{value:,}"
                if isinstance(value, int) and not isinstance(value, bool)
                else str(value)
            )
        if layout.wrap or len(words) <= _TEXT_CHARS:
            return words
        return " ".join(words[: _TEXT_CHARS - 1].split()) + "…"

    return text


def display_frame(df: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """``df`` as display strings with readable headers (the compact columns when
    ``df`` still has them all)."""
    shown = list(layout.columns)
    if shown and all(c in df.columns for c in shown):
        df = df[shown]
    out = pd.DataFrame(index=df.index)
    for name in df.columns:
        series = df[name]
        out[header(str(name), layout.units.get(str(name)))] = series.map(
            _formatter(str(name), series, layout)
        ).astype(object)
    if df.index.name:  # in the header's corner, not on a row of its own
        out.columns.name = header(str(df.index.name))
        out.index.name = None
    return out


_CSS = """
.orbit-nb .orbit-nb-table-wrap{overflow-x:auto;max-width:100%}
.orbit-nb .orbit-nb-table-wrap table.orbit-nb-table{border-collapse:collapse;margin:0;
 font-variant-numeric:tabular-nums;color:var(--jp-content-font-color1,inherit)}
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table th,.orbit-nb .orbit-nb-table-wrap .orbit-nb-table td{
 padding:3px 10px;border:none;border-bottom:1px solid var(--jp-border-color2,#e0e0e0);
 text-align:right;vertical-align:top;white-space:nowrap;max-width:none}
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table>tbody>tr,
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table>tbody>tr:hover{background:none}
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table thead th{font-weight:600;
 border-bottom:1px solid var(--jp-border-color1,#bdbdbd)}
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table th.orbit-nb-corner,
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table tbody th,
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table .orbit-nb-text{text-align:left}
.orbit-nb .orbit-nb-table-wrap .orbit-nb-table tbody th{font-weight:600}
.orbit-nb .orbit-nb-table-wrap.orbit-nb-wrap .orbit-nb-table td{text-align:left;
 white-space:pre-wrap;min-width:16em;max-width:40em;overflow-wrap:anywhere}
.orbit-nb .orbit-nb-table-wrap .orbit-nb-note{margin:4px 0 0;font-size:90%;
 color:var(--orbit-nb-muted)}
"""


_TEXT_CLASS = " class='orbit-nb-text'"  # left-aligned

#: The rules a table needs inside another display's root.
TABLE_CSS = _CSS


def render_html(df: pd.DataFrame, layout: Layout) -> str:
    """The table as scoped HTML (no global CSS), at most ``_MAX_ROWS`` rows drawn."""
    return scoped(_CSS, table_html(df, layout))


def table_html(df: pd.DataFrame, layout: Layout, *, column_note: bool = True) -> str:
    """The table's HTML without a root: for a display that carries :data:`TABLE_CSS`.

    ``column_note`` says under the table when the compact columns leave some out.
    """
    shown = display_frame(df, layout)
    text: set[object] = {c for c in shown.columns if _is_text(df, c, layout)}
    corner = html.escape(str(shown.columns.name or ""))
    heads = "".join(
        f"<th scope='col'{_TEXT_CLASS if c in text else ''}>{html.escape(str(c))}</th>"
        for c in shown.columns
    )
    rows = [_row(label, values, shown.columns, text) for label, values in _drawn(shown)]
    notes = [layout.note] if layout.note else []
    if len(df) > _MAX_ROWS:
        notes.append(f"{len(df):,} rows; the middle ones are not drawn (all are in the frame)")
    if column_note and list(layout.columns) and len(shown.columns) < len(df.columns):
        notes.append(
            f"{len(shown.columns)} of {len(df.columns)} columns shown; all are in the frame"
        )
    note = "".join(f"<p class='orbit-nb-note'>{html.escape(n)}</p>" for n in notes)
    wrap = " orbit-nb-wrap" if layout.wrap else ""
    return (
        f"<div class='orbit-nb-table-wrap{wrap}'><table class='orbit-nb-table'>"
        f"<thead><tr><th class='orbit-nb-corner'>{corner}</th>{heads}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{note}</div>"
    )


def _is_text(df: pd.DataFrame, label: object, layout: Layout) -> bool:
    names = {header(str(c), layout.units.get(str(c))): c for c in df.columns}
    column = df[names[str(label)]]
    dtype = column.dtype
    return not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
    )


def _drawn(shown: pd.DataFrame) -> list[tuple[object, list[object] | None]]:
    """(row label, cell texts) of the rows drawn; ``None`` stands for the left-out middle."""
    items = [
        (label, list(values))
        for label, values in zip(shown.index, shown.values.tolist(), strict=True)
    ]
    if len(items) <= _MAX_ROWS:
        return list(items)
    half = _MAX_ROWS // 2
    return [*items[:half], ("…", None), *items[-half:]]


def _row(label: object, values: list[object] | None, columns: pd.Index, text: set[object]) -> str:
    if values is None:
        return f"<tr><th>…</th><td colspan='{len(columns)}'>…</td></tr>"
    cells = "".join(
        f"<td class='orbit-nb-text'>{html.escape(str(v))}</td>"
        if c in text
        else f"<td>{html.escape(str(v))}</td>"
        for c, v in zip(columns, values, strict=True)
    )
    return f"<tr><th scope='row'>{html.escape(str(label))}</th>{cells}</tr>"


def render_text(df: pd.DataFrame, layout: Layout) -> str:
    shown = display_frame(df, layout)
    text = shown.to_string(max_rows=_MAX_ROWS, max_colwidth=None if layout.wrap else 60)
    return f"{text}\n{layout.note}" if layout.note else text


class Table(pd.DataFrame):
    """A DataFrame whose displays are formatted (see the module doc); every
    DataFrame operation works on it and returns a formatted table too."""

    _metadata = ["_orbit_layout"]  # noqa: RUF012 (pandas reads it from the class)
    _orbit_layout: Layout

    @property
    def _constructor(self) -> Callable[..., Table]:
        return _derived

    def _layout(self) -> Layout:
        return getattr(self, "_orbit_layout", None) or Layout()

    def _repr_html_(self) -> str:
        return render_html(pd.DataFrame(self), self._layout())

    def _table_html(self) -> str:
        """The table without its own root and styles (inside another display)."""
        return table_html(pd.DataFrame(self), self._layout(), column_note=False)

    def __repr__(self) -> str:
        return render_text(pd.DataFrame(self), self._layout())


def _derived(*args: Any, **kwargs: Any) -> Table:
    return Table(*args, **kwargs)


def as_table(
    df: pd.DataFrame,
    columns: Sequence[str] = (),
    *,
    wrap: bool = False,
    units: dict[str, str] | None = None,
    note: str = "",
) -> Table:
    """``df`` as a :class:`Table` with the given layout (no data is copied)."""
    table = Table(df)
    table.attrs.update(df.attrs)
    table._orbit_layout = Layout(tuple(columns), wrap, dict(units or {}), note)
    return table
