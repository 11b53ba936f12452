"""orbit_nb: send one prompt to many LLM providers at once, get a DataFrame back.

Example::

    import orbit_nb
    df = orbit_nb.compare("Explain TCP in one line.",
                          ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini",
                           "gemini:gemini-2.5-flash"])
    orbit_nb.summary(df)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import acompare, compare, jobs
from .engine import Job
from .specs import register_endpoint

if TYPE_CHECKING:
    from .frame import summary

__all__ = ["Job", "acompare", "compare", "jobs", "register_endpoint", "summary"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # pandas is imported on first use, so `import orbit_nb` stays fast.
    if name == "summary":
        from .frame import summary

        return summary
    raise AttributeError(f"module 'orbit_nb' has no attribute {name!r}")
