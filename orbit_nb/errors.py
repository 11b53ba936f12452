"""The exceptions orbit_nb raises at its API boundary.

Inside a run, a failed call is never an exception: it becomes a row with
``status="error"`` and an ``error_type``. Exceptions are raised only for
mistakes found before any request is sent::

    OrbitError                 base of everything below
    ├── SpecError              a model spec that cannot be parsed or resolved (also ValueError)
    ├── ParameterError         a bad prompt or parameter value (also ValueError)
    ├── ConfigError            the environment lacks what a provider needs, e.g. an API key
    ├── BudgetError            a run's estimated cost exceeds its budget= (or has no price)
    └── EngineError            the engine was used in a way that cannot work, e.g. a
                               blocking call made from the engine's own thread

Every message names the bad value and what would be accepted.
"""

from __future__ import annotations

__all__ = [
    "BudgetError",
    "ConfigError",
    "EngineError",
    "OrbitError",
    "ParameterError",
    "SpecError",
]


class OrbitError(Exception):
    """Base class of every exception orbit_nb raises."""


class SpecError(OrbitError, ValueError):
    """A model spec is malformed, or names an unknown provider or endpoint."""


class ParameterError(OrbitError, ValueError):
    """A prompt or parameter (temperature, max_tokens, repeat, ...) is invalid."""


class ConfigError(OrbitError):
    """The environment is missing something a provider needs (API key, base URL)."""


class EngineError(OrbitError, RuntimeError):
    """The engine cannot do what was asked, e.g. block on itself."""


class BudgetError(OrbitError):
    """A run's estimated cost exceeds its ``budget=``, or cannot be bounded."""
