from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .bounds import bound_requests
from .bounds import to_frame as bounds_frame
from .engine import get_engine
from .errors import OrbitError
from .events import Listener
from .plan import plan, requests_for
from .price_data import load as load_prices
from .progress import Snapshot, for_caller
from .rows import new as new_row
from .run import Run
from .specs import resolve
from .types import Options

if TYPE_CHECKING:
    import pandas as pd

    from .table import Table

__all__ = ["Jobs", "acompare", "compare", "estimate", "jobs", "launch", "prepare", "start"]

_JOBS: list[Run] = []
#: Rows of finished runs jobs() keeps, at most (the newest run is always kept,
#: and so is every run still going): memory is bounded by rows, not by runs.
KEEP_ROWS = 20_000

Prompts = str | Iterable[str] | Mapping[str, str]
Models = str | Iterable[str]


def prepare(
    prompts: Prompts, models: Models, options: Options | None = None, *, start_delay: float = 0.0
) -> Run:
    """Validate, resolve keys and plan a run; return its :class:`Run`, not sent yet.

    :func:`launch` sends it; listeners subscribed in between see every event.
    ``start_delay`` holds the first request back that many seconds. Raises
    (before any request is sent) :class:`~orbit_nb.errors.SpecError`,
    :class:`~orbit_nb.errors.ParameterError` or :class:`~orbit_nb.errors.ConfigError`.
    """
    run_plan = plan(prompts, models, options or Options(), start_delay=start_delay)
    load_prices()  # read the price file here, not on the engine loop
    run_id = uuid.uuid4().hex[:12]
    return Run(run_id, [new_row(run_id, r) for r in run_plan.requests], run_plan)


def launch(run: Run) -> Run:
    """Start a :func:`prepare`-d run on the engine and return it at once."""
    _remember(run)
    get_engine().submit(run)
    return run


def start(
    prompts: Prompts,
    models: Models,
    options: Options | None = None,
    *,
    start_delay: float = 0.0,
    on_event: Listener | None = None,
    shows_text: bool = False,
) -> Run:
    """Validate, resolve keys, and start a run on the engine; return its :class:`Run` at once.

    ``start_delay`` holds the first request back that many seconds;
    ``on_event`` is subscribed to the run's events before it starts, so it
    sees every one (see :mod:`orbit_nb.events`); ``shows_text=True`` says it
    displays streamed text as it arrives, so a stream that breaks after part of
    it was shown is not retried. Raises (before any request is sent)
    :class:`~orbit_nb.errors.SpecError`, :class:`~orbit_nb.errors.ParameterError`
    or :class:`~orbit_nb.errors.ConfigError`.
    """
    run = prepare(prompts, models, options, start_delay=start_delay)
    if on_event is not None:
        run.events.subscribe(on_event, shows_text=shows_text)
    return launch(run)


def _remember(run: Run) -> None:
    """Add ``run`` to jobs(); forget the oldest finished runs beyond :data:`KEEP_ROWS`
    rows (their rows stay in the history)."""
    _JOBS.append(run)
    rows = sum(r.total for r in _JOBS)
    for old in list(_JOBS[:-1]):
        if rows <= KEEP_ROWS:
            break
        if old.done:
            _JOBS.remove(old)
            rows -= old.total


class Jobs(list[Run]):
    """Runs, oldest first; a notebook shows them as a table (see :meth:`frame`)."""

    def frame(self) -> Table:
        """One row per run: run_id, state, calls, answered, ok, errors, wall_s, spent_usd."""
        import pandas as pd

        from .table import as_table

        rows = [_job_row(job) for job in self]
        df = pd.DataFrame(rows, columns=list(_JOB_COLUMNS)).astype(_JOB_COLUMNS)
        return as_table(df.set_index("run_id"))

    def _repr_html_(self) -> str:
        return self.frame()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.frame()) if self else "no runs yet"


_JOB_COLUMNS = {
    "run_id": "string",
    "state": "string",
    "calls": "Int64",
    "answered": "Int64",
    "ok": "Int64",
    "errors": "Int64",
    "wall_s": "float64",
    "spent_usd": "float64",
}


def _job_row(job: Run) -> dict[str, object]:
    snap = Snapshot.of(job)
    ok = sum(row.status == "ok" for row in job.rows)
    return {
        "run_id": job.run_id,
        "state": snap.state,
        "calls": snap.total,
        "answered": ok + snap.errors,
        "ok": ok,
        "errors": snap.errors,
        "wall_s": snap.elapsed_s,
        "spent_usd": snap.spent_usd,
    }


def jobs() -> Jobs:
    """This session's recent runs, oldest first; each Run keeps its rows.

    Finished runs are kept while all runs together hold at most
    :data:`KEEP_ROWS` rows (every run is in ``history()``).

    A notebook shows them as a table (state: running, done, cancelled,
    interrupted, refused). After an interrupted ``await acompare(...)``,
    ``jobs()[-1].frame()`` holds the finished rows and marks the rest cancelled.
    """
    return Jobs(_JOBS)


def compare(
    prompts: Prompts,
    models: Models,
    *,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    repeat: int = 1,
    cache: bool = True,
    concurrency: int | None = None,
    timeout: float | None = None,
    budget: float | None = None,
    stream: bool = False,
    service_tier: str | None = None,
) -> pd.DataFrame:
    """Send every prompt to every model concurrently; one DataFrame row per call.

    ``prompts`` is a str, a list of str, or a dict ``{prompt_id: prompt}``;
    ``models`` a list of ``"provider:model"`` specs or one comma-separated
    string. Each (prompt, model, repeat) becomes one row, whatever happens to
    the call: ``status`` is ``ok``, ``error`` (with ``error_type`` and
    ``error_message``), ``cancelled`` or ``skipped``. ``timeout`` bounds each
    call in seconds, retries included (default 600). ``concurrency`` caps calls
    in flight per provider endpoint. ``cache=True`` serves answers already in
    the response cache (``cached=True``, nothing spent); ``cache=False`` asks
    again. ``budget`` caps the run in dollars: a run whose estimate exceeds it
    raises :class:`~orbit_nb.errors.BudgetError` before sending anything, and
    once the money spent reaches it the remaining calls are ``skipped``.
    ``stream=True`` streams each answer: ``ttft_s`` records the time to its
    first text, and a stream that breaks is an error row (``truncated``,
    ``disconnected``, ``stalled`` or ``malformed``), never a short answer.
    ``service_tier`` (``"flex"``, ``"priority"`` or ``"default"``) asks each
    provider that offers it for that tier (Anthropic has no flex tier); the
    ``service_tier`` column records the tier the response says served the call,
    and ``cost_usd`` is priced at it, for the model the response names
    (``served_model``), at the request's date; ``price_source`` says where the
    price came from, or why there is none.

    Works in scripts, in Jupyter cells and inside a running event loop. An
    interrupt (Ctrl-C, or the kernel's stop button) cancels the calls still in
    flight and returns the finished rows, the rest marked ``cancelled``::

        df = orbit_nb.compare("Name a prime.", "openai:gpt-4o-mini, gemini:gemini-2.5-flash")
    """
    get_engine().refuse_engine_thread()  # before anything is sent
    options = Options(
        system=system,
        temperature=temperature,
        max_tokens=max_tokens,
        repeat=repeat,
        cache=cache,
        concurrency=concurrency,
        timeout=timeout,
        budget=budget,
        stream=stream,
        service_tier=service_tier,
    )
    run = prepare(prompts, models, options)
    progress = for_caller(run)  # subscribed before any call: live text misses no piece
    launch(run)
    try:
        run.wait(on_tick=progress.tick if progress else None)
    except OrbitError as exc:  # e.g. BudgetError: the engine's frames are noise to the caller
        raise exc.with_traceback(None) from None
    except KeyboardInterrupt:
        done = sum(r.status in ("ok", "error") for r in run.rows)
        warnings.warn(
            f"interrupted: {done} of {run.total} calls finished; the rest are marked cancelled",
            stacklevel=2,
        )
    finally:
        if progress is not None:
            progress.finish()
    return _result(run)


async def acompare(
    prompts: Prompts,
    models: Models,
    *,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    repeat: int = 1,
    cache: bool = True,
    concurrency: int | None = None,
    timeout: float | None = None,
    budget: float | None = None,
    stream: bool = False,
    service_tier: str | None = None,
) -> pd.DataFrame:
    """The awaitable form of :func:`compare`, with the same arguments and result.

    Cancelling the awaiting task (or interrupting the kernel) cancels the calls
    in flight and re-raises; the finished rows stay on the run (``jobs()[-1]``).
    """
    options = Options(
        system=system,
        temperature=temperature,
        max_tokens=max_tokens,
        repeat=repeat,
        cache=cache,
        concurrency=concurrency,
        timeout=timeout,
        budget=budget,
        stream=stream,
        service_tier=service_tier,
    )
    run = prepare(prompts, models, options)
    progress = for_caller(run)  # subscribed before any call: live text misses no piece
    launch(run)
    try:
        await run.wait_async(on_tick=progress.tick if progress else None)
    except OrbitError as exc:
        raise exc.with_traceback(None) from None
    finally:
        if progress is not None:
            progress.finish()
    return _result(run)


def _result(job: Run) -> pd.DataFrame:
    """The run's frame, after warning (in the caller's thread, pointing at the
    caller's line) about what went amiss."""
    for problem in job.problems():
        warnings.warn(problem, stacklevel=3)
    return job.frame()


def estimate(
    prompts: Prompts,
    models: Models,
    *,
    system: str | None = None,
    max_tokens: int | None = None,
    repeat: int = 1,
    service_tier: str | None = None,
) -> pd.DataFrame:
    """The most a run could cost, per model, before anything is called: an upper
    bound, or NA where there is none. Its arguments are :func:`compare`'s.

    Input tokens are counted by the provider's free count endpoint (Anthropic
    ``messages/count_tokens``, Gemini ``countTokens``, OpenAI
    ``responses/input_tokens``); where that is missing or fails, they are bounded
    by the UTF-8 bytes of the system prompt and prompt (no token covers less than
    a byte). Either way 8 tokens per message are added for the API's framing.
    ``counted_by`` says which: ``count endpoint`` or ``utf-8 bytes``.

    Output tokens are ``max_tokens`` per call; without it, the ``max_tokens``
    orbit sends anyway (Anthropic: 1,024), else the model's maximum output as
    the provider's model list reports it (Gemini ``outputTokenLimit``). With
    none of these (OpenAI reports no maximum), the output and so the cost are
    unbounded: ``output_tokens`` and ``max_cost_usd`` are NA and a note says so.
    ``output_by`` says which bound applied: ``max_tokens``, ``default
    max_tokens``, ``model limit`` or ``unbounded``.

    The bound is priced at the long-context tier when the input bound is above
    the tier's threshold, and at the cache-write rate where writing the prompt
    cache costs more than input, and at the dearer of the standard price and
    ``service_tier``'s (a tier asked for may not be granted: flex then bills at
    standard). ``max_cost_usd`` is NA for a model with no known price::

        orbit_nb.estimate(prompts, ["openai:gpt-4o", "anthropic:claude-haiku-4-5"], max_tokens=300)
    """
    options = Options(
        system=system, max_tokens=max_tokens, repeat=repeat, service_tier=service_tier
    )
    requests, specs = requests_for(prompts, models, options)
    targets = resolve(specs)
    engine = get_engine()
    providers = {name: engine.provider(t, t.concurrency) for name, t in targets.items()}
    load_prices()
    bounds = engine.call(bound_requests(requests, providers))
    return bounds_frame(bounds)
