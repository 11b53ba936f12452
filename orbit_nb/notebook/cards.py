"""The panel's cards: one per model, filled in from a run's events.

A :class:`Board` records what a run publishes (see :mod:`orbit_nb.events`) as
it arrives on the engine loop: a few assignments under a lock, nothing drawn
there. The drawing side asks it, on its own schedule, for the cards that
changed since it last asked (:meth:`Board.changed`), as :class:`Card`
snapshots, and draws each with :func:`card_html`.

A card shows the model, a status line (``queued``, ``running``, ``streaming``,
``retrying``, ``done in 1.23 s``, ``error: type: message``, ``cancelled``;
``2/3`` with repeats) and the answer: the streamed text so far as plain text,
then, once the model's samples are final, the result view's rendering of them
(Markdown, sanitized; see :func:`orbit_nb.notebook.view.card_body`).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import events as ev
from .. import formats
from ..rows import COLUMNS, row_values
from .view import card_body

if TYPE_CHECKING:
    from ..types import Row

__all__ = ["CARD_CSS", "LIVE_CHARS", "Board", "Card", "card_html"]

#: A card's status line and text, coloured by state: the panel's and the live cards'.
CARD_CSS = """
.orbit-nb .orbit-nb-pcard-status{font-size:88%;color:var(--orbit-nb-muted);margin:0 0 6px;
 overflow-wrap:anywhere}
.orbit-nb .orbit-nb-pcard-running,.orbit-nb .orbit-nb-pcard-streaming{color:var(--orbit-nb-info)}
.orbit-nb .orbit-nb-pcard-done{color:var(--orbit-nb-good)}
.orbit-nb .orbit-nb-pcard-error{color:var(--orbit-nb-err)}
.orbit-nb .orbit-nb-pcard-retrying,.orbit-nb .orbit-nb-pcard-cancelled,
.orbit-nb .orbit-nb-pcard-skipped,.orbit-nb .orbit-nb-pcard-unsent{color:var(--orbit-nb-warn)}
.orbit-nb .orbit-nb-pcard-live{white-space:pre-wrap;max-height:18em;overflow:auto}
.orbit-nb .orbit-nb-pcard-more{color:var(--orbit-nb-muted);font-size:88%;margin:4px 0 0}
"""

#: Characters of a streamed answer drawn while it grows (the rest are counted).
LIVE_CHARS = 3000
_MESSAGE_CHARS = 200  # of an error message in the status line


@dataclass(frozen=True)
class Card:
    """What one model's card shows at one moment.

    ``kind`` is one of queued, running, streaming, retrying, done, error,
    cancelled, skipped, unsent; ``status`` the line under the model's name;
    ``live`` the first sample's streamed text so far (at most
    :data:`LIVE_CHARS`) and ``live_chars`` its whole length; ``samples`` the
    result columns of the samples drawn as final (the first alone while others
    still run, then all of them).
    """

    spec: str
    kind: str
    status: str
    live: str = ""
    live_chars: int = 0
    samples: tuple[Mapping[str, Any], ...] = ()


@dataclass
class _Sample:
    started: bool = False
    retrying: str = ""  # why the last attempt failed, while the next one waits
    text: str = ""  # the streamed answer so far, cut at LIVE_CHARS
    chars: int = 0
    # The row's result columns, read when it finished (on the engine loop, where
    # rows are written): the drawing thread never reads a row being changed.
    values: Mapping[str, Any] | None = None

    @property
    def final(self) -> bool:
        return self.values is not None


@dataclass
class _Model:
    spec: str
    samples: list[_Sample]
    first_sent: float | None = None  # monotonic time its first call was sent
    last_done: float | None = None  # ... and its last sample became final
    version: int = 1  # bumped at every change; the drawer compares it to what it drew
    drawn: int = 0


class Board:
    """The cards of one run: ``specs`` (in order), ``repeat`` samples each.

    :meth:`record` is the run's event listener (engine loop; returns at once);
    :meth:`changed` and :meth:`cards` are for the drawing thread.
    """

    def __init__(self, specs: Sequence[str], repeat: int) -> None:
        self._models = {s: _Model(s, [_Sample() for _ in range(repeat)]) for s in specs}
        self._lock = threading.Lock()
        self.ended: str | None = None  # how the run ended, once it has

    def record(self, event: ev.Event) -> None:
        """Note ``event`` (a run's listener: engine loop)."""
        with self._lock:
            if isinstance(event, ev.RunFinished):
                self.ended = event.state
                for each in self._models.values():
                    each.version += 1
                return
            row = getattr(event, "row", None)
            model = self._models.get(row.request.model.spec) if row is not None else None
            if model is None or row is None or row.request.repeat >= len(model.samples):
                return
            self._note(model, model.samples[row.request.repeat], row, event)
            model.version += 1

    @staticmethod
    def _note(model: _Model, sample: _Sample, row: Row, event: ev.Event) -> None:
        now = time.monotonic()
        if isinstance(event, ev.RowStarted):
            sample.started = True
            model.first_sent = model.first_sent or now
        elif isinstance(event, ev.RowRetrying):
            # A stream is retried only before any text arrived: nothing to take back.
            sample.retrying = f"{event.failure.error_type} (attempt {event.attempt} failed)"
            sample.text, sample.chars = "", 0
        elif isinstance(event, ev.RowDelta):
            sample.retrying = ""
            if sample.chars < LIVE_CHARS:
                sample.text += event.text[: LIVE_CHARS - sample.chars]
            sample.chars += len(event.text)
        elif isinstance(event, ev.RowFinished):
            sample.values = dict(zip(COLUMNS, row_values(row), strict=True))
            if all(s.final for s in model.samples):
                model.last_done = now

    def changed(self) -> list[Card]:
        """The cards that changed since the last call (each at most once)."""
        with self._lock:
            out = []
            for model in self._models.values():
                if model.version != model.drawn:
                    model.drawn = model.version
                    out.append(self._card(model))
            return out

    def cards(self) -> list[Card]:
        """Every card as it stands."""
        with self._lock:
            return [self._card(m) for m in self._models.values()]

    def _card(self, model: _Model) -> Card:
        kind, status = _status(model, self.ended)
        samples = model.samples
        first = samples[0]
        if all(s.values is not None for s in samples):
            shown = tuple(s.values for s in samples if s.values is not None)
        elif first.values is not None:
            shown = (first.values,)
        else:
            shown = ()
        return Card(model.spec, kind, status, first.text, first.chars, shown)


def _status(model: _Model, ended: str | None) -> tuple[str, str]:
    """The card's kind and status line."""
    samples = model.samples
    n = len(samples)
    done = sum(s.final for s in samples)
    count = f" · {done}/{n}" if n > 1 else ""
    if done < n:
        if ended is not None:  # the run stopped before these were sent (e.g. over budget)
            return "unsent", f"not sent{count}"
        return _going(samples, count)
    rows = [s.values for s in samples if s.values is not None]
    failed = [r for r in rows if r["status"] == "error"]
    if failed:
        return "error", f"{_ok_count(rows)}error: {_failure(failed[0])}"
    for status in ("cancelled", "skipped"):
        stopped = [r for r in rows if r["status"] == status]
        if stopped:
            why = f": {stopped[0]['error_message']}" if status == "skipped" else ""
            return status, f"{_ok_count(rows)}{status}{why}"
    return "done", _done(model, rows, count)


def _going(samples: Sequence[_Sample], count: str) -> tuple[str, str]:
    running = [s for s in samples if s.started and not s.final]
    if any(s.chars for s in running):
        return "streaming", f"streaming{count}"
    retrying = [s.retrying for s in running if s.retrying]
    if retrying:
        return "retrying", f"retrying after {retrying[0]}{count}"
    if running:
        return "running", f"running{count}"
    return "queued", f"queued{count}"


def _ok_count(rows: Sequence[Mapping[str, Any]]) -> str:
    """``2/3 ok · `` for repeats; nothing for one sample."""
    if len(rows) == 1:
        return ""
    return f"{sum(r['status'] == 'ok' for r in rows)}/{len(rows)} ok · "


def _failure(row: Mapping[str, Any]) -> str:
    kind = row["error_type"] or "error"
    message = " ".join(str(row["error_message"] or "").split())
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 1] + "…"
    return f"{kind}: {message}" if message else str(kind)


def _done(model: _Model, rows: Sequence[Mapping[str, Any]], count: str) -> str:
    if all(r["cached"] for r in rows):
        return f"done: from the cache{count}"
    if model.first_sent is None or model.last_done is None:
        return f"done{count}"
    line = f"done in {formats.seconds(model.last_done - model.first_sent)}{count}"
    ttft = rows[0]["ttft_s"] if len(rows) == 1 else None
    return line if formats.is_missing(ttft) else f"{line} · first text {formats.seconds(ttft)}"


def card_html(card: Card) -> str:
    """One card's HTML (inside the panel's root, which carries the view's CSS)."""
    head = (
        f"<div class='orbit-nb-pcard-model'>{html.escape(card.spec)}</div>"
        f"<div class='orbit-nb-pcard-status orbit-nb-pcard-{card.kind}' role='status'>"
        f"{html.escape(card.status)}</div>"
    )
    return f"<div class='orbit-nb-card orbit-nb-pcard'>{head}{_body(card)}</div>"


def _body(card: Card) -> str:
    stopped = card.kind in ("cancelled", "unsent") and len(card.samples) <= 1
    if card.samples and not stopped:
        return card_body(card.samples)
    if not card.live_chars:  # the status line says it all
        return ""
    more = card.live_chars - len(card.live)
    tail = f"<p class='orbit-nb-pcard-more'>… {more:,} more characters</p>" if more > 0 else ""
    return f"<div class='orbit-nb-answer orbit-nb-pcard-live'>{html.escape(card.live)}</div>{tail}"
