"""Progress of a run where the caller can see it: an ipywidgets bar in a notebook,
a tqdm bar on a terminal's stderr, nothing elsewhere. A streamed run in a
notebook shows its answers growing instead: live cards laid out like the
result view (:class:`orbit_nb.notebook.live.LiveCards`).

A run that ends within about a second shows no progress at all. Updates are
throttled to about ten a second and only drawn when something changed; in a
notebook the bar is replaced by the result (or a one-line summary) when the run
ends. The line reads: done/total, per-model counts, errors so far, elapsed time
and spend so far.
"""

from __future__ import annotations

import html
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from . import formats
from .rows import FINAL

if TYPE_CHECKING:
    from .run import Run

__all__ = [
    "SHOW_AFTER",
    "NotebookProgress",
    "Progress",
    "Snapshot",
    "TerminalProgress",
    "for_caller",
    "replace_display",
]

SHOW_AFTER = 1.0  # seconds: a quicker run shows no progress
_TICK = 0.1  # seconds between redraws at most: about ten a second


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands, read from its rows."""

    done: int
    total: int
    errors: int
    per_model: tuple[tuple[str, int, int], ...]  # (model_spec, done, total)
    spent_usd: float
    elapsed_s: float
    state: str

    @classmethod
    def of(cls, job: Run) -> Snapshot:
        totals: Counter[str] = Counter()
        done: Counter[str] = Counter()
        errors, spent = 0, 0.0
        for row in job.rows:
            spec = row.request.model.spec
            totals[spec] += 1
            if row.status in FINAL:
                done[spec] += 1
            errors += row.status == "error"
            if row.status == "ok" and not row.cached and row.cost_usd is not None:
                spent += row.cost_usd
        models = tuple((m, done[m], n) for m, n in totals.items())
        return cls(sum(done.values()), job.total, errors, models, spent, job.wall_s, job.state)

    def line(self) -> str:
        """``12/27 calls · openai:gpt-4o-mini 5/9 · … · 1 error · 1.40 s · $0.0012 spent``"""
        verb = {"running": "", "cancelling": "cancelling: "}.get(self.state, f"{self.state}: ")
        parts = [f"{verb}{self.done:,}/{self.total:,} calls"]
        if len(self.per_model) > 1:
            parts.extend(f"{m} {d:,}/{n:,}" for m, d, n in self.per_model)
        parts.append(f"{self.errors:,} error{'' if self.errors == 1 else 's'}")
        parts.append(formats.seconds(self.elapsed_s))
        parts.append(f"{formats.usd(self.spent_usd)} spent")
        return " · ".join(parts)

    def same_as(self, other: Snapshot | None) -> bool:
        """Whether ``other`` draws the same (elapsed time alone redraws once a second,
        not ten times)."""
        return other is not None and (
            self.done,
            self.errors,
            self.state,
            int(self.elapsed_s),
        ) == (other.done, other.errors, other.state, int(other.elapsed_s))


class Progress(Protocol):
    def tick(self) -> None:
        """Redraw if due (throttled); safe to call often, from any thread."""

    def finish(self, result: Any = None) -> None:
        """The run ended: replace the bar by ``result`` (a displayable) or close it."""


class _Throttle:
    def __init__(self, job: Run, show_after: float) -> None:
        self.job = job
        self.show_after = show_after
        self.last_draw = 0.0
        self.last: Snapshot | None = None

    def due(self) -> Snapshot | None:
        """The run's snapshot if a redraw is due and something changed."""
        now = time.monotonic()
        if self.job.wall_s < self.show_after or now - self.last_draw < _TICK:
            return None
        snap = Snapshot.of(self.job)
        if snap.same_as(self.last):
            return None
        self.last_draw, self.last = now, snap
        return snap


class NotebookProgress:
    """An ipywidgets bar and status line in the current cell's output."""

    def __init__(self, job: Run, label: str = "", show_after: float = SHOW_AFTER) -> None:
        self._throttle = _Throttle(job, show_after)
        self._label = label
        self._handle: Any = None
        self._box: Any = None
        if show_after <= 0:
            self._draw(Snapshot.of(job))

    def _draw(self, snap: Snapshot) -> None:
        if self._box is None:
            self._create(snap)
        bar, text = self._box.children
        bar.value, bar.max = snap.done, max(snap.total, 1)
        bar.bar_style = "danger" if snap.errors else ""
        label = f"{self._label} · " if self._label else ""
        text.value = f"<span>{html.escape(label + snap.line())}</span>"

    def _create(self, snap: Snapshot) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        bar = widgets.IntProgress(value=0, min=0, max=max(snap.total, 1))
        bar.layout.width = "12em"
        text = widgets.HTML(layout=widgets.Layout(width="auto", flex="1 1 auto"))
        # The line wraps under the bar in a narrow output rather than overflowing it.
        self._box = widgets.HBox([bar, text], layout=widgets.Layout(flex_flow="row wrap"))
        self._box.add_class("orbit-nb-progress")
        self._handle = display(self._box, display_id=True)

    def tick(self) -> None:
        snap = self._throttle.due()
        if snap is not None:
            self._draw(snap)

    def finish(self, result: Any = None) -> None:
        """Replace the bar by ``result`` (a displayable, or text; by default the
        run's final status line). With no bar drawn, display ``result`` if given."""
        replace_display(self._handle, self._throttle.job, result)
        if self._box is not None:
            self._box.close()


def replace_display(handle: Any, job: Run, result: Any = None) -> None:
    """End a run's live display ``handle`` (an IPython DisplayHandle, None if nothing
    was drawn): replace it by ``result`` (a displayable, or text; by default the
    run's final status line), or with nothing drawn, display ``result`` if given."""
    from IPython.display import display

    if handle is None:
        if result is not None and result != "":
            display(result)
        return
    if result is None:
        result = Snapshot.of(job).line()
    if isinstance(result, str):
        handle.update({"text/plain": result}, raw=True)
    else:
        handle.update(result)


class TerminalProgress:
    """A tqdm bar on stderr (only used when stderr is a terminal)."""

    def __init__(self, job: Run, show_after: float = SHOW_AFTER) -> None:
        self._throttle = _Throttle(job, show_after)
        self._bar: Any = None

    def tick(self) -> None:
        snap = self._throttle.due()
        if snap is None:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=snap.total, unit="call", file=sys.stderr, leave=False)
        self._bar.update(snap.done - self._bar.n)
        self._bar.set_postfix_str(f"{snap.errors} errors, {formats.usd(snap.spent_usd)} spent")

    def finish(self, result: Any = None) -> None:
        if self._bar is not None:
            self._bar.close()


def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def for_caller(job: Run) -> Progress | None:
    """Progress for whoever waits on ``job``, made before the run is launched: in a
    kernel, live cards for a streamed run (subscribed now, so they show every piece
    of text) and a bar otherwise; a terminal bar when stderr is a TTY; else none."""
    if _in_kernel():
        if job.plan.options.stream:
            from .notebook.live import LiveCards  # the notebook's own display

            return LiveCards(job)
        return NotebookProgress(job)
    if sys.stderr is not None and sys.stderr.isatty():
        return TerminalProgress(job)
    return None
