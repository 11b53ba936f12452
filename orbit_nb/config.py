"""The one reader of the environment: ``ORBIT_*`` settings and provider keys and URLs.

Every variable orbit_nb reads is named once here, as a constant. Values are read
when a function is called, never remembered, so ``os.environ[...] = ...`` in a
notebook takes effect on the next run. An empty value counts as unset.

- ``ORBIT_CACHE_DIR``: where the cache and the history live (:func:`cache_dir`);
- ``ORBIT_CACHE_URL``: a ``redis://`` URL for a shared cache (:func:`cache_url`);
- ``ORBIT_CACHE_TTL``: cache entry lifetime in seconds (:func:`cache_ttl`);
- ``ORBIT_PRICES``: a user price file over the shipped one (:func:`prices_file`);
- ``ORBIT_UVLOOP``: ``0`` keeps the engine on asyncio's loop even where uvloop
  is installed (:func:`use_uvloop`; read when the engine starts);
- the built-in providers' API keys and base URLs, and the key variable of any
  endpoint registered with ``api_key_env=``: read through :func:`environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "CACHE_DIR",
    "CACHE_TTL",
    "CACHE_URL",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "PRICES",
    "UVLOOP",
    "cache_dir",
    "cache_ttl",
    "cache_url",
    "environ",
    "prices_file",
    "use_uvloop",
]

#: Directory of the cache and the history (default: the per-user cache dir).
CACHE_DIR = "ORBIT_CACHE_DIR"
#: ``redis://`` URL of a cache shared across kernels and machines.
CACHE_URL = "ORBIT_CACHE_URL"
#: Seconds a cache entry lives (unset, non-numeric or <= 0: forever).
CACHE_TTL = "ORBIT_CACHE_TTL"
#: Path of a user price file that overrides the shipped one.
PRICES = "ORBIT_PRICES"
#: ``0`` (or ``false``, ``no``, ``off``): the engine does not use uvloop.
UVLOOP = "ORBIT_UVLOOP"

# The built-in providers' keys and base URLs (``specs`` says which is whose).
ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY"
ANTHROPIC_BASE_URL = "ANTHROPIC_BASE_URL"
GEMINI_API_KEY = "GEMINI_API_KEY"
GEMINI_BASE_URL = "GEMINI_BASE_URL"
GOOGLE_API_KEY = "GOOGLE_API_KEY"
GOOGLE_GEMINI_BASE_URL = "GOOGLE_GEMINI_BASE_URL"
OPENAI_API_KEY = "OPENAI_API_KEY"
OPENAI_BASE_URL = "OPENAI_BASE_URL"


def environ() -> Mapping[str, str]:
    """The live process environment, for resolving provider keys and base URLs.

    It is ``os.environ`` itself, not a copy: a key set after this call is seen
    by the next lookup.
    """
    return os.environ


def _get(name: str) -> str | None:
    return os.environ.get(name) or None


def cache_dir() -> str | None:
    """``ORBIT_CACHE_DIR`` as set (``~`` not expanded), or None."""
    return _get(CACHE_DIR)


def cache_url() -> str | None:
    """``ORBIT_CACHE_URL`` (a ``redis://`` URL, password included), or None."""
    return _get(CACHE_URL)


def cache_ttl() -> float | None:
    """Cache entry lifetime in seconds from ``ORBIT_CACHE_TTL``, or None (keep forever).

    A value that is not a number, or is not positive, means forever too.
    """
    value = _get(CACHE_TTL)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def prices_file() -> str | None:
    """``ORBIT_PRICES``: the path of the user price file, or None."""
    return _get(PRICES)


def use_uvloop() -> bool:
    """Whether the engine may run on uvloop (where installed): unless ``ORBIT_UVLOOP``
    is ``0``, ``false``, ``no`` or ``off``."""
    value = (_get(UVLOOP) or "").strip().lower()
    return value not in ("0", "false", "no", "off")
