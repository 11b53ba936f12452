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


_FACTS = {
    "anthropic": Facts("anthropic", (0.0, 1.0), 1024, counts_tokens=True),
    "gemini": Facts("gemini", (0.0, 2.0), None, counts_tokens=True),
    "openai": Facts("openai", (0.0, 2.0), None, counts_tokens=False),
}


def facts_of_kind(kind: str) -> Facts:
    """The facts of one kind of API."""
    return _FACTS[kind]


def facts(provider: str) -> Facts:
    """The facts of the API a provider name (built-in or registered) speaks."""
    from ..specs import endpoints

    return _FACTS[endpoints()[provider].kind]
