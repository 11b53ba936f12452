"""The result view: one aligned grid of answers, prompts as rows and models as columns.

Used by ``%%orbit``, by a finished run's display, and by ``orbit_nb.show(df)``;
a streamed run's live cards (:mod:`orbit_nb.notebook.live`) use its grid and
head too.
Each cell is a card: the answer (Markdown, sanitized; height capped with a
Show all toggle), a footer with latency, tokens, cost and badges (cached,
attempts, fastest, cheapest), or the error. Repeats are all reachable: the
first sample shows, the others fold out under it. Above the grid, the run's
counts, wall time, spend and cache savings; below it, the usage and cost table.
Big runs are summarised: at most ``max_prompts`` prompt rows are drawn (by
default 20, fewer when repeats would put more than 150 answers on the page).
"""

from __future__ import annotations

import html
import itertools
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import formats
from ..style import scoped
from ..table import TABLE_CSS
from . import markdown

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CSS",
    "MAX_PROMPTS",
    "Comparison",
    "answer_line",
    "card_body",
    "costs_html",
    "grid_html",
    "head_html",
    "more_html",
    "one_line",
    "prompt_rows",
    "show",
]

#: Prompt rows drawn by default; the rest are counted and left in the DataFrame.
MAX_PROMPTS = 20
_MAX_SAMPLES = 150  # answers drawn by default: with repeats, fewer prompt rows
_ANSWER_CHARS = 3000  # longer answers are cut in the view (never in the frame)
_PROMPT_CHARS = 400
_CAP_LINES = 12  # answers longer than this get a Show all toggle
_TEXT_ANSWER = 100  # characters of each answer in the plain-text fallback
_ids = itertools.count()


def _min_width(models: int) -> int:
    """Ems the grid needs: a prompt column and at least 18 em per model; wider scrolls."""
    return 12 + 18 * models


_FIELDS = (
    "prompt_id", "prompt", "model_spec", "repeat", "status", "content", "error_type",
    "error_message", "input_tokens", "output_tokens", "latency_s", "cost_usd", "cached",
    "attempts",
)  # fmt: skip

_CSS = """
.orbit-nb .orbit-nb-head{margin:2px 0 8px}
.orbit-nb .orbit-nb-title{font-weight:600}
.orbit-nb .orbit-nb-stats{color:var(--orbit-nb-muted)}
.orbit-nb .orbit-nb-scroll{overflow-x:auto;max-width:100%}
.orbit-nb table.orbit-nb-grid{border-collapse:separate;border-spacing:6px;margin:0 -6px;
 table-layout:fixed;width:100%;max-width:none}
.orbit-nb table.orbit-nb-grid>*>tr,.orbit-nb table.orbit-nb-grid>*>tr:hover{background:none}
.orbit-nb table.orbit-nb-grid>*>tr>th,.orbit-nb table.orbit-nb-grid>*>tr>td{text-align:left;
 vertical-align:top;padding:0;border:none;background:none;white-space:normal}
.orbit-nb th.orbit-nb-model{font-weight:600;padding:2px 4px;overflow-wrap:anywhere}
.orbit-nb th.orbit-nb-prompt{width:12em;font-weight:normal;padding:6px 4px 0 0;
 overflow-wrap:anywhere}
.orbit-nb .orbit-nb-pid{font-weight:600}
.orbit-nb .orbit-nb-ptext{color:var(--orbit-nb-muted);font-size:92%;white-space:pre-wrap}
.orbit-nb .orbit-nb-card{border:1px solid var(--orbit-nb-line);border-radius:6px;
 background:var(--orbit-nb-card);padding:6px 10px;box-sizing:border-box;overflow:hidden}
.orbit-nb .orbit-nb-sample+.orbit-nb-sample,.orbit-nb details.orbit-nb-samples{
 border-top:1px dashed var(--orbit-nb-line);margin-top:6px;padding-top:4px}
.orbit-nb .orbit-nb-answer{overflow-wrap:anywhere;color:var(--orbit-nb-fg)}
.orbit-nb .orbit-nb-answer>:first-child{margin-top:0}
.orbit-nb .orbit-nb-answer>:last-child{margin-bottom:0}
.orbit-nb .orbit-nb-answer h1,.orbit-nb .orbit-nb-answer h2,.orbit-nb .orbit-nb-answer h3,
.orbit-nb .orbit-nb-answer h4{font-size:105%;font-weight:700;margin:.6em 0 .3em;line-height:1.3}
.orbit-nb .orbit-nb-answer p,.orbit-nb .orbit-nb-answer ul,.orbit-nb .orbit-nb-answer ol,
.orbit-nb .orbit-nb-answer pre{margin:.35em 0}
.orbit-nb .orbit-nb-answer ul,.orbit-nb .orbit-nb-answer ol{padding-left:1.4em}
.orbit-nb .orbit-nb-answer pre{background:var(--orbit-nb-raised);padding:6px 8px;
 border-radius:4px;overflow-x:auto}
.orbit-nb .orbit-nb-answer pre,.orbit-nb .orbit-nb-answer pre code{white-space:pre;
 overflow-wrap:normal;word-break:normal}
.orbit-nb .orbit-nb-answer code{font-family:var(--jp-code-font-family,monospace);font-size:92%}
.orbit-nb .orbit-nb-answer table{border-collapse:collapse;margin:.35em 0}
.orbit-nb .orbit-nb-answer th,.orbit-nb .orbit-nb-answer td{border:1px solid var(--orbit-nb-line);
 padding:2px 6px}
.orbit-nb .orbit-nb-answer a{color:var(--orbit-nb-info)}
.orbit-nb .orbit-nb-capped{max-height:18em;overflow:auto}
.orbit-nb .orbit-nb-toggle{position:absolute;opacity:0;width:1px;height:1px;margin:0}
.orbit-nb .orbit-nb-toggle:checked+.orbit-nb-capped{max-height:none}
.orbit-nb .orbit-nb-expand{display:inline-block;cursor:pointer;color:var(--orbit-nb-info);
 font-size:90%;margin-top:2px}
.orbit-nb .orbit-nb-expand::after{content:"Show all"}
.orbit-nb .orbit-nb-toggle:checked~.orbit-nb-expand::after{content:"Show less"}
.orbit-nb .orbit-nb-toggle:focus-visible~.orbit-nb-expand{outline:2px solid var(--orbit-nb-info)}
.orbit-nb .orbit-nb-error{color:var(--orbit-nb-err);white-space:pre-wrap;overflow-wrap:anywhere}
.orbit-nb .orbit-nb-foot{color:var(--orbit-nb-muted);font-size:88%;margin-top:6px;
 font-variant-numeric:tabular-nums}
.orbit-nb .orbit-nb-foot .orbit-nb-badge{margin:2px 4px 0 0}
.orbit-nb details.orbit-nb-samples>summary{cursor:pointer;color:var(--orbit-nb-info);font-size:90%}
.orbit-nb .orbit-nb-label{font-weight:600;color:var(--orbit-nb-muted);font-size:88%}
.orbit-nb .orbit-nb-more{margin:8px 0;color:var(--orbit-nb-muted)}
.orbit-nb .orbit-nb-costs h4{margin:12px 0 4px;font-size:100%}
"""


#: Every rule the view's pieces need (cards, answers, the costs table), all under
#: ``.orbit-nb``: what a display drawing them inside its own root carries.
CSS = _CSS + TABLE_CSS


@dataclass(frozen=True)
class _Call:
    """One row of the frame, as the view reads it."""

    values: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        value = self.values[name]
        return None if formats.is_missing(value) else value

    @property
    def ok(self) -> bool:
        return bool(self["status"] == "ok")


def _calls(df: pd.DataFrame) -> list[_Call]:
    """The rows, read column by column (4x faster than ``to_dict("records")``)."""
    present = [c for c in _FIELDS if c in df.columns]
    columns = [df[c].tolist() for c in present]
    return [_Call(dict(zip(present, values, strict=True))) for values in zip(*columns, strict=True)]


def _grid(
    calls: Sequence[_Call],
) -> tuple[list[str], list[str], dict[tuple[str, str], list[_Call]]]:
    """Prompt ids and models in first-seen order, and each cell's samples by repeat."""
    prompts: dict[str, None] = {}
    models: dict[str, None] = {}
    cells: dict[tuple[str, str], list[_Call]] = {}
    for call in calls:
        pid, model = str(call["prompt_id"]), str(call["model_spec"])
        prompts.setdefault(pid)
        models.setdefault(model)
        cells.setdefault((pid, model), []).append(call)
    for samples in cells.values():
        samples.sort(key=lambda c: c["repeat"] or 0)
    return list(prompts), list(models), cells


def _best(cells: Mapping[str, list[_Call]], field: str) -> str | None:
    """The model whose ok answers have the lowest median ``field``, if it stands out."""
    scores = {}
    for model, samples in cells.items():
        values = [c[field] for c in samples if c.ok and c[field] is not None]
        if values:
            scores[model] = statistics.median(values)
    if len(scores) < 2:
        return None
    ranked = sorted(scores.items(), key=lambda kv: kv[1])
    return ranked[0][0] if ranked[0][1] < ranked[1][1] else None


def _badge(text: str, kind: str = "") -> str:
    css = f"orbit-nb-badge orbit-nb-badge-{kind}" if kind else "orbit-nb-badge"
    return f"<span class='{css}'>{html.escape(text)}</span>"


def _usage(call: _Call) -> list[str]:
    parts = []
    if call["latency_s"] is not None:
        parts.append(formats.seconds(call["latency_s"]))
    if call["input_tokens"] is not None or call["output_tokens"] is not None:
        parts.append(
            f"{formats.tokens(call['input_tokens'])}→{formats.tokens(call['output_tokens'])} tok"
        )
    if call.ok:
        parts.append(formats.usd(call["cost_usd"]) if call["cost_usd"] is not None else "no price")
    return parts


def _foot(call: _Call, marks: Sequence[str]) -> str:
    badges = [_badge(m, m) for m in marks]
    if call["cached"]:
        badges.append(_badge("cached", "cached"))
    attempts = call["attempts"] or 0
    if attempts > 1:
        badges.append(_badge(f"{attempts} attempts", "retried"))
    text = html.escape(" · ".join(_usage(call)))
    return f"<div class='orbit-nb-foot'>{text} {''.join(badges)}</div>"


def _answer(call: _Call) -> str:
    if call.ok:
        text = str(call["content"] or "")
        cut = len(text) > _ANSWER_CHARS
        body = markdown.render(text[:_ANSWER_CHARS]) if text.strip() else "<p><em>(empty)</em></p>"
        if cut:
            more = (
                f"… {len(text) - _ANSWER_CHARS:,} more characters: the full answer is in the frame"
            )
            body += f"<p><em>{html.escape(more)}</em></p>"
        long = cut or text.count("\n") >= _CAP_LINES or len(text) > 80 * _CAP_LINES
        return _capped(body) if long else f"<div class='orbit-nb-answer'>{body}</div>"
    status = str(call["status"])
    if status == "error":
        kind = str(call["error_type"] or "error")
        message = html.escape(str(call["error_message"] or ""))
        return f"{_badge(kind, 'error')}<div class='orbit-nb-error'>{message}</div>"
    message = html.escape(str(call["error_message"] or ""))
    return f"{_badge(status, status)}<div class='orbit-nb-foot'>{message}</div>"


def _capped(body: str) -> str:
    """A height-capped answer with a Show all / Show less toggle (CSS only, no script)."""
    toggle = f"orbit-nb-t{next(_ids)}"
    return (
        f"<input type='checkbox' class='orbit-nb-toggle' id='{toggle}' aria-label='show all'>"
        f"<div class='orbit-nb-answer orbit-nb-capped'>{body}</div>"
        f"<label class='orbit-nb-expand' for='{toggle}'></label>"
    )


def _sample(call: _Call, label: str, marks: Sequence[str]) -> str:
    head = f"<div class='orbit-nb-label'>{html.escape(label)}</div>" if label else ""
    return f"<div class='orbit-nb-sample'>{head}{_answer(call)}{_foot(call, marks)}</div>"


def _samples(samples: Sequence[_Call], marks: Sequence[str]) -> str:
    """A card's contents: the first sample, the others folded out under it."""
    n = len(samples)
    if n == 1:
        return _sample(samples[0], "", marks)
    first = _sample(samples[0], f"sample 1/{n}", marks)
    rest = "".join(_sample(c, f"sample {i}/{n}", ()) for i, c in enumerate(samples[1:], 2))
    ok = sum(c.ok for c in samples)
    summary = f"samples 2 to {n} of {n} ({ok}/{n} ok in all)"
    fold = f"<details class='orbit-nb-samples'><summary>{summary}</summary>{rest}</details>"
    return first + fold


def _card(samples: Sequence[_Call], marks: Sequence[str]) -> str:
    return f"<div class='orbit-nb-card'>{_samples(samples, marks)}</div>"


def card_body(samples: Sequence[Mapping[str, Any]], marks: Sequence[str] = ()) -> str:
    """The inside of one card of the view: one model's answers to one prompt (each a
    mapping of result columns, repeat order), for a display that draws its own card
    inside a root carrying :data:`CSS`. ``marks`` are badges such as ``fastest``."""
    return _samples([_Call(s) for s in samples], marks)


def _prompt_header(pid: str, prompt: str) -> str:
    """The row's prompt id, and its prompt unless the id already spells it out."""
    text = prompt if len(prompt) <= _PROMPT_CHARS else prompt[: _PROMPT_CHARS - 1] + "…"
    shown = "" if prompt in pid else f"<div class='orbit-nb-ptext'>{html.escape(text)}</div>"
    return (
        "<th class='orbit-nb-prompt' scope='row'>"
        f"<div class='orbit-nb-pid'>{html.escape(pid)}</div>{shown}</th>"
    )


def _stats(calls: Sequence[_Call], wall_s: float | None) -> str:
    statuses = [c["status"] for c in calls]
    parts = [f"{formats.count(len(calls))} calls", f"{statuses.count('ok'):,} ok"]
    parts.append(f"{statuses.count('error'):,} errors")
    for other in ("cancelled", "skipped", "pending"):
        if other in statuses:
            parts.append(f"{statuses.count(other):,} {other}")
    if wall_s is not None:
        parts.append(f"wall {formats.seconds(wall_s)}")
    spent = [c["cost_usd"] for c in calls if c.ok and not c["cached"] and c["cost_usd"] is not None]
    saved = [c["cost_usd"] for c in calls if c.ok and c["cached"] and c["cost_usd"] is not None]
    parts.append(f"spent {formats.usd(sum(spent))}")
    if saved or any(c["cached"] for c in calls):
        parts.append(f"saved by the cache {formats.usd(sum(saved))}")
    unpriced = sum(1 for c in calls if c.ok and c["cost_usd"] is None)
    if unpriced:
        parts.append(f"{unpriced:,} answers without a price")
    return " · ".join(parts)


def _wall(df: pd.DataFrame) -> float | None:
    """Seconds from the first call's start to the last answer, when the frame tells."""
    wall = df.attrs.get("wall_s")
    if isinstance(wall, int | float):
        return float(wall)
    return None


class Comparison:
    """A result DataFrame shown as the result view; ``.df`` is the frame itself.

    ``var`` names the variable that holds the frame (the view points at it when
    it leaves prompts out); ``max_prompts`` caps the prompt rows drawn (default:
    20, fewer when each row holds many samples).
    """

    def __init__(
        self,
        df: pd.DataFrame,
        title: str = "",
        *,
        var: str | None = None,
        max_prompts: int | None = None,
    ) -> None:
        self.df = df
        self.title = title
        self.var = var
        self._max_prompts = max_prompts
        self._calls: list[_Call] | None = None
        self._layout: tuple[list[str], list[str], Any, dict[str, str], str] | None = None

    def _rows_shown(self, prompts: Sequence[str], cells: Mapping[Any, list[_Call]]) -> int:
        if self._max_prompts is not None:
            return self._max_prompts
        samples = max((len(s) for s in cells.values()), default=1)
        return prompt_rows(samples * len({model for _, model in cells}))

    def calls(self) -> list[_Call]:
        """The frame's rows as the view reads them (read once; HTML and text share them)."""
        if self._calls is None:
            self._calls = _calls(self.df)
        return self._calls

    def layout(self) -> tuple[list[str], list[str], Any, dict[str, str], str]:
        """Prompts, models, cells by (prompt, model), prompt texts, and the stats line
        (worked out once; HTML and text share them)."""
        if self._layout is None:
            calls = self.calls()
            prompts, models, cells = _grid(calls)
            text = {str(c["prompt_id"]): str(c["prompt"] or "") for c in calls}
            self._layout = prompts, models, cells, text, _stats(calls, _wall(self.df))
        return self._layout

    def _where(self) -> str:
        return f"see {self.var}" if self.var else "they are in the DataFrame"

    def _rows(
        self, prompts: Iterable[str], models: Sequence[str], cells: Any, text: Mapping[str, str]
    ) -> Iterator[tuple[str, str, list[str]]]:
        for pid in prompts:
            row = {m: cells[(pid, m)] for m in models if (pid, m) in cells}
            fastest, cheapest = _best(row, "latency_s"), _best(row, "cost_usd")
            cards = []
            for model in models:
                samples = row.get(model)
                marks = [
                    m for m, best in (("fastest", fastest), ("cheapest", cheapest)) if best == model
                ]
                cards.append(_card(samples, marks) if samples else "")
            yield pid, text[pid], cards

    def _repr_html_(self) -> str:
        prompts, models, cells, text, stats = self.layout()
        shown = prompts[: self._rows_shown(prompts, cells)]
        grid = grid_html(models, self._rows(shown, models, cells, text))
        more = more_html(len(prompts) - len(shown), self._where())
        return scoped(CSS, head_html(self.title, stats) + grid + more + self._costs_html(), "view")

    def _costs_html(self) -> str:
        return costs_html(self.df)

    def __repr__(self) -> str:
        prompts, models, cells, text, stats = self.layout()
        lines = [self.title] if self.title else []
        lines.append(stats)
        rows = self._rows_shown(prompts, cells)
        for pid in prompts[:rows]:
            lines.append(f"== {pid}: {one_line(text[pid], 100)}")
            for model in models:
                samples = cells.get((pid, model), [])
                if samples:  # the first sample; the others are counted
                    more = f" (+{len(samples) - 1} more samples)" if len(samples) > 1 else ""
                    lines.append(f"-- {model}: {_text_answer(samples[0])}{more}")
        if len(prompts) > rows:
            lines.append(f"+{len(prompts) - rows:,} more prompts: {self._where()}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


def prompt_rows(per_row: int) -> int:
    """Prompt rows drawn by default when each holds ``per_row`` answers:
    :data:`MAX_PROMPTS`, fewer when that would put over 150 answers on the page."""
    return min(MAX_PROMPTS, max(1, _MAX_SAMPLES // max(per_row, 1)))


def head_html(title: str, stats: str) -> str:
    """The view's head: its title (if any) over a line of counts."""
    shown = f"<div class='orbit-nb-title'>{html.escape(title)}</div>" if title else ""
    return (
        f"<div class='orbit-nb-head'>{shown}"
        f"<div class='orbit-nb-stats'>{html.escape(stats)}</div></div>"
    )


def grid_html(models: Sequence[str], rows: Iterable[tuple[str, str, Sequence[str]]]) -> str:
    """The view's grid: a column per model and a row per prompt. Each of ``rows`` is a
    prompt's id, its text, and one card's HTML per model of ``models`` ("" for none),
    for a root carrying :data:`CSS`."""
    columns = "".join(
        f"<th class='orbit-nb-model' scope='col'>{html.escape(m)}</th>" for m in models
    )
    body = "".join(
        f"<tr>{_prompt_header(pid, prompt)}{''.join(f'<td>{card}</td>' for card in cards)}</tr>"
        for pid, prompt, cards in rows
    )
    return (
        "<div class='orbit-nb-scroll'>"
        f"<table class='orbit-nb-grid' style='min-width:{_min_width(len(models))}em'>"
        f"<thead><tr><th class='orbit-nb-prompt'></th>{columns}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def more_html(hidden: int, where: str) -> str:
    """The line under a grid that left ``hidden`` prompts out ("" for none)."""
    if hidden <= 0:
        return ""
    return f"<p class='orbit-nb-more'>+{hidden:,} more prompts: {html.escape(where)}</p>"


def answer_line(values: Mapping[str, Any]) -> str:
    """One finished call (a mapping of result columns) in one line of text, as the
    view's plain-text form shows it."""
    return _text_answer(_Call(values))


def one_line(text: str, chars: int) -> str:
    """``text`` on one line, cut to ``chars`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def _text_answer(call: _Call) -> str:
    usage = " · ".join(_usage(call))
    if call.ok:
        return f"{one_line(str(call['content'] or ''), _TEXT_ANSWER)} ({usage})"
    if call["status"] == "error":
        return f"[{call['error_type']}] {one_line(str(call['error_message'] or ''), _TEXT_ANSWER)}"
    return f"[{call['status']}]"


def costs_html(df: pd.DataFrame) -> str:
    """The view's "Usage and cost" section for a result frame (empty for no rows), for
    a display whose root carries :data:`CSS`."""
    if not len(df):
        return ""
    from ..frame import cost_table

    table = cost_table(df)
    return f"<div class='orbit-nb-costs'><h4>Usage and cost</h4>{table._table_html()}</div>"


def show(df: pd.DataFrame, *, max_prompts: int | None = None, title: str = "") -> Comparison:
    """The result view of a result DataFrame, for a notebook to display.

    Prompts as rows, models as columns, each answer rendered from Markdown (sanitized)
    with its latency, tokens and cost; at most ``max_prompts`` prompt rows (by
    default 20, fewer when repeats put many answers in each row)::

        df = orbit_nb.compare(["2+2?", "Capital of France?"], ["haiku", "gpt-4o-mini"])
        orbit_nb.show(df)
    """
    from ..frame import check_result

    check_result(df, _FIELDS, "show")
    if max_prompts is not None and (
        isinstance(max_prompts, bool) or not isinstance(max_prompts, int) or max_prompts < 1
    ):
        from ..errors import ParameterError

        raise ParameterError(f"max_prompts={max_prompts!r} must be a whole number >= 1")
    return Comparison(df, title, max_prompts=max_prompts)
