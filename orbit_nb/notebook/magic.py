"""The ``%%orbit`` cell magic and ``%orbit`` line magic: a thin layer over compare().

    %load_ext orbit_nb

    %%orbit -m anthropic:claude-haiku-4-5,openai:gpt-4o-mini -t 0.2
    Explain {topic} in one sentence.

The cell body is the prompt, filled in from the notebook's variables (see
:mod:`orbit_nb.template`); the DataFrame lands in ``_orbit`` (``-o VAR``) and
the answers are shown side by side. ``--stream`` shows them growing in live
cards (:mod:`orbit_nb.notebook.live`) until the run ends. ``--background``
returns at once and keeps running while other cells run. Defaults come from
traitlets config: ``%config Orbit.default_models = [...]``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib
import shlex
import threading
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Float, Int, List, Unicode

from ..api import estimate, launch, prepare
from ..errors import OrbitError
from ..progress import SHOW_AFTER, NotebookProgress, Progress
from ..run import Run
from ..table import as_table
from ..types import Options
from .live import LiveCards
from .template import expand
from .view import Comparison

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Orbit", "load_ipython_extension"]

_TICK = 0.1  # seconds between progress updates: about ten a second
_BACKGROUND_DELAY = 0.1  # seconds


@magics_class
class Orbit(Magics):
    """``%%orbit`` / ``%orbit``; its traits are settable with ``%config Orbit.<name> = ...``."""

    default_models = List(
        Unicode(),
        default_value=[
            "anthropic:claude-haiku-4-5",
            "openai:gpt-4o-mini",
            "gemini:gemini-2.5-flash",
        ],
        help="Models used when a cell gives no -m/--models.",
    ).tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt.").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default max_tokens.").tag(config=True)
    concurrency = Int(
        None, allow_none=True, help="Calls in flight per provider (default per provider)."
    ).tag(config=True)
    timeout = Float(None, allow_none=True, help="Seconds a call may take, retries included.").tag(
        config=True
    )
    out = Unicode("_orbit", help="Variable that receives a foreground run's DataFrame.").tag(
        config=True
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.background: dict[str, Run] = {}  # VAR -> background job
        self._counter = 0

    # -- %%orbit --------------------------------------------------------------

    @magic_arguments()
    @argument("-m", "--models", help="comma-separated 'provider:model' specs")
    @argument("-s", "--system", help="system prompt")
    @argument("-t", "--temperature", type=float, help="sampling temperature")
    @argument("--max-tokens", type=int, help="most tokens per answer")
    @argument("-n", "--repeat", type=int, default=1, help="samples per prompt and model")
    @argument("--no-cache", action="store_true", help="ask every model again")
    @argument("-o", "--out", metavar="VAR", help="variable for the DataFrame")
    @argument("-c", "--concurrency", type=int, help="calls in flight per provider")
    @argument("--timeout", type=float, help="seconds per call, retries included")
    @argument("--budget", type=float, metavar="USD", help="spending cap in dollars")
    @argument("--stream", action="store_true", help="stream the answers (records ttft_s)")
    @argument(
        "--service-tier",
        metavar="TIER",
        help="ask for a service tier where offered: flex, priority or default",
    )
    @argument("--dry-run", action="store_true", help="show the cost estimate; call nothing")
    @argument("--background", action="store_true", help="return at once; run meanwhile")
    @cell_magic("orbit")  # type: ignore[arg-type]
    def orbit_cell(self, line: str, cell: str) -> None:
        """Send the cell (a prompt with {var} fields) to several models at once."""
        args = _parse(self.orbit_cell, line)
        try:
            self._run_cell(args, cell)
        except OrbitError as exc:
            raise UsageError(str(exc)) from None

    def _options(self, args: Any) -> Options:
        return Options(
            system=args.system if args.system is not None else self.system,
            temperature=args.temperature,
            max_tokens=args.max_tokens if args.max_tokens is not None else self.max_tokens,
            repeat=args.repeat,
            cache=not args.no_cache,
            concurrency=args.concurrency or self.concurrency,
            timeout=args.timeout or self.timeout,
            budget=args.budget,
            stream=args.stream,
            service_tier=args.service_tier,
        )

    def _run_cell(self, args: Any, cell: str) -> None:
        prompts = expand(cell.strip(), self.shell.user_ns)  # type: ignore[union-attr]
        models = args.models or list(self.default_models)
        options = self._options(args)
        if args.dry_run:
            display(
                estimate(
                    prompts,
                    models,
                    system=options.system,
                    max_tokens=options.max_tokens,
                    repeat=options.repeat,
                    service_tier=options.service_tier,
                )
            )
            return
        # A background cell's reply goes out before the burst of requests.
        delay = _BACKGROUND_DELAY if args.background else 0.0
        job = prepare(prompts, models, options, start_delay=delay)
        if args.background:
            self._background(job, args.out or self._next_var())
        else:
            self._foreground(job, args.out or self.out)

    def _next_var(self) -> str:
        self._counter += 1
        while f"_orbit_bg{self._counter}" in self.background:
            self._counter += 1
        return f"_orbit_bg{self._counter}"

    def _foreground(self, job: Run, var: str) -> None:
        progress = _progress(job)  # drawn once the run takes over a second, or streams
        launch(job)
        try:
            job.wait(on_tick=progress.tick)
        except KeyboardInterrupt:
            pass  # the job is interrupted: show what finished
        except OrbitError:
            progress.finish("")  # the error says why
            raise
        df = _finish(job)
        self.shell.user_ns[var] = df  # type: ignore[union-attr]
        progress.finish(Comparison(df, _title(job, var), var=var))

    def _background(self, job: Run, var: str) -> None:
        self.background[var] = job
        # Printed first, worded to stay true once the run ends (the bar below is replaced).
        print(
            f"Started {job.total} calls in the background; the DataFrame lands in {var}. "
            f"%orbit jobs lists runs, %orbit cancel {var} stops this one."
        )
        progress = _progress(job, f"background → {var}", show_after=0.0)
        launch(job)
        watcher = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._watch, job, var, progress),
            name=f"orbit-watch-{var}",
            daemon=True,
        )
        watcher.start()

    def _watch(self, job: Run, var: str, progress: Progress) -> None:
        """Draw progress until ``job`` ends, then put its DataFrame in ``var``."""
        assert job.future is not None
        while not job.future.done():
            progress.tick()
            time.sleep(_TICK)
        error = job.future.exception()
        if error is not None:
            progress.finish(f"{var}: run {job.state}: {error}")
            return
        df = _finish(job)
        self.shell.user_ns[var] = df  # type: ignore[union-attr]
        progress.finish(Comparison(df, _title(job, var), var=var))

    # -- %orbit ---------------------------------------------------------------

    @line_magic("orbit")  # type: ignore[arg-type]
    def orbit_line(self, line: str) -> Any:
        """%orbit models | prices | cache stats | cache clear | history [N] | jobs
        | cancel [VAR] | config"""
        words = line.split()
        command, rest = (words[0], words[1:]) if words else ("help", [])
        handler = self._commands().get(command)
        if handler is None:
            raise UsageError(
                f"unknown %orbit command {command!r}; use one of: "
                + ", ".join(sorted(self._commands()))
            )
        try:
            return handler(rest)
        except OrbitError as exc:
            raise UsageError(str(exc)) from None

    def _commands(self) -> dict[str, Callable[[list[str]], Any]]:
        return {
            "models": lambda _: _models_table(),
            "prices": lambda _: _prices(),
            "cache": self._cache,
            "history": self._history,
            "jobs": lambda _: self.jobs_table(),
            "cancel": self._cancel,
            "config": lambda _: self.config_table(),
            "help": lambda _: print(self.orbit_line.__doc__),
        }

    def _cache(self, rest: list[str]) -> Any:
        from ..cache import cache_stats, clear_cache

        if rest == ["stats"]:
            return _record_table(dataclasses.asdict(cache_stats()), "statistic")
        if rest == ["clear"]:
            print(f"removed {clear_cache()} cached responses")
            return None
        raise UsageError(f"%orbit cache takes 'stats' or 'clear', not {' '.join(rest)!r}")

    def _history(self, rest: list[str]) -> pd.DataFrame:
        from ..history_store import history

        if len(rest) > 1 or (rest and not rest[0].isdigit()):
            raise UsageError(f"%orbit history takes one number of calls, not {' '.join(rest)!r}")
        # No N: the default, the most recent runs that fit in history.DEFAULT_LIMIT calls.
        return history(limit=int(rest[0])) if rest else history()

    def _cancel(self, rest: list[str]) -> None:
        names = rest or [v for v, job in self.background.items() if not job.done]
        unknown = [n for n in names if n not in self.background]
        if unknown:
            known = ", ".join(self.background) or "none"
            raise UsageError(f"no background run named {unknown[0]!r}; runs: {known}")
        for name in names:
            self.background[name].cancel()
        print(f"cancelled: {', '.join(names)}" if names else "no background run is running")

    def jobs_table(self) -> pd.DataFrame:
        """Background runs of this kernel: variable, state and progress."""
        from ..api import Jobs

        table = Jobs(self.background.values()).frame()
        table.insert(0, "var", list(self.background))
        return table

    def config_table(self) -> pd.DataFrame:
        """The current Orbit settings (change them with %config Orbit.<name> = ...)."""
        names = ["default_models", "system", "max_tokens", "concurrency", "timeout", "out"]
        return _record_table({name: getattr(self, name) for name in names}, "setting")


def _progress(job: Run, label: str = "", show_after: float = SHOW_AFTER) -> Progress:
    """What shows ``job`` while it runs (made before it is launched): live cards for a
    streamed run, whose answers grow in them, else a progress bar."""
    if job.plan.options.stream:
        return LiveCards(job, label, show_after)
    return NotebookProgress(job, label, show_after)


def _parse(magic: Any, line: str) -> Any:
    """Options of ``line`` split like a shell does: ``-s "two words"`` loses its quotes.

    (IPython's parse_argstring keeps quotes in values.)
    """
    parser = magic.parser
    usage = " ".join(parser.format_usage().replace("::", "").split())
    try:
        return parser.parse_args(shlex.split(line))
    except ValueError as exc:  # shlex: an unbalanced quote
        raise UsageError(f"cannot split the options {line!r}: {exc} (usage: {usage})") from None
    except UsageError as exc:  # argparse: an unknown option or a bad value
        raise UsageError(f"{exc} (usage: {usage})") from None


def _record_table(record: dict[str, Any], name: str) -> pd.DataFrame:
    """A name -> value mapping as a one-column table of the raw values."""
    import pandas as pd

    values = list(record.values())
    index = pd.Index(list(record), name=name)
    return as_table(pd.DataFrame({"value": pd.Series(values, index=index, dtype=object)}))


def _title(job: Run, var: str) -> str:
    """The result's title: where the frame is, and how the run ended when not done."""
    where = f"result in {var}"
    if job.state == "interrupted":
        return f"interrupted: unfinished calls are marked cancelled; {where}"
    if job.state == "cancelled":
        return f"cancelled: unfinished calls are marked cancelled; {where}"
    return where


def _prices() -> pd.DataFrame:
    from ..price_data import prices

    return prices()


def _models_table() -> pd.DataFrame:
    """Known providers and endpoints, whether a key is set, and their priced models."""
    import pandas as pd

    from ..config import environ
    from ..price_data import prices
    from ..specs import endpoints

    table = prices()
    rows = []
    for name, endpoint in sorted(endpoints().items()):
        priced = table.index[table["provider"] == endpoint.name]
        keys = endpoint.key_envs
        rows.append(
            {
                "provider": name,
                "key_set": not keys or any((environ().get(k) or "").strip() for k in keys),
                "key_env": " or ".join(keys) or "(none)",
                "base_url": endpoint.base_url(environ()),
                "priced_models": ", ".join(priced),
            }
        )
    return as_table(pd.DataFrame(rows).set_index("provider"))


def _finish(job: Run) -> pd.DataFrame:
    for problem in job.problems():
        warnings.warn_explicit(problem, UserWarning, "%%orbit", 1)
    return job.frame()


# magic_arguments names the parser after the method; users type %%orbit.
Orbit.orbit_cell.parser.prog = "%orbit"  # its formatter adds one more %


# Imported on a worker thread when the extension loads, so the first cell (a
# --background one must return at once) does not wait for them: the SDKs alone
# take 1.7-3 s to import. A cell that needs a module still being imported waits
# for that import (Python's module lock) rather than doing it again.
_WARM_UP = (
    "pandas",
    "ipywidgets",
    "diskcache",
    "orbit_nb.notebook.view",
    "orbit_nb.frame",
    "orbit_nb.providers.anthropic",
    "orbit_nb.providers.openai",
    "orbit_nb.providers.gemini",
)


def _warm_up() -> None:
    for name in _WARM_UP:
        with contextlib.suppress(ImportError):  # the cell that needs it will say so
            importlib.import_module(name)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext orbit_nb``: register the magics and their %config class."""
    magics = Orbit(shell=ipython, parent=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    threading.Thread(target=_warm_up, name="orbit-warm-up", daemon=True).start()
