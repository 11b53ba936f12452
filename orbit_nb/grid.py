"""The request grid: prompts x models x repeats, from validated input.

Everything a user can get wrong is checked here, before any request is sent,
and reported with the bad value and what would be accepted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import ParameterError
from .specs import parse_models
from .types import ModelSpec, Request

__all__ = ["Params", "build_requests", "check_params", "normalise_prompts", "number", "plan"]

# The highest temperature each kind of API accepts.
_MAX_TEMPERATURE = {"anthropic": 1.0}
_DEFAULT_MAX_TEMPERATURE = 2.0


@dataclass(frozen=True, slots=True)
class Params:
    """Validated run parameters."""

    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    repeat: int = 1
    concurrency: int | None = None
    timeout: float | None = None


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


def number(name: str, value: object) -> float:
    """``value`` as a finite float, or a ParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name}={value!r} is not a number")
    if not math.isfinite(value):
        raise ParameterError(f"{name}={value!r} must be a finite number")
    return float(value)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name}={value!r} must be a whole number >= 1")
    if value < 1:
        raise ParameterError(f"{name}={value!r} must be >= 1")
    return value


def check_params(
    specs: Iterable[ModelSpec],
    *,
    system: object = None,
    temperature: object = None,
    max_tokens: object = None,
    repeat: object = 1,
    concurrency: object = None,
    timeout: object = None,
) -> Params:
    """Validate every run parameter against the models it will be sent to."""
    if system is not None and not isinstance(system, str):
        raise ParameterError(f"system={system!r} must be a str or None")
    temp = None if temperature is None else number("temperature", temperature)
    if temp is not None:
        for spec in specs:
            top = _MAX_TEMPERATURE.get(spec.provider, _DEFAULT_MAX_TEMPERATURE)
            if not 0.0 <= temp <= top:
                raise ParameterError(
                    f"temperature={temperature!r} is outside 0..{top:g}, "
                    f"the range {spec.spec!r} accepts"
                )
    limit = None if timeout is None else number("timeout", timeout)
    if limit is not None and limit <= 0:
        raise ParameterError(f"timeout={timeout!r} must be > 0 seconds")
    return Params(
        system=system,
        temperature=temp,
        max_tokens=None if max_tokens is None else _positive_int("max_tokens", max_tokens),
        repeat=_positive_int("repeat", repeat),
        concurrency=None if concurrency is None else _positive_int("concurrency", concurrency),
        timeout=limit,
    )


def build_requests(
    prompts: list[tuple[str, str]], specs: list[ModelSpec], params: Params
) -> list[Request]:
    """One request per (prompt, model, repeat), prompt-major, repeats 0-based."""
    return [
        Request(
            prompt_id=pid,
            prompt=text,
            model=spec,
            repeat=r,
            system=params.system,
            temperature=params.temperature,
            max_tokens=params.max_tokens,
        )
        for pid, text in prompts
        for spec in specs
        for r in range(params.repeat)
    ]


def plan(
    prompts: object, models: object, **params: object
) -> tuple[list[Request], list[ModelSpec], Params]:
    """Validate everything and build the grid; raises before any call is made."""
    pairs = normalise_prompts(prompts)
    specs = parse_models(models)  # type: ignore[arg-type]
    checked = check_params(specs, **params)
    return build_requests(pairs, specs, checked), specs, checked
