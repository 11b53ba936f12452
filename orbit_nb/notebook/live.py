"""Live cards: a streamed run's answers growing in the cell's output.

While a streamed run goes in a notebook (``%%orbit --stream``, or
``compare(stream=True)`` in a kernel), its output is laid out like the result
view (:mod:`orbit_nb.notebook.view`): one column per model, one row per
prompt, each cell a card with a status line (``queued``, ``running``,
``streaming``, ``retrying``, ``done in 1.23 s``, ``error: type: message``) and
the answer's text so far, escaped. A card whose calls are final holds the
result view's rendering of them (Markdown, sanitized). When the run ends, the
display is replaced by the result view (or a one-line summary).

The cards are the panel's (:mod:`orbit_nb.notebook.cards`): a
:class:`~orbit_nb.notebook.cards.Board` per prompt row records the run's
events on the engine loop (a few assignments under a lock, nothing drawn
there). The thread that waits for the run draws what changed on its own
schedule: at most about ten times a second, less often for a big display,
each time as one display update carrying the HTML and a plain-text form.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..progress import SHOW_AFTER, Snapshot, replace_display
from ..style import scoped
from .cards import CARD_CSS, Board, Card, card_html
from .view import CSS as VIEW_CSS
from .view import answer_line, grid_html, head_html, more_html, one_line, prompt_rows

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["LiveCards"]

_TICK = 0.1  # seconds between draws at most: about ten a second
_HTML_PER_S = 500_000  # characters of HTML sent a second at most: big displays draw less often
_TAIL = 100  # characters of a streaming answer in the plain-text form
_LATER = "in the result once the run ends"  # where the prompts not drawn are

# The cards' status lines, coloured as in the panel. A column's header names its
# model, so a card does not repeat it.
_CSS = (
    """
.orbit-nb .orbit-nb-pcard-model{display:none}
"""
    + CARD_CSS
)


class LiveCards:
    """A streamed run's live display in the current cell's output (see the module).

    Made before the run is launched: its listener, subscribed as one that shows
    the text of the rows drawn, sees every event, and a stream in a drawn row
    that breaks after part of it was shown is not retried. The display appears
    at the first piece of text, or once the run has taken ``show_after``
    seconds; ``label`` heads it. :meth:`tick` draws what changed (throttled;
    call it often, from the thread that waits); :meth:`finish` replaces the
    display by the result.
    """

    def __init__(self, job: Run, label: str = "", show_after: float = SHOW_AFTER) -> None:
        self._job = job
        self._label = label
        self._show_after = show_after
        requests = job.plan.requests
        self._models = list(dict.fromkeys(r.model.spec for r in requests))
        prompts = {r.prompt_id: r.prompt for r in requests}  # in the plan's order
        repeat = job.plan.options.repeat
        shown = list(prompts)[: prompt_rows(len(self._models) * repeat)]
        self._prompts = {pid: prompts[pid] for pid in shown}
        self._hidden = len(prompts) - len(shown)
        self._boards = {pid: Board(self._models, repeat) for pid in shown}
        self._cards: dict[tuple[str, str], tuple[Card, str]] = {}  # and each card's HTML
        self._streaming = False  # set on the engine loop at the first piece of text
        self._handle: Any = None
        self._next_draw = 0.0
        self._drawn: Snapshot | None = None
        # Only the drawn rows' text is shown: a stream in a row not drawn is retried.
        drawn = [i for i, r in enumerate(requests) if r.prompt_id in self._boards]
        self._unsubscribe = job.events.subscribe(self._record, shows_text=True, rows=drawn)
        if show_after <= 0:  # shown at once, from the cell that made it
            self.tick()

    def _record(self, event: ev.Event) -> None:
        """The run's listener (engine loop): hand ``event`` to its row's board."""
        if isinstance(event, ev.RunFinished):
            for board in self._boards.values():
                board.record(event)
            return
        if isinstance(event, ev.RowDelta):
            self._streaming = True
        row = getattr(event, "row", None)
        mine = self._boards.get(row.request.prompt_id) if row is not None else None
        if mine is not None:  # None: a prompt row not drawn
            mine.record(event)

    def tick(self) -> None:
        """Draw what changed, if a draw is due; safe to call often."""
        now = time.monotonic()
        if now < self._next_draw:
            return
        if self._handle is None and not self._streaming and self._job.wall_s < self._show_after:
            return
        changed = self._collect()
        snap = Snapshot.of(self._job)
        if self._handle is not None and not changed and snap.same_as(self._drawn):
            return
        self._drawn = snap
        bundle = self._bundle(snap.line())
        self._next_draw = now + max(_TICK, len(bundle["text/html"]) / _HTML_PER_S)
        if self._handle is None:
            from IPython.display import display

            # IPython's display functions carry no type hints.
            self._handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self._handle.update(bundle, raw=True)

    def finish(self, result: Any = None) -> None:
        """The run ended: replace the cards by ``result`` (a displayable, or text; by
        default the run's final status line), or display ``result`` if none were drawn."""
        self._unsubscribe()
        replace_display(self._handle, self._job, result)

    def _collect(self) -> bool:
        """Take the cards that changed since the last draw; whether there were any."""
        changed = False
        for pid, board in self._boards.items():
            for card in board.changed():
                self._cards[(pid, card.spec)] = (card, card_html(card))
                changed = True
        return changed

    def _bundle(self, line: str) -> dict[str, str]:
        """The display as last collected, headed by ``line``: HTML and plain text."""
        rows = [
            (pid, prompt, [self._cards[(pid, m)][1] for m in self._models])
            for pid, prompt in self._prompts.items()
        ]
        body = head_html(self._label, line) + grid_html(self._models, rows)
        return {
            "text/plain": self._text(line),
            "text/html": scoped(VIEW_CSS + _CSS, body + more_html(self._hidden, _LATER), "live"),
        }

    def _text(self, line: str) -> str:
        lines = [f"{self._label} · {line}" if self._label else line]
        for pid, prompt in self._prompts.items():
            lines.append(f"== {pid}: {one_line(prompt, 100)}")
            lines.extend(f"-- {m}: {_card_text(self._cards[(pid, m)][0])}" for m in self._models)
        if self._hidden:
            lines.append(f"+{self._hidden:,} more prompts: {_LATER}")
        return "\n".join(lines)


def _card_text(card: Card) -> str:
    """A card in one line: its status, and the answer (the end of it while it streams)."""
    if card.kind == "done":
        return f"{card.status}: {answer_line(card.samples[0])}"
    if card.kind == "streaming" and card.live:
        flat = one_line(card.live, len(card.live))
        return f"{card.status}: {flat if len(flat) <= _TAIL else '…' + flat[-_TAIL:]}"
    return card.status
