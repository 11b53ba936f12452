"""Provider adapters, loaded by kind on first use.

Importing an adapter imports its SDK, which costs seconds; :func:`load` is
called from a worker thread when a run first needs a kind (``estimate()`` calls
it in the caller's thread), never on the engine loop and never at
``import orbit_nb``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..specs import Target
    from .base import Provider

__all__ = ["build", "load"]

_ADAPTERS = {
    "anthropic": ("orbit_nb.providers.anthropic", "AnthropicProvider"),
    "gemini": ("orbit_nb.providers.gemini", "GeminiProvider"),
    "openai": ("orbit_nb.providers.openai", "OpenAIProvider"),
}


def load(kind: str) -> type[Provider]:
    """The adapter class for a kind of endpoint ("anthropic", "openai", "gemini")."""
    module, name = _ADAPTERS[kind]
    cls: type[Provider] = getattr(importlib.import_module(module), name)
    return cls


def build(target: Target, concurrency: int) -> Provider:
    """A new adapter for ``target`` whose HTTP pool fits ``concurrency`` calls."""
    return load(target.kind)(target, concurrency)  # type: ignore[call-arg]
