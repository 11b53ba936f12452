"""The panel's form: its controls, preset from :func:`~orbit_nb.panel`'s arguments, and
what they hold read back as a run's prompt, models and options.

Everything a user can get wrong is reported with the bad value, as the rest of
orbit_nb does: a bad argument of ``panel()`` raises before anything is shown; a
bad entry in a control raises from :meth:`Controls.read`, which the panel shows.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import ipywidgets as widgets

from ..errors import ParameterError
from ..plan import check_models
from ..price_data import table as price_table
from ..specs import endpoints, parse_model
from ..types import Options

__all__ = ["CONTROLS", "Controls", "Preset", "checked", "known_models", "wrap"]

#: The keyword arguments of ``panel()`` besides ``models``: the controls they preset.
CONTROLS = ("budget", "cache", "max_tokens", "prompt", "repeat", "stream", "system", "temperature")


def known_models() -> list[str]:
    """The specs the model picker lists: every priced model of a known provider."""
    prices, _, _ = price_table()
    providers = set(endpoints())
    specs = {f"{p.provider}:{name}" for name, p in prices.items() if p.provider in providers}
    return sorted(specs)


def _streams() -> bool:
    """Whether runs can stream (``Options`` has a ``stream`` field), read when asked."""
    return "stream" in {f.name for f in dataclasses.fields(Options)}


def _plain(value: float | int) -> str:
    """A number as a text box shows it: ``0.2``, ``200``, ``0.00001`` (never ``1e-05``)."""
    return format(Decimal(repr(value)), "f")


@dataclasses.dataclass(frozen=True)
class Preset:
    """What the arguments of :func:`orbit_nb.panel` put in the controls, checked."""

    models: tuple[str, ...]
    options: Options
    prompt: str
    stream: bool


def checked(models: str | Iterable[str] | None, defaults: Mapping[str, Any]) -> Preset:
    """The arguments of :func:`orbit_nb.panel` checked, or a ParameterError or SpecError
    naming the bad one."""
    for name in defaults:
        if name not in CONTROLS:
            raise ParameterError(_unknown(name))
    prompt, stream = defaults.get("prompt", ""), defaults.get("stream", True)
    if not isinstance(prompt, str):
        raise ParameterError(f"prompt={prompt!r} must be a str")
    if not isinstance(stream, bool):
        raise ParameterError(f"stream={stream!r} must be True or False")
    fields = {f.name for f in dataclasses.fields(Options)}
    options = Options(**{k: v for k, v in defaults.items() if k in fields and k != "stream"})
    specs = _parse(_listed(models))
    check_models([parse_model(s) for s in specs], options)
    return Preset(tuple(specs), options, prompt, stream)


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, ("models", *CONTROLS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"panel() has no control {name!r}{hint}; it takes models= and {', '.join(CONTROLS)}"


def _listed(models: str | Iterable[str] | None) -> list[str]:
    """``models`` as a list of spec strings (a str is comma-separated)."""
    if models is None:
        return []
    if isinstance(models, str):
        return [m.strip() for m in models.split(",") if m.strip()]
    if isinstance(models, Mapping) or not isinstance(models, Iterable):
        raise ParameterError(
            f"models={models!r} must be a list of 'provider:model' specs or one "
            "comma-separated string"
        )
    return list(models)


def _parse(specs: Sequence[str]) -> list[str]:
    """Each spec parsed (aliases and bare names resolved) once, in order."""
    out: dict[str, None] = {}
    for spec in specs:
        out.setdefault(parse_model(spec).spec)
    return list(out)


def _number(label: str, text: str, kind: type[int] | type[float]) -> Any:
    """The number typed in a text box (None when empty), or a ParameterError naming it."""
    text = text.strip().removeprefix("$").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ParameterError(f"{label} {text!r} is not {what}") from None


class Controls:
    """The panel's form: every control, preset from the arguments of :func:`orbit_nb.panel`.

    :meth:`read` turns what is in them into a run's prompt, models and options.
    """

    def __init__(self, preset: Preset) -> None:
        options = preset.options
        wide = widgets.Layout(width="100%")
        self.prompt = widgets.Textarea(preset.prompt, placeholder="Prompt", rows=4, layout=wide)
        self.system = widgets.Textarea(
            options.system or "", placeholder="System prompt (optional)", rows=2, layout=wide
        )
        self.models = _picker(preset.models)
        self.other_models = _text("Other models", None, "provider:model, …", width="24em")
        self.temperature = _text("Temperature", options.temperature, "default")
        self.max_tokens = _text("Max tokens", options.max_tokens, "default")
        self.repeat = widgets.IntText(
            options.repeat, description="Repeats", style=_LABEL, layout=_narrow()
        )
        self.budget = _text("Budget ($)", options.budget, "none")
        self.cache = widgets.Checkbox(
            options.cache, description="Use the cache", indent=False, layout=_auto()
        )
        self.stream = _stream_box(preset.stream)
        self.run = widgets.Button(description="Run", button_style="primary")
        self.cancel = widgets.Button(description="Cancel", disabled=True)

    def read(self) -> tuple[str, list[str], Options]:
        """The prompt, model specs and options in the controls; raises an
        :class:`~orbit_nb.errors.OrbitError` naming what is wrong."""
        prompt = self.prompt.value
        if not prompt.strip():
            raise ParameterError("the prompt is empty: type a prompt first")
        typed = [m.strip() for m in self.other_models.value.split(",") if m.strip()]
        specs = _parse([*self.models.value, *typed])
        if not specs:
            raise ParameterError(
                "no model chosen: pick one or more under Models, or type a spec "
                "such as openai:gpt-4o under Other models"
            )
        values: dict[str, Any] = {
            "system": self.system.value if self.system.value.strip() else None,
            "temperature": _number("temperature", self.temperature.value, float),
            "max_tokens": _number("max tokens", self.max_tokens.value, int),
            "repeat": self.repeat.value,
            "cache": self.cache.value,
            "budget": _number("budget", self.budget.value, float),
        }
        if self.stream.value and _streams():
            values["stream"] = True
        return prompt, specs, Options(**values)

    def layout(self) -> list[widgets.Widget]:
        """The controls, arranged: prompt, system prompt, models beside the settings."""
        checks = wrap([self.cache, self.stream])
        settings = widgets.VBox(
            [self.other_models, self.temperature, self.max_tokens, self.repeat, self.budget, checks]
        )
        return [self.prompt, self.system, wrap([self.models, settings])]


_LABEL = {"description_width": "initial"}  # labels are never cut short


def _picker(selected: Sequence[str]) -> widgets.SelectMultiple:
    """The known models, and any other preselected one, with ``selected`` selected."""
    listed = known_models()
    return widgets.SelectMultiple(
        options=listed + [m for m in selected if m not in listed],
        value=tuple(selected),
        rows=9,
        description="Models",
        style=_LABEL,
        layout=widgets.Layout(width="24em"),
    )


def _text(description: str, value: float | None, placeholder: str, width: str = "") -> widgets.Text:
    """A labelled text box holding ``value`` (empty for None)."""
    return widgets.Text(
        "" if value is None else _plain(value),
        placeholder=placeholder,
        description=description,
        style=_LABEL,
        layout=widgets.Layout(width=width) if width else _narrow(),
    )


def _stream_box(value: bool) -> widgets.Checkbox:
    """The Stream box: disabled, saying why, where runs cannot stream."""
    streams = _streams()
    return widgets.Checkbox(
        value,
        description="Stream",
        indent=False,
        disabled=not streams,
        tooltip=None if streams else "this version of orbit_nb does not stream yet",
        layout=_auto(),
    )


def _narrow() -> widgets.Layout:
    return widgets.Layout(width="16em")


def _auto() -> widgets.Layout:
    return widgets.Layout(width="auto")


def _row() -> widgets.Layout:
    return widgets.Layout(display="flex", flex_flow="row wrap", align_items="center")


def wrap(children: list[widgets.Widget]) -> widgets.Box:
    """``children`` in a row that wraps onto more lines when the page is narrow."""
    box = widgets.Box(children, layout=_row())
    box.add_class("orbit-nb-prow")
    return box
