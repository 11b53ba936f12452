"""Validated input to a run plan: the requests (prompts x models x repeats), the
options, the endpoints they go to, and each request's cache key.

Everything a user can get wrong is checked here or in
:class:`~orbit_nb.types.Options`, before any request is sent, and reported with
the bad value and what would be accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .errors import ParameterError
from .providers.facts import facts
from .retry import DEFAULT_TIMEOUT
from .specs import Target, parse_models, resolve
from .types import ModelSpec, Options, Request

__all__ = [
    "Plan",
    "budget_cap",
    "build_requests",
    "check_models",
    "normalise_prompts",
    "plan",
    "requests_for",
]


@dataclass(frozen=True)
class Plan:
    """Everything a run needs besides its rows, resolved before it starts."""

    requests: Sequence[Request]
    options: Options
    targets: Mapping[str, Target]  # by provider name, resolved from the environment
    limits: Mapping[str, int]  # calls in flight per provider name
    keys: Sequence[str]  # the cache key of each request
    # Seconds to hold the first request back: a kernel cell that starts a
    # background run can send its reply before the burst of requests takes
    # the GIL.
    start_delay: float = 0.0

    @property
    def timeout(self) -> float:
        """Seconds each call may take, retries included."""
        return self.options.timeout or DEFAULT_TIMEOUT


def normalise_prompts(prompts: object) -> list[tuple[str, str]]:
    """(prompt_id, prompt) pairs: ids ``p0, p1, ...`` for a str or list, keys for a dict."""
    if isinstance(prompts, str):
        pairs: list[tuple[str, object]] = [("p0", prompts)]
        where = ["prompts"]
    elif isinstance(prompts, Mapping):
        _check_unique_ids(prompts)
        pairs = [(str(k), v) for k, v in prompts.items()]
        where = [f"prompts[{k!r}]" for k in prompts]
    elif isinstance(prompts, Iterable) and not isinstance(prompts, bytes | bytearray):
        pairs = [(f"p{i}", p) for i, p in enumerate(prompts)]
        where = [f"prompts[{i}]" for i in range(len(pairs))]
    else:
        raise ParameterError(
            f"prompts {prompts!r} must be a str, a list of str, or a dict {{prompt_id: str}}"
        )
    if not pairs:
        raise ParameterError("prompts is empty; give at least one prompt")
    for (_, text), name in zip(pairs, where, strict=True):
        if not isinstance(text, str):
            raise ParameterError(f"{name} is a {type(text).__name__} ({text!r}); expected a str")
        if not text.strip():
            raise ParameterError(f"{name} is empty; every prompt needs some text")
    return [(pid, str(text)) for pid, text in pairs]


def _check_unique_ids(prompts: Mapping[object, object]) -> None:
    """Dict keys become prompt ids as text, so ``1`` and ``"1"`` would be one id."""
    seen: dict[str, object] = {}
    for key in prompts:
        pid = str(key)
        if pid in seen:
            raise ParameterError(
                f"prompts keys {seen[pid]!r} and {key!r} both become prompt_id {pid!r}; "
                "give each prompt its own id"
            )
        seen[pid] = key


def check_models(specs: Iterable[ModelSpec], options: Options) -> None:
    """The checks that depend on the models: each provider's temperature range."""
    if options.temperature is None:
        return
    for spec in specs:
        low, high = facts(spec.provider).temperature_range
        if not low <= options.temperature <= high:
            raise ParameterError(
                f"temperature={options.temperature!r} is outside {low:g}..{high:g}, "
                f"the range {spec.spec!r} accepts"
            )


def budget_cap(spec: ModelSpec, options: Options) -> int | None:
    """The ``max_tokens`` a run with a budget sends ``spec`` when the user gives none
    and its API neither requires one nor reports the model's maximum output (OpenAI):
    the API's fallback cap, set here so that it is part of the request and its
    cache key. Other APIs are capped by the budget gate (see
    :func:`orbit_nb.bounds.budget_caps`) with limits that change no answer."""
    if options.budget is None or options.max_tokens is not None:
        return None
    api = facts(spec.provider)
    if api.default_max_tokens is not None or api.lists_output_limit:
        return None
    return api.fallback_max_tokens


def build_requests(
    prompts: Sequence[tuple[str, str]], specs: Sequence[ModelSpec], options: Options
) -> list[Request]:
    """One request per (prompt, model, repeat), prompt-major, repeats 0-based."""
    sent = options.sent()
    per_model = {
        spec: {**sent, "max_tokens": budget_cap(spec, options) or sent["max_tokens"]}
        for spec in specs
    }
    return [
        Request(prompt_id=pid, prompt=text, model=spec, repeat=r, **per_model[spec])
        for pid, text in prompts
        for spec in specs
        for r in range(options.repeat)
    ]


def requests_for(
    prompts: object, models: object, options: Options
) -> tuple[list[Request], list[ModelSpec]]:
    """Validate prompts and models against ``options``; the grid of requests."""
    pairs = normalise_prompts(prompts)
    specs = parse_models(models)  # type: ignore[arg-type]
    check_models(specs, options)
    return build_requests(pairs, specs, options), specs


def plan(prompts: object, models: object, options: Options, *, start_delay: float = 0.0) -> Plan:
    """Validate everything, resolve keys and URLs (read now, so environment changes
    apply per run) and key every request; raises before any call is made."""
    from .cache import request_key

    requests, specs = requests_for(prompts, models, options)
    targets = resolve(specs)
    limits = {name: options.concurrency or t.concurrency for name, t in targets.items()}
    keys = [request_key(r, targets[r.model.provider]) for r in requests]
    return Plan(requests, options, targets, limits, keys, start_delay)
