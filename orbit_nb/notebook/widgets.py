"""``orbit_nb.panel()``: an ipywidgets app that sends one prompt to several models and
shows their answers side by side as they arrive.

The panel is a form (prompt, models, system prompt, temperature, max tokens,
repeats, cache, budget, stream), Run and Cancel, one card per model, and the
usage and cost table once a run ends. A run is an ordinary background run
(:func:`orbit_nb.api.start`): the Run button's handler returns at once, the
kernel stays free, the run is in ``orbit_nb.jobs()`` and its calls in
``orbit_nb.history()``. Its events are recorded as they arrive on the engine
loop (:class:`~orbit_nb.notebook.cards.Board`) and drawn by a thread of the
panel's own, at most ten times a second; Cancel is :meth:`Run.cancel`.

The widget tree is built once. A run changes only what it shows (the cards
area's children and their HTML, the status line, the usage and cost table, the
buttons' enabled state), so the controls keep their values and focus while runs
start and end. The panel's display is never replaced: replacing it would make the
front-end draw every control anew. The last run, as the result view (static
HTML), goes in a second output of its own, updated when a run ends: what a saved
notebook shows where widgets do not render (an HTML export, a notebook reopened
without its kernel). While the panel is live, its own style hides that copy.
"""

from __future__ import annotations

import contextvars
import html
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..api import start
from ..errors import OrbitError
from ..progress import Snapshot
from ..style import THEME_CSS, scoped
from .cards import CARD_CSS, Board, Card, card_html
from .form import Controls, checked, wrap
from .view import CSS as VIEW_CSS
from .view import Comparison, costs_html

if TYPE_CHECKING:
    import pandas as pd

    from ..run import Run

__all__ = ["Panel", "panel"]

log = logging.getLogger(__name__)

_TICK = 0.1  # seconds between draws at most: about ten a second per card
_TITLE = "orbit_nb.panel(): the last run"
_READY = "Type a prompt, pick models and press Run."
_LIVE_ONLY = "orbit_nb.panel(): its controls need a running kernel"
_RESULT = "orbit-nb-presult"  # the class of the result's output; plus -<id> per panel

_CSS = (
    """
.orbit-nb.orbit-nb-panel{display:flex;gap:6px;padding:2px 0}
.orbit-nb .orbit-nb-prow{gap:4px 16px}
.orbit-nb .orbit-nb-pcards{gap:8px}
.orbit-nb .orbit-nb-pcard{height:100%;line-height:1.45;white-space:normal;
 contain:inline-size}
.orbit-nb .orbit-nb-pcard-model{font-weight:600;overflow-wrap:anywhere}
"""
    + CARD_CSS
    + """.orbit-nb .orbit-nb-pmsg{line-height:1.45;white-space:normal;color:var(--orbit-nb-muted)}
.orbit-nb .orbit-nb-pmsg-error{color:var(--orbit-nb-err)}
.orbit-nb .orbit-nb-pmsg-note{color:var(--orbit-nb-warn)}
.orbit-nb .orbit-nb-pmsg p{margin:0}
"""
)
_ROOT_CLASSES = ("orbit-nb", "orbit-nb-panel", "mathjax_ignore", "tex2jax_ignore")


class Panel:
    """The app :func:`panel` returns; a notebook shows it (``panel`` as a cell's last line).

    ``df`` is the last finished run's DataFrame (None before one); ``last_run``
    the last :class:`~orbit_nb.run.Run` started (also in ``orbit_nb.jobs()``);
    ``controls`` the form; ``widget`` the ipywidgets root. :meth:`start` and
    :meth:`cancel` do what Run and Cancel do.
    """

    def __init__(self, controls: Controls) -> None:
        self.controls = controls
        self.df: pd.DataFrame | None = None
        self.last_run: Run | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._display_id = uuid.uuid4().hex
        self._shown = False
        self._message = widgets.HTML(layout=widgets.Layout(flex="1 1 20em", width="auto"))
        self._cards = widgets.Box(layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        self._cards.add_class("orbit-nb-pcards")
        self._costs = widgets.HTML(layout=widgets.Layout(width="100%"))
        # Hides the panel's last run in the output after it (see _ipython_display_)
        # wherever this style exists, that is wherever the widgets are drawn. Two
        # classes: the view's own ".orbit-nb{display:block}" comes later in the page.
        hide = f".{_RESULT}.{_RESULT}-{self._display_id}{{display:none}}"
        style = widgets.HTML(f"<style>{THEME_CSS}{VIEW_CSS}{_CSS}{hide}</style>")
        style.layout.display = "none"  # a <style> applies wherever it sits
        actions = wrap([controls.run, controls.cancel, self._message])
        self.widget = widgets.VBox(
            [style, *controls.layout(), actions, self._cards, self._costs],
            layout=widgets.Layout(width="100%"),
        )
        for name in _ROOT_CLASSES:
            self.widget.add_class(name)
        controls.run.on_click(self._on_run)
        controls.cancel.on_click(lambda _: self.cancel())
        self._say(_READY)

    # -- Run and Cancel ---------------------------------------------------------------

    def start(self) -> Run | None:
        """Start a run with what the controls hold and return it at once, as Run does;
        bad input is shown in the panel (None is returned) and nothing is sent."""
        if not self._idle.is_set():
            self._say("a run is still going: cancel it or let it finish first", "error")
            return None
        try:
            prompt, specs, options = self.controls.read()
            board = Board(specs, options.repeat)
            run = start(prompt, specs, options, on_event=board.record, shows_text=True)
        except OrbitError as exc:
            self._say(str(exc), "error")
            return None
        self._begin(run, board)
        return run

    def cancel(self) -> None:
        """Stop the run going, as Cancel does: its unfinished calls end ``cancelled``,
        finished ones are kept."""
        run = self.last_run
        if run is not None and not run.done:
            run.cancel()
            self._say("cancelling…")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the last run has ended and been drawn (``df`` is set); False if
        ``timeout`` seconds passed first. For scripts: a notebook need not wait."""
        return self._idle.wait(timeout)

    def _on_run(self, _: object) -> None:
        try:
            self.start()
        except Exception as exc:  # a click handler's exception would only reach a log
            log.exception("orbit_nb.panel(): Run failed")
            self._say(f"could not start the run: {type(exc).__name__}: {exc}", "error")

    def _begin(self, run: Run, board: Board) -> None:
        self._idle.clear()
        self.last_run = run
        cards = {card.spec: _card_widget(card) for card in board.cards()}
        old = self._cards.children
        self._cards.children = tuple(cards.values())
        for widget in old:
            widget.close()
        self._costs.value = ""
        self.controls.run.disabled, self.controls.cancel.disabled = True, False
        self._say(Snapshot.of(run).line())
        watcher = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._watch, run, board, cards),
            name=f"orbit-panel-{run.run_id}",
            daemon=True,
        )
        watcher.start()

    # -- drawing (the watcher thread) ------------------------------------------------------

    def _watch(self, run: Run, board: Board, cards: Mapping[str, widgets.HTML]) -> None:
        """Draw what changed, at most every :data:`_TICK` seconds, until ``run`` ends."""
        try:
            shown: tuple[object, ...] = ()
            while True:
                ended = run.done  # read first: once it is, every event is recorded
                _draw(board.changed(), cards)
                snap = Snapshot.of(run)
                key = (snap.done, snap.errors, snap.state, int(snap.elapsed_s))
                if key != shown and not ended:
                    shown = key
                    self._say(snap.line())
                if ended:
                    break
                time.sleep(_TICK)
            self._end(run)
        except Exception:
            log.exception("orbit_nb.panel(): drawing the run failed")
        finally:
            self.controls.run.disabled, self.controls.cancel.disabled = False, True
            self._idle.set()

    def _end(self, run: Run) -> None:
        assert run.future is not None
        error = None if run.future.cancelled() else run.future.exception()
        if error is not None:  # refused (over budget) or failed: nothing to keep
            self._say(f"{run.state}: {error}", "error")
            return
        df = run.frame()
        self.df = df
        self._costs.value = costs_html(df)
        self._say(Snapshot.of(run).line(), notes=run.problems())
        if self._shown:  # the result's own output, never the panel's (see _ipython_display_)
            from IPython.display import update_display

            update_display(self._result_bundle(), raw=True, display_id=self._display_id)

    def _say(self, text: str, kind: str = "", notes: Sequence[str] = ()) -> None:
        css = f"orbit-nb-pmsg orbit-nb-pmsg-{kind}" if kind else "orbit-nb-pmsg"
        role = " role='alert'" if kind == "error" else ""
        lines = [f"<p class='{css}'{role}>{html.escape(text)}</p>"]
        lines += [
            f"<p class='orbit-nb-pmsg orbit-nb-pmsg-note'>{html.escape(n)}</p>" for n in notes
        ]
        self._message.value = "".join(lines)

    # -- display -------------------------------------------------------------------------

    def _widget_bundle(self) -> dict[str, Any]:
        return dict(self.widget._repr_mimebundle_() or {})

    def _live_bundle(self) -> dict[str, Any]:
        """The panel's own output: the widget, and a note where widgets do not render."""
        note = scoped("", f"<p>{html.escape(_LIVE_ONLY)}</p>", "panel-static")
        return {**self._widget_bundle(), "text/plain": _LIVE_ONLY, "text/html": note}

    def _result_bundle(self) -> dict[str, Any]:
        """The last run as the result view (and as text), in a root the live panel hides."""
        css = f"{_RESULT} {_RESULT}-{self._display_id}"
        return {
            "text/plain": repr(self),
            "text/html": f"<div class='{css}'>{self._static_html()}</div>",
        }

    def _static_html(self) -> str:
        if self.df is not None:
            return Comparison(self.df, _TITLE)._repr_html_()
        return scoped("", "<p>orbit_nb.panel(): no run yet</p>", "panel-static")

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        """The widget, with the last run as the result view (and as text) for wherever
        widgets do not render, in one bundle (a notebook shows :meth:`_ipython_display_`)."""
        return {**self._widget_bundle(), **self._result_bundle()}

    def _ipython_display_(self) -> None:
        # Two outputs. The panel's is shown once and never updated: an update would
        # make the front-end draw a new copy of every control (the prompt box losing
        # its focus, the old copy left detached). The second, under an id of the
        # panel's own, holds the last run as the result view and is updated when a
        # run ends, so a saved notebook keeps it.
        from IPython.display import display

        display(self._live_bundle(), raw=True)
        display(self._result_bundle(), raw=True, display_id=self._display_id)
        self._shown = True

    def __repr__(self) -> str:
        if self.df is None:
            return "orbit_nb.panel(): no run yet"
        return repr(Comparison(self.df, _TITLE))


def _card_widget(card: Card) -> widgets.HTML:
    widget = widgets.HTML(
        card_html(card), layout=widgets.Layout(flex="1 1 20em", min_width="16em", width="auto")
    )
    widget.add_class("orbit-nb-pcard-box")
    return widget


def _draw(changed: Iterable[Card], cards: Mapping[str, widgets.HTML]) -> None:
    for card in changed:
        cards[card.spec].value = card_html(card)


def panel(models: str | Iterable[str] | None = None, **defaults: Any) -> Panel:
    """An app to send one prompt to several models and see their answers side by side.

    ``models`` preselects models in the picker (specs, aliases or bare names, as
    in :func:`~orbit_nb.compare`); the other keywords preset the controls:
    ``prompt``, ``system``, ``temperature``, ``max_tokens``, ``repeat``,
    ``cache``, ``budget`` (dollars) and ``stream``. A bad keyword or value raises
    :class:`~orbit_nb.errors.ParameterError` (or ``SpecError``) naming it. Run
    returns at once: each model's card fills in as its answer arrives, Cancel
    stops the run, and ``.df`` holds the last run's DataFrame::

        p = orbit_nb.panel(["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini"], temperature=0.2)
        p        # shows it; after a run, p.df is the DataFrame
    """
    return Panel(Controls(checked(models, defaults)))
