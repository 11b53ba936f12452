"""What orbit knows about each kind of API, without importing its SDK.

Plans check options against these facts before anything is sent (importing an
adapter costs seconds; these are plain values). Adapters and the estimate read
them from here too, so each fact is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Facts", "facts", "facts_of_kind"]


@dataclass(frozen=True, slots=True)
class Facts:
    """One kind of API ("anthropic", "openai", "gemini")."""

    kind: str
    #: The temperatures the API accepts, inclusive.
    temperature_range: tuple[float, float]
    #: ``max_tokens`` orbit sends when the user gives none, where the API requires
    #: one (Anthropic's Messages API); ``None``: the API applies its own limit.
    default_max_tokens: int | None
    #: Whether the API has a free endpoint that counts a prompt's input tokens.
    counts_tokens: bool
    #: Whether the API's model endpoint reports a model's maximum output
    #: (Gemini ``models.get`` ``outputTokenLimit``, Anthropic's Models API
    #: ``max_tokens``); OpenAI's Models API does not.
    lists_output_limit: bool
    #: ``max_tokens`` a run with a ``budget`` sends when the user gives none and
    #: the model's maximum output is not known: no more than every current model
    #: of the API accepts. ``None`` where orbit always sends ``default_max_tokens``.
    fallback_max_tokens: int | None


_FACTS = {
    "anthropic": Facts(
        "anthropic",
        (0.0, 1.0),
        1024,
        counts_tokens=True,
        lists_output_limit=True,
        fallback_max_tokens=None,
    ),
    "gemini": Facts(
        "gemini",
        (0.0, 2.0),
        None,
        counts_tokens=True,
        lists_output_limit=True,
        fallback_max_tokens=8192,
    ),
    "openai": Facts(
        "openai",
        (0.0, 2.0),
        None,
        counts_tokens=True,
        lists_output_limit=False,
        fallback_max_tokens=4096,
    ),
}


def facts_of_kind(kind: str) -> Facts:
    """The facts of one kind of API."""
    return _FACTS[kind]


def facts(provider: str) -> Facts:
    """The facts of the API a provider name (built-in or registered) speaks."""
    from ..specs import endpoints

    return _FACTS[endpoints()[provider].kind]
