"""``{name}`` interpolation of a cell's prompt from the user's namespace.

``{name}``, ``{obj.attr}`` and ``{d[key]}`` are filled in (with ``!r`` and
``:spec`` as in str.format); ``{{`` and ``}}`` are literal braces. A list or
tuple value fans out into one prompt per item, several of them into their
cross product, and each prompt's id says which items it holds. Values are
inserted as they are: braces inside a value are never interpreted.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ParameterError

__all__ = ["Field", "expand"]

_MAX_LABEL = 40
_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class Field:
    """One ``{...}`` placeholder: its expression, conversion and format spec."""

    expr: str
    conversion: str | None
    spec: str


def _parse(template: str) -> list[tuple[str, Field | None]]:
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ParameterError(
            f"cannot read the prompt's {{...}} fields: {exc}; "
            "write {{ and }} for literal braces"
        ) from None
    return [
        (literal, None if name is None else Field(name, conversion, spec or ""))
        for literal, name, spec, conversion in parsed
    ]


def _line_of(template: str, expr: str) -> str:
    for number, line in enumerate(template.splitlines(), start=1):
        if "{" + expr in line:
            return f"line {number}: {line.strip()!r}"
    return "the cell"


def _resolve(expr: str, namespace: Mapping[str, object], template: str) -> object:
    if not expr or expr.isdigit():
        raise ParameterError(
            f"{{{expr}}} in {_line_of(template, expr)} needs a variable name, e.g. {{topic}}"
        )
    try:
        value, _ = _FORMATTER.get_field(expr, (), namespace)
    except KeyError as exc:
        name = exc.args[0] if exc.args else expr
        raise ParameterError(
            f"{{{expr}}} in {_line_of(template, expr)}: {name!r} is not defined"
        ) from None
    except (AttributeError, IndexError, TypeError) as exc:
        raise ParameterError(f"{{{expr}}} in {_line_of(template, expr)}: {exc}") from None
    return value


def _labels(expr: str, values: list[object]) -> list[str]:
    texts = [str(v) for v in values]
    # A label may not hold the ", " that joins labels: ids of two fields could collide.
    readable = all(len(t) <= _MAX_LABEL and "\n" not in t and ", " not in t for t in texts)
    if readable and len(set(texts)) == len(texts):
        return [f"{expr}={t}" for t in texts]
    return [f"{expr}[{i}]" for i in range(len(values))]


def expand(template: str, namespace: Mapping[str, object]) -> dict[str, str]:
    """The prompts ``template`` stands for, by prompt id.

    >>> expand("Say hi in {lang}.", {"lang": ["fr", "de"]})
    {'lang=fr': 'Say hi in fr.', 'lang=de': 'Say hi in de.'}
    >>> expand("{{literal}} {n}", {"n": 3})
    {'p0': '{literal} 3'}
    """
    pieces = _parse(template)
    values: dict[str, object] = {}
    for _, field in pieces:
        if field is not None and field.expr not in values:
            values[field.expr] = _resolve(field.expr, namespace, template)
    fanned = {e: list(v) for e, v in values.items() if isinstance(v, list | tuple)}
    for expr, items in fanned.items():
        if not items:
            raise ParameterError(f"{{{expr}}} is an empty {type(values[expr]).__name__}: no prompt")
    labels = {e: _labels(e, items) for e, items in fanned.items()}
    prompts: dict[str, str] = {}
    for combo in itertools.product(*(range(len(items)) for items in fanned.values())):
        chosen = {**values, **{e: fanned[e][i] for e, i in zip(fanned, combo, strict=True)}}
        text = "".join(
            literal + ("" if f is None else _render(chosen[f.expr], f)) for literal, f in pieces
        )
        key = ", ".join(labels[e][i] for e, i in zip(fanned, combo, strict=True)) or "p0"
        prompts[key] = text
    return prompts


def _render(value: object, field: Field) -> str:
    converted = _FORMATTER.convert_field(value, field.conversion)
    return format(converted, field.spec)
